from odoo import api, fields, models

from ...engine.execution.docker_runner import DockerRunner, RunnerError

_CLIENTS = {}  # one Docker client per engine URL and worker process


class ReleaseRunner(models.Model):
    _name = "release.runner"
    _description = "Runner Host (Docker engine)"
    _inherit = ["mail.thread"]
    _order = "sequence, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    docker_url = fields.Char(
        string="Docker engine URL",
        required=True,
        default=lambda self: self.env["release.settings"]._get("docker_url"),
        tracking=True,
        help="unix:///var/run/docker.sock, tcp://host:2376 (with TLS) or ssh://user@host",
    )
    tls_ca_path = fields.Char(string="TLS CA certificate", help="File on the Odoo server: the engine's CA (tcp:// engines).")
    tls_cert_path = fields.Char(string="TLS client certificate", help="File on the Odoo server.")
    tls_key_path = fields.Char(string="TLS client key", help="File on the Odoo server, readable by Odoo only.")
    capacity = fields.Integer(default=2, required=True, tracking=True, help="Jobs run at once on this host.")
    labels = fields.Char(
        default="docker, linux", help="Comma-separated labels; a task that names labels only runs where all are present."
    )
    warm_start = fields.Boolean(
        string="Warm containers",
        default=False,  # opt-in: up to two waves of idle containers stay on the host; see README "Warm containers"
        tracking=True,
        help="Keep containers started ahead (no network, the usual limits, waiting for a job's files on their "
        "input), as many as the host runs at once, and the next wave while jobs wait: a job then starts with one "
        "write instead of Docker's create and start. Each serves one job and is removed after it; a job with a "
        "network gets a container of its own.",
    )
    job_ids = fields.One2many("release.job", "runner_id", string="Jobs")
    active_job_count = fields.Integer(compute="_compute_active_job_count", string="Running jobs")
    last_seen_at = fields.Datetime(readonly=True)
    last_error = fields.Char(readonly=True)

    _sql_constraints = [("capacity_positive", "CHECK(capacity >= 1)", "A runner runs at least one job at a time.")]

    @api.depends("job_ids.state")
    def _compute_active_job_count(self):
        counts = dict(
            self.env["release.job"]._read_group(
                [("runner_id", "in", self.ids), ("state", "in", ("starting", "running"))], ["runner_id"], ["__count"]
            )
        )
        for runner in self:
            runner.active_job_count = counts.get(runner, 0)

    def write(self, vals):
        result = super().write(vals)
        if {"capacity", "warm_start", "active"} & set(vals):  # queued jobs may start now, warm containers follow
            self.env["release.scheduler"]._wake()
        return result

    def action_check(self):
        """Ping the engine and record the outcome."""
        for runner in self:
            try:
                info = runner._client().info()
            except RunnerError as exc:
                runner.write({"last_error": str(exc)})
                runner.message_post(body=self.env._("Engine check failed: %(error)s", error=exc))
                continue
            runner.write({"last_error": False, "last_seen_at": fields.Datetime.now()})
            runner.message_post(
                body=self.env._(
                    "Engine answers: Docker %(version)s, %(cpus)s CPUs, %(containers)s containers.",
                    version=info.get("ServerVersion"),
                    cpus=info.get("NCPU"),
                    containers=info.get("Containers"),
                )
            )
        return True

    def _label_set(self):
        self.ensure_one()
        return {label.strip() for label in (self.labels or "").split(",") if label.strip()}

    def _client(self):
        self.ensure_one()
        tls = None
        if self.tls_cert_path or self.tls_ca_path:
            tls = {"ca": self.tls_ca_path, "cert": self.tls_cert_path, "key": self.tls_key_path}
        key = (self.docker_url, self.tls_ca_path, self.tls_cert_path, self.tls_key_path)
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = DockerRunner(self.docker_url, tls=tls)
        return client
