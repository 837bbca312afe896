from odoo import api, fields, models
from odoo.exceptions import UserError

OUTCOMES = [
    ("running", "Running"),
    ("deployed", "Deployed"),
    ("unchanged", "Nothing to change"),
    ("failed", "Failed, restored"),
    ("error", "Failed"),
]


class ReleaseDeployment(models.Model):
    """One deployment of one artifact to one environment: the environment's history.

    What version went where, when, by whom, with which plan, how it ended, how long it took
    and which backup was taken before. Never deleted; a rollback is a deployment too,
    labelled as such and linked to the deployment it undoes."""

    _name = "release.deployment"
    _description = "Deployment (environment history)"
    _inherit = ["mail.thread"]
    _order = "id desc"

    environment_id = fields.Many2one("release.environment", required=True, ondelete="restrict", index=True, readonly=True)
    run_id = fields.Many2one("release.run", ondelete="restrict", index=True, readonly=True)
    job_id = fields.Many2one("release.job", ondelete="restrict", readonly=True)
    pipeline_id = fields.Many2one(related="run_id.pipeline_id", store=True)
    artifact_id = fields.Many2one("release.artifact", required=True, ondelete="restrict", readonly=True)
    version = fields.Char(related="artifact_id.version", store=True)
    commit_sha = fields.Char(related="artifact_id.commit_sha", store=True, string="Commit")
    artifact_sha256 = fields.Char(related="artifact_id.sha256", string="Artifact checksum")
    deployed_by_id = fields.Many2one("res.users", string="By", default=lambda self: self.env.user, readonly=True)
    is_rollback = fields.Boolean(string="Rollback", readonly=True)
    rollback_of_id = fields.Many2one("release.deployment", string="Rolls back", readonly=True, ondelete="restrict")
    automatic_rollback = fields.Boolean(
        string="Automatic", readonly=True, help="Rolled back by itself (rollback.automatic) after its run failed on this environment."
    )
    outcome = fields.Selection(OUTCOMES, required=True, default="running", readonly=True, tracking=True)
    plan = fields.Text(readonly=True, help="Modules installed, upgraded and unchanged.")
    backup_ref = fields.Char(string="Backup", readonly=True, help="The target's database backup taken before the deploy.")
    target_receipt = fields.Integer(readonly=True, help="The receipt id on the target database.")
    started_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    finished_at = fields.Datetime(readonly=True)
    duration_s = fields.Float(string="Duration (s)", readonly=True)
    downtime_s = fields.Float(
        string="Downtime (s)",
        readonly=True,
        help="How long the target did not serve during this deploy: from the first failed to the first good probe "
        "of a page served from its database, sampled every 0.2 s (Odoo targets).",
    )
    error = fields.Text(readonly=True)
    timeline = fields.Text(readonly=True)
    n8n_workflows_json = fields.Text(
        string="n8n workflows",
        readonly=True,
        help="n8n targets: per workflow name, its workflow id on the instance (null once deleted), what this "
        "deployment did, the version and active flag before and after. Later deploys match workflows by these ids.",
    )

    @api.depends("environment_id", "version", "is_rollback")
    def _compute_display_name(self):
        for deployment in self:
            label = self.env._("rollback to %(v)s", v=deployment.version) if deployment.is_rollback else deployment.version
            deployment.display_name = f"{deployment.environment_id.code} · {label or '?'}"

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("Deployment history is never deleted."))

    def _summary(self):
        self.ensure_one()
        return {
            "id": self.id,
            "environment": self.environment_id.code,
            "version": self.version or False,
            "outcome": self.outcome,
            "rollback": self.is_rollback,
            "automatic": self.automatic_rollback,
            "plan": self.plan or False,
            "backup": self.backup_ref or False,
            "duration_s": round(self.duration_s, 2),
            "error": self.error or False,
        }

    def _board_entry(self):
        """This deployment as the environment board shows it."""
        self.ensure_one()
        return {
            "id": self.id,
            "version": self.version or False,
            "commit": (self.commit_sha or "")[:12] or False,
            "outcome": self.outcome,
            "outcome_label": dict(OUTCOMES)[self.outcome],
            "rollback": self.is_rollback,
            "when": fields.Datetime.to_string(self.finished_at or self.started_at),
            "downtime_s": round(self.downtime_s, 2) if self.environment_id.kind == "odoo" else False,
            "by": self.deployed_by_id.name or False,
            "run": {"id": self.run_id.id, "name": self.run_id.display_name} if self.run_id else False,
            "error": self.error or False,
        }

    def _finish(self, outcome, **values):
        now = fields.Datetime.now()
        self.write(dict(values, outcome=outcome, finished_at=now, duration_s=(now - self.started_at).total_seconds()))
        self.environment_id.message_post(
            body=self.env._(
                "%(what)s %(version)s: %(outcome)s.%(error)s",
                what=self.env._("Rollback to") if self.is_rollback else self.env._("Deploy of"),
                version=self.version,
                outcome=dict(OUTCOMES)[outcome].lower(),
                error=f" {values['error']}" if values.get("error") else "",
            )
        )
