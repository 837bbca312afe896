from odoo import api, fields, models

from ..engine.approval.policy import DECISIONS


class ReleaseApprovalDecision(models.TransientModel):
    """The Approve / Reject dialog: the comment is asked for here, the rules are the request's."""

    _name = "release.approval.decision"
    _description = "Approve or reject a release"

    approval_id = fields.Many2one("release.approval", required=True, ondelete="cascade")
    decision = fields.Selection([(d, d.capitalize()) for d in DECISIONS], required=True)
    summary = fields.Html(related="approval_id.summary")
    evidence_required = fields.Boolean(related="approval_id.evidence_required")
    evidence_missing = fields.Boolean(compute="_compute_evidence_missing")
    comment = fields.Text()

    @api.depends("approval_id")
    def _compute_evidence_missing(self):
        Vote = self.env["release.approval.vote"]
        for wizard in self:
            wizard.evidence_missing = wizard.evidence_required and not Vote._evidence(wizard.approval_id)

    def action_confirm(self):
        self.ensure_one()
        self.approval_id._decide(self.decision, self.comment or "")
        return {"type": "ir.actions.act_window_close"}

    def action_record_uat(self):
        return self.approval_id.action_record_uat()
