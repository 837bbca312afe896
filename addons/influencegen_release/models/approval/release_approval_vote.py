from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ...engine.approval.policy import APPROVE, DECISIONS, assign_role
from ...engine.vocabulary import ROLE_GROUP


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
        """Every path (button, api_decide, a raw RPC create) passes the request's rules: the
        voter is the current user, and role, checksum and evidence are filled in here."""
        Approval = self.env["release.approval"]
        votes = self.browse()
        for vals in vals_list:
            if vals.get("user_id", self.env.uid) != self.env.uid:
                raise AccessError(self.env._("A decision is recorded in the name of the person who takes it."))
            approval = Approval.browse(vals.get("approval_id")).exists()
            if not approval:
                raise UserError(self.env._("A decision needs an existing approval request."))
            # Serialise deciders: the second of two simultaneous votes waits for the first and
            # is then retried by Odoo (serialization failure), so it counts against the new state.
            self.env.cr.execute(
                "UPDATE release_approval SET write_date = now() at time zone 'UTC' WHERE id = %s", [approval.id]
            )
            approval.invalidate_recordset()
            decision, comment = vals.get("decision"), vals.get("comment") or ""
            refusal = approval._refusal(self.env.user, decision, comment)
            if refusal:
                raise refusal[0](refusal[1])
            role = assign_role(approval._policy(), approval._votes(), self.env.uid, approval._user_roles(self.env.user), decision)
            vote = super().create(
                [
                    {
                        "approval_id": approval.id,
                        "user_id": self.env.uid,
                        "decision": decision,
                        "comment": comment,
                        "role": role,
                        "group_id": self.env.ref(ROLE_GROUP % role).id,
                        "artifact_sha256": approval.artifact_sha256,
                        "uat_session_id": approval._evidence().id if decision == APPROVE else False,
                    }
                ]
            )
            approval._record_vote(vote)
            votes |= vote
        return votes

    def write(self, vals):
        if self:
            raise UserError(self.env._("A decision is evidence: it cannot be changed."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("A decision is evidence: it cannot be deleted."))

    def _label(self):
        self.ensure_one()
        label = self.env._(
            "%(user)s (%(role)s): %(decision)s", user=self.user_id.name, role=self.group_id.name, decision=self.decision
        )
        return f"{label}. {self.comment}" if self.comment else label
