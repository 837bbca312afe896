from odoo import api, fields, models

RUN_STATES = [
    ("queued", "Queued"),
    ("running", "Running"),
    ("waiting_approval", "Waiting for approval"),
    ("waiting_window", "Waiting for window"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]


class ReleaseRun(models.Model):
    _name = "release.run"
    _description = "Pipeline Run"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    pipeline_id = fields.Many2one("release.pipeline", required=True, ondelete="restrict", index=True, tracking=True)
    repository_id = fields.Many2one("release.repository", ondelete="restrict", index=True)
    ref = fields.Char(string="Git ref", required=True, default="refs/heads/main", help="e.g. refs/heads/main")
    commit_sha = fields.Char(string="Commit", index=True)
    before_sha = fields.Char(string="Previous commit")
    pusher = fields.Char(help="Who pushed, as the Git hook reported it.")
    triggered_by_id = fields.Many2one("res.users", default=lambda self: self.env.user, readonly=True)
    state = fields.Selection(RUN_STATES, required=True, default="queued", index=True, tracking=True)
    fingerprint = fields.Char(readonly=True, index=True, help="sha256 of the immutable run parameters.")
    params_json = fields.Text(string="Parameters (JSON)", readonly=True)
    version = fields.Char(tracking=True)
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    duration_s = fields.Float(string="Duration (s)", compute="_compute_duration")
    job_ids = fields.One2many("release.job", "run_id", string="Jobs")
    approval_ids = fields.One2many("release.approval", "run_id", string="Approvals")
    artifact_ids = fields.One2many("release.artifact", "run_id", string="Artifacts")
    job_count = fields.Integer(compute="_compute_counts")
    approval_count = fields.Integer(compute="_compute_counts")
    color = fields.Integer(compute="_compute_color")

    _sql_constraints = [("fingerprint_unique", "unique(fingerprint)", "A run with these parameters already exists.")]

    @api.depends("pipeline_id.code")
    def _compute_display_name(self):
        for run in self:
            run.display_name = f"{run.pipeline_id.code or '?'} #{run.id or '—'}"

    @api.depends("started_at", "finished_at")
    def _compute_duration(self):
        now = fields.Datetime.now()
        for run in self:
            end = run.finished_at or (now if run.started_at else False)
            run.duration_s = (end - run.started_at).total_seconds() if run.started_at and end else 0.0

    @api.depends("job_ids", "approval_ids")
    def _compute_counts(self):
        for run in self:
            run.job_count = len(run.job_ids)
            run.approval_count = len(run.approval_ids)

    @api.depends("state")
    def _compute_color(self):
        colors = {
            "succeeded": 10,
            "failed": 1,
            "cancelled": 0,
            "running": 4,
            "waiting_approval": 3,
            "waiting_window": 3,
        }
        for run in self:
            run.color = colors.get(run.state, 0)

    def action_open_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("influencegen_release.action_release_job")
        action["domain"] = [("run_id", "=", self.id)]
        return action
