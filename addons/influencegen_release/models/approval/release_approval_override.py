from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ...engine.approval.policy import APPROVE, DECISIONS


class ReleaseApprovalOverride(models.Model):
    """A decision taken by a member of the escalation group in place of the approvers who let
    the deadline pass: who, for which roles, why. Evidence like a vote: never edited or deleted.

    Every path (the dialog, ``api_decide_as_escalation``, a raw RPC create) passes ``_refusal``:
    only after the deadline, only members of the policy's ``escalate_to`` group, never a person
    excluded by segregation of duties, never without a reason."""

    _name = "release.approval.override"
    _inherit = ["release.evidence.mixin"]
    _description = "Escalation Decision (in place of overdue approvers)"
    _order = "id"

    approval_id = fields.Many2one("release.approval", required=True, ondelete="restrict", index=True, readonly=True)
    run_id = fields.Many2one(related="approval_id.run_id", store=True)
    user_id = fields.Many2one("res.users", required=True, default=lambda self: self.env.user, readonly=True)
    group_id = fields.Many2one("res.groups", string="As", readonly=True, help="The escalation group the decider belongs to.")
    roles = fields.Char(string="In place of", readonly=True, help="The approvals still awaited when the escalation decided.")
    decision = fields.Selection([(d, d.capitalize()) for d in DECISIONS], required=True, readonly=True)
    reason = fields.Text(required=True, readonly=True)
    artifact_sha256 = fields.Char(string="Artifact checksum", readonly=True, help="What the decider saw.")

    @api.model_create_multi
    def create(self, vals_list):
        Approval = self.env["release.approval"]
        overrides = self.browse()
        for vals in vals_list:
            if vals.get("user_id", self.env.uid) != self.env.uid:
                raise AccessError(self.env._("A decision is recorded in the name of the person who takes it."))
            approval = Approval.browse(vals.get("approval_id")).exists()
            if not approval:
                raise UserError(self.env._("A decision needs an existing approval request."))
            # Serialise with the votes: a vote and an override at once count against one state.
            self.env.cr.execute("UPDATE release_approval SET write_date = now() at time zone 'UTC' WHERE id = %s", [approval.id])
            approval.invalidate_recordset()
            refusal = self._refusal(approval, self.env.user, vals.get("decision"), vals.get("reason") or "")
            if refusal:
                raise refusal[0](refusal[1])
            override = super().create(
                [
                    {
                        "approval_id": approval.id,
                        "user_id": self.env.uid,
                        "group_id": approval._escalation_group().id,
                        "roles": approval.awaiting,
                        "decision": vals["decision"],
                        "reason": vals["reason"].strip(),
                        "artifact_sha256": approval.artifact_sha256,
                    }
                ]
            )
            override._record()
            overrides |= override
        return overrides

    def _evidence_label(self):
        return self.env._("An escalation decision")

    @api.model
    def _refusal(self, approval, user, decision=APPROVE, reason=None, now=None):
        """``(exception class, message)`` when ``user`` may not decide ``approval`` as its
        escalation now, else None. Without ``reason`` the reason is not judged."""
        now = now or fields.Datetime.now()
        if approval.state != "pending" or not approval.policy_json:
            return UserError, self.env._("This request is %(state)s: it takes no more decisions.", state=approval.state)
        if decision not in DECISIONS:
            return UserError, self.env._("The decision must be 'approve' or 'reject', got %(d)r.", d=decision)
        group = approval._escalation_group()
        if user not in group.users:
            return AccessError, self.env._(
                "Only members of %(group)s decide on %(request)s as its escalation.", group=group.name, request=approval.display_name
            )
        if user in approval.excluded_user_ids:
            return AccessError, self.env._(
                "Segregation of duties: %(user)s may not decide on this change (%(why)s).", user=user.name, why=approval.exclusion_note
            )
        if not approval.deadline or now < approval.deadline:
            return UserError, self.env._(
                "The escalation decides only after the deadline (%(deadline)s UTC): the approvers still have time.",
                deadline=fields.Datetime.to_string(approval.deadline) if approval.deadline else "-",
            )
        blocked = approval._rehearsal_refusal() if decision == APPROVE else None
        if blocked:
            return UserError, blocked
        if reason is not None and not reason.strip():
            return UserError, self.env._("A reason is required to decide in place of the approvers (%(awaiting)s).", awaiting=approval.awaiting)
        return None

    def _record(self):
        """Close the request's open activities, say in its chatter and the run's who decided for
        which roles and why, and wake the scheduler to act on the outcome."""
        self.ensure_one()
        approval = self.approval_id
        label = self.env._(
            "Escalation override: %(user)s (%(group)s) %(decision)s in place of the overdue approvers (%(roles)s). Reason: %(reason)s",
            user=self.user_id.name,
            group=self.group_id.name,
            decision=self.env._("approved") if self.decision == APPROVE else self.env._("rejected"),
            roles=self.roles or "-",
            reason=self.reason,
        )
        approval._close_activities(approval.activity_ids, label)
        approval.message_post(body=label, message_type="comment", subtype_xmlid="mail.mt_note")
        approval.run_id.message_post(body=label)
        approval.run_id._wake_scheduler()

    def _status(self):
        return [{"user": o.user_id.login, "roles": o.roles or "", "decision": o.decision, "reason": o.reason} for o in self]

