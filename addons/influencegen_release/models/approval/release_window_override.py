from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ...engine.execution.stages import needs_window

RELEASE_MANAGER = "influencegen_release.group_release_release_manager"


class ReleaseWindowOverride(models.Model):
    """Break glass: deploy a run outside its maintenance window (or during a freeze).

    One Release Manager asks with a reason, a second, different one confirms; until then
    nothing changes. The run records that it deployed under an override. ``_held`` is the
    window check itself: which jobs of a run wait for the window now."""

    _name = "release.window.override"
    _description = "Maintenance Window Override (break glass)"
    _inherit = ["mail.thread"]
    _order = "id desc"

    run_id = fields.Many2one("release.run", required=True, ondelete="restrict", index=True, readonly=True)
    pipeline_id = fields.Many2one(related="run_id.pipeline_id", store=True)
    reason = fields.Text(required=True, readonly=True)
    requested_by_id = fields.Many2one("res.users", default=lambda self: self.env.user, readonly=True)
    confirmed_by_id = fields.Many2one("res.users", readonly=True, tracking=True)
    confirmed_at = fields.Datetime(readonly=True)
    state = fields.Selection(
        [("requested", "Awaiting a second Release Manager"), ("confirmed", "Confirmed")],
        required=True,
        default="requested",
        readonly=True,
        tracking=True,
    )

    def _compute_display_name(self):
        for override in self:
            override.display_name = self.env._("Break glass on %(run)s", run=override.run_id.display_name)

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                if not (vals.get("reason") or "").strip():
                    raise UserError(self.env._("Breaking glass needs a reason."))
                vals.update(requested_by_id=self.env.uid, state="requested", confirmed_by_id=False)
        overrides = super().create(vals_list)
        for override in overrides:
            override.run_id.message_post(
                body=self.env._(
                    "Break-glass override of the maintenance window requested by %(user)s: %(reason)s. "
                    "A second Release Manager must confirm it.",
                    user=override.requested_by_id.name,
                    reason=override.reason,
                )
            )
        return overrides

    def write(self, vals):
        if not self.env.su and set(vals) & {"state", "confirmed_by_id", "requested_by_id", "reason", "run_id"}:
            if set(vals) - {"state", "confirmed_by_id", "confirmed_at"} or vals.get("confirmed_by_id") != self.env.uid:
                raise AccessError(self.env._("An override is only ever confirmed, by a second Release Manager."))
            self._validate_confirm()
        return super().write(vals)

    def action_confirm(self):
        self._validate_confirm()
        for override in self:
            override.write({"state": "confirmed", "confirmed_by_id": self.env.uid, "confirmed_at": fields.Datetime.now()})
            override.run_id.message_post(
                body=self.env._(
                    "BREAK GLASS: %(second)s confirmed %(first)s's override of the maintenance window. Reason: %(reason)s",
                    second=self.env.user.name,
                    first=override.requested_by_id.name,
                    reason=override.reason,
                )
            )
            override.run_id._wake_scheduler()
        return True

    def _validate_confirm(self):
        for override in self:
            if not self.env.user.has_group(RELEASE_MANAGER):
                raise AccessError(self.env._("Only a Release Manager confirms a break-glass override."))
            if override.requested_by_id == self.env.user:
                raise AccessError(self.env._("A second Release Manager must confirm: you asked for this override."))
            if override.state != "requested":
                raise UserError(self.env._("This override is already confirmed."))

    @api.model
    def _action_request(self, run):
        """The form a Release Manager asks for an override of ``run`` with."""
        if not self.env.user.has_group(RELEASE_MANAGER):
            raise AccessError(self.env._("Only a Release Manager may break glass."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Break glass"),
            "res_model": "release.window.override",
            "view_mode": "form",
            "target": "new",
            "context": {"default_run_id": run.id},
        }

    @api.model
    def _held(self, run, stage, jobs, now):
        """The ``jobs`` (ready to start in ``stage`` of the run's snapshot) that must wait for
        their environment's maintenance window: none while it is open or under a confirmed
        break glass. Notes on the run when it starts waiting, and when it deploys after it."""
        held = jobs.filtered(lambda j: needs_window(stage, run._spec_task(j.task_key), j.mode))
        if held:
            environment = held.environment_id[:1]
            is_open, when, why = environment._window_state(now) if environment else (True, None, "")
            if is_open or run.break_glass:
                held = held.browse()
            elif run.state != "waiting_window":
                run.write({"window_opens_at": when, "window_reason": why})
                run.message_post(
                    body=self.env._(
                        "%(stage)s waits for the maintenance window of %(env)s (%(why)s); it opens %(when)s.",
                        stage=stage["name"],
                        env=stage["environment"],
                        why=why,
                        when=fields.Datetime.to_string(when) + " UTC" if when else self.env._("never in sight"),
                    )
                )
        if jobs and not held and run.state == "waiting_window":
            how = self.env._("under break glass") if run.break_glass else self.env._("inside the maintenance window")
            run.message_post(body=self.env._("Deploying %(stage)s %(how)s.", stage=stage["name"], how=how))
            run.write({"window_opens_at": False, "window_reason": False})
        return held
