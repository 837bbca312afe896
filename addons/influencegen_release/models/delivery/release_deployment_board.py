import time

from odoo import SUPERUSER_ID, api, fields, models


class ReleaseDeployment(models.Model):
    """A deployment as a release manager reads it (the board, the history): the person behind
    it rather than OdooBot, whose scheduler carries out the deploys of runs, who approved it,
    and how long it took to the tenth of a second (datetimes keep whole seconds)."""

    _inherit = "release.deployment"

    requested_by_id = fields.Many2one(
        "res.users",
        string="Deployed by",
        compute="_compute_people",
        help="Who deployed by hand, else who triggered the run (its scheduler deploys as OdooBot), else who approved it.",
    )
    approved_by_ids = fields.Many2many(
        "res.users", string="Approved by", compute="_compute_people", help="Who approved the run's stage that deployed here."
    )
    started_ts = fields.Float(string="Started (epoch)", readonly=True, default=lambda self: time.time())

    @api.depends("deployed_by_id", "run_id.triggered_by_id", "run_id.approval_ids.state")
    def _compute_people(self):
        for deployment in self:
            approvals = deployment.run_id.approval_ids.filtered(
                lambda a, d=deployment: a.state == "approved" and a.environment_id == d.environment_id
            )
            approvers = approvals.vote_ids.filtered(lambda v: v.decision == "approve").user_id
            people = [deployment.deployed_by_id, deployment.run_id.triggered_by_id, approvals.decided_by_id[-1:]]
            deployment.requested_by_id = next((user for user in people if user and user.id != SUPERUSER_ID), False)
            deployment.approved_by_ids = approvers

    def _finish(self, outcome, **values):
        result = super()._finish(outcome, **values)
        for deployment in self.filtered("started_ts"):
            deployment.duration_s = round(time.time() - deployment.started_ts, 1)
        return result

    def _board_entry(self):
        entry = super()._board_entry()
        return dict(
            entry,
            sha=self.commit_sha or False,
            by=self.requested_by_id.name or False,
            approved_by=self.approved_by_ids.mapped("name"),
            duration_s=round(self.duration_s, 1) if self.outcome != "running" else False,
        )
