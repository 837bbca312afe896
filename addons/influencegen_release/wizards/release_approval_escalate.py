from odoo import fields, models

from ..engine.approval.policy import DECISIONS


class ReleaseApprovalEscalate(models.TransientModel):
    """The "Decide as escalation" dialog: approve or reject in place of the overdue approvers."""

    _name = "release.approval.escalate"
    _description = "Decide an overdue release as its escalation"

    approval_id = fields.Many2one("release.approval", required=True, ondelete="cascade")
    awaiting = fields.Char(related="approval_id.awaiting", string="In place of")
    deadline = fields.Datetime(related="approval_id.deadline")
    summary = fields.Html(related="approval_id.summary")
    decision = fields.Selection([(d, d.capitalize()) for d in DECISIONS], required=True, default="approve")
    reason = fields.Text(required=True)

    def action_confirm(self):
        self.ensure_one()
        self.approval_id._decide_as_escalation(self.decision, self.reason or "")
        return {"type": "ir.actions.act_window_close"}
