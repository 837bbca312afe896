from odoo import fields, models

APPROVAL_STATES = [
    ("pending", "Pending"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("void", "Void"),
    ("expired", "Expired"),
]


class ReleaseApproval(models.Model):
    _name = "release.approval"
    _description = "Approval Request (UAT sign-off, Go/No-Go)"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    run_id = fields.Many2one("release.run", required=True, ondelete="restrict", index=True)
    pipeline_id = fields.Many2one(related="run_id.pipeline_id", store=True, index=True)
    stage_id = fields.Many2one("release.stage", required=True, ondelete="restrict")
    gate_id = fields.Many2one("release.gate", ondelete="restrict")
    environment_id = fields.Many2one(related="stage_id.environment_id", store=True)
    state = fields.Selection(APPROVAL_STATES, required=True, default="pending", index=True, tracking=True)
    artifact_sha256 = fields.Char(
        string="Artifact checksum", readonly=True, help="The approval binds to this exact artifact."
    )
    requested_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    deadline = fields.Datetime()
    decided_by_id = fields.Many2one("res.users", readonly=True, tracking=True)
    decided_at = fields.Datetime(readonly=True)
    comment = fields.Text(readonly=True)

    def _compute_display_name(self):
        for approval in self:
            approval.display_name = f"{approval.stage_id.name or ''} · {approval.run_id.display_name or ''}"
