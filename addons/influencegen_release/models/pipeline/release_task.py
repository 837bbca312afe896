from odoo import api, fields, models

from ...engine.pipeline.spec import ACTIONS


class ReleaseTask(models.Model):
    _name = "release.task"
    _description = "Pipeline Task"
    _order = "stage_id, sequence, id"

    stage_id = fields.Many2one("release.stage", required=True, ondelete="cascade", index=True)
    pipeline_id = fields.Many2one(related="stage_id.pipeline_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    key = fields.Char(required=True, help="Identifier of the task inside its pipeline; gates refer to it.")
    name = fields.Char(required=True)
    description = fields.Text()
    active = fields.Boolean(default=True)
    tool = fields.Char()
    requirements = fields.Char(help="Requirement IDs (REQ-...) this task implements.")
    mode = fields.Selection(
        [("run", "Command in a container"), ("uses", "Built-in action"), ("checklist", "Manual checklist")],
        required=True,
        default="run",
    )
    image = fields.Char()
    command = fields.Text()
    action = fields.Selection([(k, k) for k in ACTIONS], string="Built-in action")
    action_params = fields.Text(string="Action parameters (JSON)")
    checklist = fields.Text(help="One item per line.")
    timeout = fields.Integer(string="Timeout (s)", default=1800)
    cpus = fields.Float(string="CPU limit", default=1.0)
    memory_mb = fields.Integer(string="Memory limit (MiB)", default=1024)
    pids = fields.Integer(string="Process limit", default=256)
    network = fields.Selection(
        [("none", "No network"), ("host", "Host loopback")],
        default="none",
        required=True,
        help="Containers get no network unless the task declares it needs one.",
    )
    allow_failure = fields.Boolean(help="A failure of this task does not stop later stages.")
    retry_exit_codes = fields.Char(help="Comma-separated exit codes that mark a transient failure.")
    retry_max = fields.Integer(string="Retries", default=0)
    reports = fields.Text(help="Reports the task produces, one 'format: path' per line.")
    artifact_paths = fields.Char(string="Artifacts", help="Comma-separated paths collected after the task.")
    secret_names = fields.Char(string="Secrets", help="Names of secrets injected as environment variables.")
    env_json = fields.Text(string="Environment (JSON)")
    window = fields.Boolean(string="Inside maintenance window")

    _sql_constraints = [("key_unique", "unique(pipeline_id, key)", "A task key is unique within its pipeline.")]

    @api.depends("name", "key")
    def _compute_display_name(self):
        for task in self:
            task.display_name = f"{task.name} ({task.key})" if task.key else task.name
