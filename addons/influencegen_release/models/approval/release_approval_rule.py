from odoo import fields, models


class ReleaseApprovalRule(models.Model):
    _name = "release.approval.rule"
    _description = "Stage Approval Rule (group and quorum)"
    _order = "stage_id, sequence, id"

    stage_id = fields.Many2one("release.stage", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    group_id = fields.Many2one("res.groups", string="Approver group", required=True, ondelete="restrict")
    quorum = fields.Integer(required=True, default=1, help="Approvals needed from this group.")

    _sql_constraints = [
        ("quorum_positive", "CHECK(quorum >= 1)", "A quorum is at least one approval."),
        ("group_unique", "unique(stage_id, group_id)", "A group appears once per stage."),
    ]
