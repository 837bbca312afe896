from odoo import api, fields, models


class ReleaseStage(models.Model):
    _name = "release.stage"
    _description = "Pipeline Stage"
    _inherit = ["mail.thread"]
    _order = "pipeline_id, sequence, id"

    pipeline_id = fields.Many2one("release.pipeline", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    key = fields.Char(required=True, help="Identifier of the stage inside its pipeline.")
    name = fields.Char(required=True, tracking=True)
    description = fields.Text()
    active = fields.Boolean(default=True, tracking=True)
    trigger = fields.Selection(
        [("auto", "Automatic"), ("manual", "Manual approval")], required=True, default="auto", tracking=True
    )
    branch_patterns = fields.Char(help="The stage only runs for refs matching these comma-separated globs.")
    environment_id = fields.Many2one("release.environment", ondelete="restrict", tracking=True)
    requirements = fields.Char(help="Requirement IDs (REQ-...) this stage implements.")
    task_ids = fields.One2many("release.task", "stage_id", string="Tasks")
    task_count = fields.Integer(compute="_compute_task_count")
    gate_ids = fields.One2many("release.gate", "stage_id", string="Quality gates")
    # Approval policy: who decides the stage's manual gate, and how.
    approval_rule_ids = fields.One2many("release.approval.rule", "stage_id", string="Approvers")
    approval_required = fields.Boolean(compute="_compute_approval_required", store=True)
    approval_order = fields.Selection(
        [("parallel", "Parallel"), ("sequential", "In rule order")], default="parallel", tracking=True
    )
    approval_deadline_hours = fields.Integer(string="Decision deadline (hours)", default=72, tracking=True)
    approval_remind_hours = fields.Integer(string="Reminder after (hours)", default=24)
    approval_escalate_group_id = fields.Many2one("res.groups", string="Escalate to")
    approval_reject_on_any = fields.Boolean(string="One rejection rejects", default=True, tracking=True)
    approval_exclude_author = fields.Boolean(string="Author may not approve", tracking=True)
    approval_exclude_triggerer = fields.Boolean(string="Triggering user may not approve", tracking=True)
    approval_comment_required = fields.Boolean(string="Comment required", tracking=True)
    approval_window = fields.Boolean(string="Deploy inside the maintenance window", tracking=True)
    approval_evidence = fields.Selection(
        [("none", "None"), ("uat", "UAT session passed")], string="Evidence required", default="none", tracking=True
    )

    _sql_constraints = [("key_unique", "unique(pipeline_id, key)", "A stage key is unique within its pipeline.")]

    @api.depends("task_ids")
    def _compute_task_count(self):
        for stage in self:
            stage.task_count = len(stage.task_ids)

    @api.depends("approval_rule_ids")
    def _compute_approval_required(self):
        for stage in self:
            stage.approval_required = bool(stage.approval_rule_ids)

    @api.depends("name", "pipeline_id.code")
    def _compute_display_name(self):
        for stage in self:
            stage.display_name = f"{stage.pipeline_id.code} › {stage.name}" if stage.pipeline_id else stage.name
