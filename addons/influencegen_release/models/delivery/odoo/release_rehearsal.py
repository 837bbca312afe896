from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ....engine.delivery.odoo.rehearsal import DONE, rehearsal_report, start_rehearsal
from ....engine.delivery.odoo.target import TargetError
from ....engine.vocabulary import ROLE_GROUP

REHEARSAL_CRON = "influencegen_release.ir_cron_release_rehearsal"
POLL_S = 2  # seconds between two reads of a running rehearsal's report
TIMEOUT_S = 3600  # a rehearsal without a report for this long failed (its process died)
STATES = [("queued", "Queued"), ("running", "Running"), ("passed", "Passed"), ("failed", "Failed")]


class ReleaseRehearsal(models.Model):
    """The planned upgrade of a production Odoo environment, rehearsed by the target on a
    neutralized copy of its database before the Go/No-Go (``engine/delivery/odoo/rehearsal.py``):
    modules installed and upgraded, duration, warnings and errors of the log, database size.

    Requested with the approval; run by a cron job of its own, never in the scheduler's tick
    nor in a request. A failed rehearsal blocks the approval until a Release Manager overrides
    it with a reason."""

    _name = "release.rehearsal"
    _description = "Upgrade Rehearsal (neutralized copy of production)"
    _inherit = ["mail.thread"]
    _order = "id desc"

    approval_id = fields.Many2one("release.approval", required=True, ondelete="restrict", index=True, readonly=True)
    run_id = fields.Many2one(related="approval_id.run_id", store=True)
    environment_id = fields.Many2one("release.environment", required=True, ondelete="restrict", readonly=True)
    artifact_id = fields.Many2one("release.artifact", required=True, ondelete="restrict", readonly=True)
    version = fields.Char(related="artifact_id.version")
    state = fields.Selection(STATES, required=True, default="queued", readonly=True, tracking=True)
    receipt = fields.Integer(readonly=True, help="The planned receipt on the target whose plan was rehearsed.")
    plan_digest = fields.Char(readonly=True)
    modules_installed = fields.Char(readonly=True)
    modules_upgraded = fields.Char(readonly=True)
    duration_s = fields.Float(string="Duration (s)", readonly=True, help="Copy, neutralize, upgrade and drop.")
    upgrade_s = fields.Float(string="Upgrade (s)", readonly=True, help="The upgrade alone: what the deploy's window needs for it.")
    database_mb = fields.Float(string="Database size (MB)", readonly=True, digits=(16, 1), help="The rehearsal database after the upgrade (the copy's size when the upgrade failed).")
    copied_from = fields.Char(readonly=True, help="The backup database the rehearsal database was copied from, or production read by pg_dump (never copied itself).")
    warnings = fields.Text(readonly=True)
    errors = fields.Text(readonly=True)
    error = fields.Text(readonly=True)
    dropped = fields.Boolean(string="Rehearsal database dropped", readonly=True)
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    override_by_id = fields.Many2one("res.users", string="Overridden by", readonly=True)
    override_reason = fields.Text(readonly=True)
    override_at = fields.Datetime(readonly=True)
    blocks = fields.Boolean(compute="_compute_blocks", help="Failed and not overridden: the approval cannot be given.")

    @api.depends("state", "override_by_id")
    def _compute_blocks(self):
        for rehearsal in self:
            rehearsal.blocks = rehearsal.state == "failed" and not rehearsal.override_by_id

    def action_override(self):
        self.ensure_one()
        self._check_override()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Override the failed rehearsal"),
            "res_model": "release.rehearsal.override",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_rehearsal_id": self.id},
        }

    @api.model
    def _cron_rehearse(self):
        """Start the queued rehearsals and read the running ones' reports, each in its own
        transaction; short steps (the target works in its own process), so no worker waits.
        While one runs, the cron comes back in POLL_S seconds."""
        for rehearsal_id in self.search([("state", "in", ("queued", "running"))]).ids:
            with self.env.registry.cursor() as cr:
                cr.execute("SELECT id FROM release_rehearsal WHERE id = %s FOR UPDATE SKIP LOCKED", [rehearsal_id])
                if cr.fetchone():
                    self.with_env(self.env(cr=cr)).browse(rehearsal_id)._step()
        if self.search_count([("state", "in", ("queued", "running"))], limit=1):
            self.env.ref(REHEARSAL_CRON).sudo()._trigger(fields.Datetime.now() + timedelta(seconds=POLL_S))

    # -- requests, reports, overrides -------------------------------------------------------
    @api.model
    def _request(self, approval):
        """Queue a rehearsal for ``approval`` when its stage deploys to a production Odoo environment."""
        environment = approval.environment_id
        if not environment or environment.kind != "odoo" or environment.tier != "production":
            return self.browse()
        artifact = approval.run_id.artifact_ids.filtered(lambda a: a.kind == "odoo_modules").sorted("id")[-1:]
        if not artifact:
            return self.browse()
        rehearsal = self.create({"approval_id": approval.id, "environment_id": environment.id, "artifact_id": artifact.id})
        approval.message_post(body=self.env._("Upgrade rehearsal of %(version)s on a neutralized copy of %(env)s queued.", version=artifact.version, env=environment.code))
        self.env.ref(REHEARSAL_CRON).sudo()._trigger()
        return rehearsal

    def _step(self):
        """Queued: plan on the target and start the rehearsal there. Running: read its report."""
        self.ensure_one()
        artifact = self.artifact_id
        try:
            target = self.env["release.deployer.odoo"]._target(self.environment_id)
            if self.state == "queued":
                planned = start_rehearsal(target, artifact._local_path(), artifact.sha256, artifact._manifest())
                self.write({"state": "running", "started_at": fields.Datetime.now(), "receipt": planned["receipt"], "plan_digest": planned["plan_digest"]})
                return
            report = rehearsal_report(target, self.receipt)
        except (TargetError, ValueError) as exc:
            self._report({"state": "failed", "error": str(exc)})
            return
        if report.get("state") in DONE:
            self._report(report)
        elif self.started_at and fields.Datetime.now() - self.started_at > timedelta(seconds=TIMEOUT_S):
            self._report({"state": "failed", "error": self.env._("no report within %(s)s s", s=TIMEOUT_S)})

    def _report(self, report):
        self.ensure_one()
        state = "passed" if report.get("state") == "passed" else "failed"
        size = report.get("size_bytes")
        self.write(
            {
                "state": state,
                "modules_installed": ", ".join(report.get("install") or []) or False,
                "modules_upgraded": ", ".join(report.get("upgrade") or []) or False,
                "duration_s": report.get("duration_s") or 0.0,
                "upgrade_s": report.get("upgrade_s") or 0.0,
                "database_mb": round(size / 1024 / 1024, 1) if size else 0.0,
                "copied_from": report.get("copied_from") or False,
                "warnings": "\n".join(report.get("warnings") or []) or False,
                "errors": "\n".join(report.get("errors") or []) or False,
                "error": report.get("error") or False,
                "dropped": bool(report.get("dropped")),
                "finished_at": fields.Datetime.now(),
            }
        )
        if state == "passed":
            body = self.env._(
                "Upgrade rehearsal passed on a neutralized copy of %(env)s: upgrade %(upgrade).1f s (total %(total).1f s), database %(size).1f MB, %(warnings)s warning(s).",
                env=self.environment_id.code, upgrade=self.upgrade_s, total=self.duration_s, size=self.database_mb, warnings=len(report.get("warnings") or []),
            )  # fmt: skip
        else:
            body = self.env._(
                "Upgrade rehearsal FAILED on a neutralized copy of %(env)s: %(error)s. The approval is blocked until a Release Manager overrides it.",
                env=self.environment_id.code, error=self.error or "-",
            )  # fmt: skip
        self.message_post(body=body)
        self.approval_id.message_post(body=body)

    def _override(self, reason):
        """A Release Manager lets the approval go on despite the failed rehearsal, saying why."""
        self.ensure_one()
        self._check_override()
        if not (reason or "").strip():
            raise UserError(self.env._("A reason is required to override a failed rehearsal."))
        self.write({"override_by_id": self.env.uid, "override_reason": reason.strip(), "override_at": fields.Datetime.now()})
        body = self.env._(
            "Failed rehearsal overridden by %(user)s (Release Manager). Reason: %(reason)s", user=self.env.user.name, reason=reason.strip()
        )
        self.message_post(body=body)
        self.approval_id.message_post(body=body)
        self.approval_id.run_id.message_post(body=body)

    def _check_override(self):
        if not self.env.user.has_group(ROLE_GROUP % "release_manager"):
            raise AccessError(self.env._("Only a Release Manager overrides a failed rehearsal."))
        if self.state != "failed" or self.override_by_id:
            raise UserError(self.env._("Only a failed rehearsal that nobody overrode yet can be overridden."))
