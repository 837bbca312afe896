from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

RELEASE_MANAGER = "influencegen_release.group_release_release_manager"


class ReleaseWindowOverride(models.Model):
    """Break glass: deploy a run outside its maintenance window (or during a freeze).

    One Release Manager asks with a reason, a second, different one confirms; until then
    nothing changes. The run records that it deployed under an override."""

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
