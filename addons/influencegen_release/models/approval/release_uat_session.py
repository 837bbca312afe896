from odoo import api, fields, models
from odoo.exceptions import UserError

from ...engine.execution.stages import stage_state

RESULTS = [("passed", "Passed"), ("failed", "Failed"), ("incomplete", "Incomplete")]


class ReleaseUatSession(models.Model):
    """Test evidence a tester records on a deployment before signing off (REQ-TEST-UAT).

    Scenarios carry pass/fail and notes; files are attached in the chatter. Once submitted,
    the session is frozen: a sign-off links to it."""

    _name = "release.uat.session"
    _description = "UAT Session (test evidence)"
    _inherit = ["mail.thread", "release.evidence.mixin"]
    _evidence_writable = frozenset({"message_main_attachment_id"})  # files attached in the chatter
    _order = "id desc"

    run_id = fields.Many2one("release.run", required=True, ondelete="restrict", index=True, tracking=True)
    pipeline_id = fields.Many2one(related="run_id.pipeline_id", store=True, index=True)
    environment_id = fields.Many2one(
        "release.environment", string="Tested on", tracking=True, help="The deployment the scenarios were run against."
    )
    tester_id = fields.Many2one("res.users", required=True, default=lambda self: self.env.user, readonly=True)
    state = fields.Selection(
        [("draft", "In progress"), ("submitted", "Submitted")], required=True, default="draft", tracking=True
    )
    result = fields.Selection(RESULTS, compute="_compute_result", store=True, tracking=True)
    scenario_ids = fields.One2many("release.uat.scenario", "session_id", string="Scenarios", copy=True)
    notes = fields.Text()
    submitted_at = fields.Datetime(readonly=True)

    @api.depends("scenario_ids.result")
    def _compute_result(self):
        for session in self:
            results = set(session.scenario_ids.mapped("result"))
            if not results or results & {"todo", "blocked"}:
                session.result = "failed" if "fail" in results else "incomplete"
            else:
                session.result = "failed" if "fail" in results else "passed"

    def _compute_display_name(self):
        for session in self:
            session.display_name = self.env._(
                "UAT of %(run)s by %(tester)s", run=session.run_id.display_name, tester=session.tester_id.name
            )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("run_id") and "environment_id" not in vals:
                vals["environment_id"] = self._deployed_environment(self.env["release.run"].browse(vals["run_id"])).id
        return super().create(vals_list)

    def action_submit(self):
        for session in self:
            if not session.scenario_ids:
                raise UserError(self.env._("Record at least one scenario before submitting the session."))
            if session.scenario_ids.filtered(lambda s: s.result == "todo"):
                raise UserError(self.env._("Every scenario needs a result before the session is submitted."))
            session.write({"state": "submitted", "submitted_at": fields.Datetime.now()})
            session.run_id.message_post(
                body=self.env._(
                    "UAT evidence submitted by %(tester)s: %(result)s (%(count)s scenarios).",
                    tester=session.tester_id.name,
                    result=session.result,
                    count=len(session.scenario_ids),
                )
            )
        if self.env.context.get("igr_close_on_submit"):  # opened from an approval card: back to it
            return {"type": "ir.actions.act_window_close"}
        return True

    def _evidence_label(self):
        return self.env._("A submitted UAT session")

    def _evidence_sealed(self):
        return self.filtered(lambda session: session.state == "submitted")

    @api.model
    def _deployed_environment(self, run):
        """The environment of the last stage of ``run`` that deployed successfully: what testers test."""
        for stage in reversed(run._spec().get("stages", [])):
            jobs = run._stage_jobs(stage)
            if stage.get("environment") and jobs and stage_state(jobs) == "succeeded":
                return jobs.environment_id[:1]
        return self.env["release.environment"]
