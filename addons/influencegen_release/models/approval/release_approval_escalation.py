from odoo import api, fields, models
from odoo.exceptions import UserError

from ...engine.approval.policy import APPROVE
from ...engine.vocabulary import ROLE_GROUP


class ReleaseApproval(models.Model):
    """Escalation acts: after the deadline, a member of the policy's ``escalate_to`` group may
    decide in place of the overdue approvers, with a reason (``release.approval.override``).
    The override decides the request; segregation of duties still applies to the decider."""

    _inherit = "release.approval"  # pylint: disable=consider-merging-classes-inherited

    override_ids = fields.One2many("release.approval.override", "approval_id", string="Escalation decisions", readonly=True)
    can_escalate = fields.Boolean(compute="_compute_can_escalate", help="The current user may decide as the escalation now.")

    @api.depends("vote_ids.decision", "void_reason", "override_ids")
    def _compute_state(self):
        result = super()._compute_state()
        for approval in self.filtered(lambda a: a.override_ids and not a.void_reason):
            override = approval.override_ids.sorted("id")[-1]
            approval.state = "approved" if override.decision == APPROVE else "rejected"
            approval.decided_by_id = override.user_id
            approval.decided_at = override.create_date
            approval.comment = override.reason
        return result

    @api.depends_context("uid")
    @api.depends("state", "deadline")
    def _compute_can_escalate(self):
        Override = self.env["release.approval.override"]
        for approval in self:
            approval.can_escalate = bool(approval.id) and not Override._refusal(approval, self.env.user)

    # -- actions ----------------------------------------------------------------------------
    def action_decide_as_escalation(self):
        """The dialog where an escalation member approves or rejects, with the required reason."""
        self.ensure_one()
        refusal = self.env["release.approval.override"]._refusal(self, self.env.user)
        if refusal:
            raise refusal[0](refusal[1])
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Decide as escalation"),
            "res_model": "release.approval.escalate",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_approval_id": self.id},
        }

    @api.model
    def api_decide_as_escalation(self, approval_id, decision, reason):
        """Decide request ``approval_id`` as its escalation (after the deadline), with ``reason``."""
        approval = self.browse(int(approval_id)).exists()
        if not approval:
            raise UserError(self.env._("There is no approval request %(id)s.", id=approval_id))
        approval.check_access("read")
        approval._decide_as_escalation(decision, reason)
        return dict(approval._status(), overrides=approval.override_ids._status())

    # -- helpers ----------------------------------------------------------------------------
    def _decide_as_escalation(self, decision, reason):
        self.ensure_one()
        return self.env["release.approval.override"].create({"approval_id": self.id, "decision": decision, "reason": reason or ""})

    def _escalation_group(self):
        self.ensure_one()
        return self.env.ref(ROLE_GROUP % self._policy().get("escalate_to", "release_manager"))
