from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine.approvals import DECISIONS


class ReleaseApprovalVote(models.Model):
    """One person's decision on one approval request: evidence, never edited or deleted.

    Votes are only created through ``release.approval._decide``, which checks the approver's
    role, the policy's order, segregation of duties and the required comment or evidence."""

    _name = "release.approval.vote"
    _description = "Approval Decision"
    _order = "id"

    approval_id = fields.Many2one("release.approval", required=True, ondelete="restrict", index=True, readonly=True)
    run_id = fields.Many2one(related="approval_id.run_id", store=True)
    user_id = fields.Many2one("res.users", required=True, default=lambda self: self.env.user, readonly=True)
    role = fields.Char(required=True, readonly=True, help="The approval rule this decision counts for.")
    group_id = fields.Many2one("res.groups", string="As", readonly=True)
    decision = fields.Selection([(d, d.capitalize()) for d in DECISIONS], required=True, readonly=True)
    comment = fields.Text(readonly=True)
    artifact_sha256 = fields.Char(string="Artifact checksum", readonly=True, help="What the approver saw.")
    uat_session_id = fields.Many2one("release.uat.session", string="UAT evidence", readonly=True, ondelete="restrict")

    _sql_constraints = [("one_vote", "unique(approval_id, user_id)", "Each person decides once per request.")]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("user_id", self.env.uid) != self.env.uid and not self.env.su:
                raise AccessError(self.env._("A decision is recorded in the name of the person who takes it."))
        return super().create(vals_list)

    def write(self, vals):
        raise UserError(self.env._("A decision is evidence: it cannot be changed."))

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("A decision is evidence: it cannot be deleted."))

    def _label(self):
        self.ensure_one()
        label = self.env._(
            "%(user)s (%(role)s): %(decision)s", user=self.user_id.name, role=self.group_id.name, decision=self.decision
        )
        return f"{label}. {self.comment}" if self.comment else label
