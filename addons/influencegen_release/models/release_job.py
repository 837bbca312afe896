from odoo import api, fields, models

JOB_STATES = [
    ("pending", "Pending"),
    ("queued", "Queued"),
    ("running", "Running"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("skipped", "Skipped"),
]


class ReleaseJob(models.Model):
    _name = "release.job"
    _description = "Pipeline Job (one task of one run)"
    _order = "run_id desc, stage_sequence, sequence, id"

    run_id = fields.Many2one("release.run", required=True, ondelete="restrict", index=True)
    pipeline_id = fields.Many2one(related="run_id.pipeline_id", store=True, index=True)
    stage_id = fields.Many2one("release.stage", required=True, ondelete="restrict")
    stage_sequence = fields.Integer(related="stage_id.sequence", store=True, string="Stage sequence")
    task_id = fields.Many2one("release.task", required=True, ondelete="restrict")
    sequence = fields.Integer(related="task_id.sequence", store=True)
    name = fields.Char(related="task_id.name", store=True)
    state = fields.Selection(JOB_STATES, required=True, default="pending", index=True)
    exit_code = fields.Integer()
    attempt = fields.Integer(default=1)
    runner = fields.Char(help="Runner host that ran the job.")
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    duration_s = fields.Float(string="Duration (s)", compute="_compute_duration")

    @api.depends("started_at", "finished_at")
    def _compute_duration(self):
        for job in self:
            ok = job.started_at and job.finished_at
            job.duration_s = (job.finished_at - job.started_at).total_seconds() if ok else 0.0
