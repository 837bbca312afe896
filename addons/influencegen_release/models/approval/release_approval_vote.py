from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ...engine.approval.policy import APPROVE, DECISIONS, REJECT, PolicyError, assign_role
from ...engine.vocabulary import ROLE_GROUP
from .release_approval import APPROVAL_STATES


class ReleaseApprovalVote(models.Model):
    """One person's decision on one approval request: evidence, never edited or deleted.

    Every vote passes ``_refusal`` first: the approver's role, the policy's order,
    segregation of duties and the required comment or evidence."""

    _name = "release.approval.vote"
    _inherit = ["release.evidence.mixin"]
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
            refusal = self._refusal(approval, self.env.user, decision, comment)
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
                        "uat_session_id": self._evidence(approval).id if decision == APPROVE else False,
                    }
                ]
            )
            vote._record()
            votes |= vote
        return votes

    def _evidence_label(self):
        return self.env._("A decision")

    @api.model
    def _refusal(self, approval, user, decision, comment=None):
        """``(exception class, message)`` when ``user`` may not cast ``decision`` on request
        ``approval`` now, else None: access errors for who the user is, user errors for what
        the request needs. Without ``comment``, the comment and the evidence are not judged."""
        if approval.state != "pending" or not approval.policy_json:
            return UserError, self.env._("This request is %(state)s: it takes no more decisions.", state=approval.state)
        if approval.blocked_reason:
            return UserError, self.env._(
                "Nobody can decide on %(request)s yet: its deploy plan cannot be computed (%(why)s). "
                "The Release Managers were asked to fix it.",
                request=approval.display_name,
                why=approval.blocked_reason,
            )
        if decision not in DECISIONS:
            return UserError, self.env._("The decision must be 'approve' or 'reject', got %(d)r.", d=decision)
        if user in approval.excluded_user_ids:
            return AccessError, self.env._(
                "Segregation of duties: %(user)s may not decide on this change (%(why)s).",
                user=user.name,
                why=approval.exclusion_note,
            )
        try:
            assign_role(approval._policy(), approval._votes(), user.id, approval._user_roles(user), decision)
        except PolicyError as exc:
            error = AccessError if "not among the approvers" in str(exc) else UserError
            return error, self.env._("You cannot decide on %(request)s: %(why)s.", request=approval.display_name, why=exc)
        if comment is None:
            return None
        if not comment.strip() and (decision == REJECT or approval._policy().get("comment_required")):
            return UserError, self.env._("A comment is required to %(decision)s this request.", decision=decision)
        if decision == APPROVE and approval.evidence_required and not self._evidence(approval):
            return UserError, self.env._(
                "Sign-off needs UAT evidence: record a UAT session of run %(run)s with every scenario passed first.",
                run=approval.run_id.display_name,
            )
        return None

    @api.model
    def _evidence(self, approval):
        """The UAT session a sign-off of ``approval`` links to: the run's latest passed one."""
        sessions = approval.run_id.uat_session_ids.filtered(lambda s: s.state == "submitted" and s.result == "passed")
        return sessions.sorted("id")[-1:]

    def _record(self):
        """After this vote: close the voter's activity, log the vote on its request, and
        settle the request once decided. Asking the next approvers is the scheduler's job."""
        self.ensure_one()
        approval = self.approval_id
        approval._close_activities(approval.activity_ids.filtered(lambda a: a.user_id == self.user_id), self._label())
        approval.message_post(body=self._label(), message_type="comment", subtype_xmlid="mail.mt_note")
        if approval.state != "pending":
            outcome = dict(APPROVAL_STATES)[approval.state].lower()
            approval._close_activities(approval.activity_ids, self.env._("Request %(outcome)s.", outcome=outcome))
            approval.run_id.message_post(
                body=self.env._(
                    "%(stage)s %(outcome)s by %(who)s.",
                    stage=approval.stage_id.name,
                    outcome=outcome,
                    who=", ".join(approval.vote_ids.mapped("user_id.name")),
                )
            )
        approval.run_id._wake_scheduler()

    def _status(self):
        """These votes as the status of their request lists them."""
        return [{"user": v.user_id.login, "role": v.role, "decision": v.decision, "comment": v.comment or ""} for v in self]

    def _label(self):
        self.ensure_one()
        label = self.env._(
            "%(user)s (%(role)s): %(decision)s",
            user=self.user_id.name,
            role=self.group_id.name,
            decision=dict(self._fields["decision"]._description_selection(self.env))[self.decision],
        )
        return f"{label}. {self.comment}" if self.comment else label
