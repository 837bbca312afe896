from datetime import timedelta

import pytz

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ...engine.vocabulary import DEPLOYMENT_SUCCESSFUL as SUCCESSFUL
from ...engine.vocabulary import TIER_SEQUENCE, TIERS, role_group

WINDOW_HORIZON_DAYS = 62  # how far ahead the next maintenance window is looked for
BOARD_KINDS = ("odoo", "n8n", "docker", "iac")  # the board's rows, in this order
RELEASE_MANAGER = role_group("release_manager")


class ReleaseEnvironment(models.Model):
    """A deployment target. What is the same for every kind lives here: identity, tier,
    credentials reference, maintenance window, the deployment history, the board and the
    XML-RPC API. What a kind does (plan, deploy, rollback, drift, live state) is its deployer's,
    ``release.deployer.<kind>``, picked by ``_deployer()``.

    The URL names the target: an Odoo server, an n8n instance, a registry (host:port) or, for
    infrastructure, ``file:///absolute/folder`` (mounted at ``/target`` in the runner container;
    hosts of the inventory live in subfolders)."""

    _name = "release.environment"
    _description = "Release Environment (deployment target)"
    _inherit = ["mail.thread"]
    _order = "sequence, kind, name"

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(required=True, help="Identifier used by pipeline files, e.g. odoo-prod.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    tier = fields.Selection([(t, t.capitalize()) for t in TIERS], required=True, default="development", tracking=True)
    kind = fields.Selection(
        [
            ("odoo", "Odoo database"),
            ("n8n", "n8n instance"),
            ("docker", "Container registry"),
            ("iac", "Infrastructure"),
        ],
        required=True,
        default="odoo",
        tracking=True,
    )
    url = fields.Char(string="URL", tracking=True)
    credentials_ref = fields.Char(
        string="Credentials reference",
        tracking=True,
        help="Where the deployer finds the secret: env:NAME, file:/path or param:key. Never the secret itself.",
    )
    login = fields.Char(
        string="Deployer login", default="deployer", tracking=True, help="The technical user the target knows the deployer as."
    )
    # Odoo databases: the database the deploy agent upgrades (login: the deployer's user there).
    database = fields.Char(tracking=True, help="Target database name (Odoo targets).")
    # Container images: the registry is the URL (login: the registry user); the service an
    # image deploy runs, by digest, on a runner host, health-checked.
    runner_id = fields.Many2one(
        "release.runner", string="Runner host", tracking=True, help="Docker environments: the Docker engine the service runs on (default: the first active runner host)."
    )
    service_network = fields.Selection(
        [("none", "None"), ("host", "Host (the service binds 127.0.0.1)")],
        string="Service network",
        default="none",
        required=True,
        tracking=True,
    )
    health_url = fields.Char(
        string="Health check URL", tracking=True, help="Docker environments: polled until it answers 200; empty: the image's HEALTHCHECK."
    )
    health_timeout = fields.Integer(string="Health timeout (s)", default=60, tracking=True)
    service_cpus = fields.Float(string="Service CPUs", default=0.5, tracking=True)
    service_memory_mb = fields.Integer(string="Service memory (MB)", default=256, tracking=True)
    calendar_id = fields.Many2one(
        "resource.calendar",
        string="Maintenance window",
        tracking=True,
        help="Working time of this calendar is the maintenance window; its leaves are freezes.",
    )
    block_on_drift = fields.Boolean(string="Block on drift", help="Refuse promotions to this environment while it drifts from its source.")
    description = fields.Text()
    stage_ids = fields.One2many("release.stage", "environment_id", string="Deploying stages")
    stage_count = fields.Integer(compute="_compute_stage_count")
    deployment_ids = fields.One2many("release.deployment", "environment_id", string="Deployments")
    current_deployment_id = fields.Many2one(
        "release.deployment", compute="_compute_current_deployment", string="Running version"
    )

    _sql_constraints = [("code_unique", "unique(code)", "An environment code must be unique.")]

    @api.depends("stage_ids")
    def _compute_stage_count(self):
        for environment in self:
            environment.stage_count = len(environment.stage_ids)

    @api.depends("deployment_ids.outcome")
    def _compute_current_deployment(self):
        for environment in self:
            done = environment.deployment_ids.filtered(lambda d: d.outcome in SUCCESSFUL)
            environment.current_deployment_id = done.sorted("id")[-1:]

    @api.constrains("credentials_ref")
    def _check_credentials_ref(self):
        for environment in self:
            what = self.env._("The credentials of environment %(name)s", name=environment.name)
            self.env["release.settings"]._check_reference(environment.credentials_ref, what)

    @api.onchange("tier")
    def _onchange_tier(self):
        self.sequence = TIER_SEQUENCE.get(self.tier, 10)

    def action_rollback(self):
        """Roll this environment back (``_rollback``). A revert run opens; a rollback that failed
        stays in the history and the chatter, and the button shows its error."""
        answer = self._rollback()
        if answer["run"]:
            return self.env["release.run"].browse(answer["run"])._action_open()
        if answer["outcome"] in SUCCESSFUL:
            return True
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": self.env._("The rollback failed"), "message": answer["error"], "type": "danger", "sticky": True},
        }

    @api.model
    def api_rollback(self, code):
        """XML-RPC: roll environment ``code`` back to its previous good state. Release Managers only.

        One answer for every kind (``release.deployer._rollback_answer``)::

            {"id", "environment", "kind", "rollback": True, "rollback_of", "deployment", "run",
             "version", "sha", "ref", "state", "url", "outcome", "plan", "backup", "duration_s", "error"}

        Odoo, n8n and container environments roll back at once: ``deployment`` (and ``id``) is the
        rollback's deployment, ``outcome`` says how it ended (failed: restored; error) with
        ``error``, so a failed rollback is recorded rather than undone with the call; ``run`` is
        False. An infrastructure environment starts a revert run: ``run`` (and ``id``) is that run,
        ``state``, ``ref``, ``sha`` and ``url`` are its own, ``outcome`` is False until it applies.
        ``rollback_of`` is the deployment undone, ``version`` and ``sha`` what comes back."""
        return self._by_code(code)._rollback()

    @api.model
    def api_deploy(self, code, version):
        """XML-RPC: deploy the published artifact ``version`` to environment ``code`` outside a
        run: a roll-forward after a rollback, or a promotion of what a lower tier already runs.

        Release Managers only; the artifact must have been deployed successfully here or to an
        environment of a lower tier of the same kind, a production window is respected and
        drift blocks as in a run. Returns the deployment's summary."""
        return self._by_code(code)._deploy_version(version)._summary()

    @api.model
    def api_board(self):
        """The environment board: per component kind, each environment with its deployed
        version and its last deployment. Drift is read live on request only (``api_drift``)."""
        may_roll_back = self.env.user.has_group(RELEASE_MANAGER)
        by_kind = {}
        for environment in self.search([("active", "=", True)]):
            current, last = environment.current_deployment_id, environment.deployment_ids.sorted("id")[-1:]
            successful = environment.deployment_ids.filtered(lambda d: d.outcome in SUCCESSFUL)
            by_kind.setdefault(environment.kind, []).append(
                {
                    "id": environment.id,
                    "code": environment.code,
                    "name": environment.name,
                    "tier": environment.tier,
                    "reachable": bool(environment.url),
                    "current": current._board_entry() if current else False,
                    "last": last._board_entry() if last else False,
                    "deployments": len(environment.deployment_ids),
                    "can_rollback": may_roll_back and len(successful) > 1,
                }
            )
        labels = {
            "odoo": self.env._("Odoo modules"),
            "n8n": self.env._("n8n workflows"),
            "docker": self.env._("Images"),
            "iac": self.env._("Infrastructure"),
        }
        return [{"kind": k, "label": labels[k], "environments": by_kind[k]} for k in BOARD_KINDS if k in by_kind]

    def api_drift(self):
        """``{state: same|drift|unknown, details}``: the target read live against the last
        deployment recorded here; unknown when it cannot be read (not answering, no URL)."""
        self.ensure_one()
        self.check_access("read")
        if not self.current_deployment_id:
            return {"state": "unknown", "details": [self.env._("Nothing was deployed here yet.")]}
        deployer = self._deployer()
        try:
            problems = deployer._drift(self)
        except (*deployer._target_errors(), OSError) as exc:
            return {"state": "unknown", "details": [str(exc)]}
        return {"state": "drift" if problems else "same", "details": problems}

    # -- deployments (the same for every kind; what differs is the deployer's) ----------------
    def _deployer(self):
        """The deployer of this environment's kind (``release.deployer.<kind>``)."""
        self.ensure_one()
        return self.env[f"release.deployer.{self.kind}"]

    @api.model
    def _by_code(self, code):
        environment = self.search([("code", "=", code)], limit=1)
        if not environment:
            raise UserError(self.env._("There is no environment %(code)r.", code=code))
        return environment

    def _rollback(self):
        """Roll back through the deployer; the answer of ``api_rollback``."""
        self.ensure_one()
        if not self.env.user.has_group(RELEASE_MANAGER):
            raise AccessError(self.env._("Only a Release Manager rolls an environment back."))
        return self._deployer()._rollback(self)

    def _deploy_version(self, version):
        self.ensure_one()
        if not self.env.user.has_group(RELEASE_MANAGER):
            raise AccessError(self.env._("Only a Release Manager deploys a version by hand."))
        kind = self._deployer()._artifact_kind
        artifacts = self.env["release.artifact"].search([("version", "=", version), ("kind", "=", kind)], order="id desc")
        if not artifacts:
            raise UserError(self.env._("No published %(kind)s artifact has version %(version)r.", kind=kind or self.kind, version=version))
        proven = self.env["release.deployment"].search(
            [("artifact_id", "in", artifacts.ids), ("outcome", "in", list(SUCCESSFUL)), ("environment_id.kind", "=", self.kind)]
        ).filtered(lambda d: d.environment_id == self or TIER_SEQUENCE[d.environment_id.tier] < TIER_SEQUENCE[self.tier])
        if not proven:
            raise UserError(
                self.env._(
                    "%(version)s never ran successfully on %(env)s or on a lower tier: promote it through its pipeline.",
                    version=version,
                    env=self.code,
                )
            )
        is_open, when, why = self._window_state(fields.Datetime.now())
        if not is_open:
            opens = fields.Datetime.to_string(when) if when else self.env._("not within the horizon")
            raise UserError(self.env._("%(env)s is outside its window (%(why)s); it opens %(when)s UTC.", env=self.code, why=why, when=opens))
        self.message_post(body=self.env._("%(user)s deploys %(version)s by hand.", user=self.env.user.name, version=version))
        return self._deploy(proven.sorted("id")[-1].artifact_id)

    def _deploy(self, artifact, run=None, job=None, rollback_of=None, approved_digest=None):
        """Deploy ``artifact`` here through the deployer and record it in the history; never
        raises for a failed deploy (the deployment's outcome and error say what happened)."""
        self.ensure_one()
        deployer = self._deployer()
        if deployer._exclusive:
            self.env.cr.execute("SELECT id FROM release_environment WHERE id = %s FOR NO KEY UPDATE", [self.id])
        deployment = self._new_deployment(artifact, run, job, rollback_of)
        if artifact.kind != deployer._artifact_kind:
            deployment._finish("error", error=self.env._("%(kind)s artifacts cannot be deployed to %(env)s.", kind=artifact.kind, env=self.kind))
            return deployment
        deployer._deploy(self, deployment, artifact, rollback_of=rollback_of, approved_digest=approved_digest)
        return deployment

    def _new_deployment(self, artifact, run=None, job=None, rollback_of=None):
        return self.env["release.deployment"].create(
            {
                "environment_id": self.id,
                "artifact_id": artifact.id,
                "run_id": (run or artifact.run_id).id,
                "job_id": job.id if job else False,
                "is_rollback": bool(rollback_of),
                "rollback_of_id": rollback_of.id if rollback_of else False,
            }
        )

    def _window_state(self, now):
        """``(open, when, why)`` for a deploy at ``now`` (naive UTC, like Odoo datetimes).

        Open: ``when`` is the window's end. Closed: ``when`` is the next opening (or None),
        ``why`` names the freeze (a leave of the calendar) when one is the reason."""
        self.ensure_one()
        calendar = self.calendar_id
        if not calendar:
            return True, None, ""
        start = pytz.utc.localize(now)
        intervals = calendar._work_intervals_batch(start, start + timedelta(days=WINDOW_HORIZON_DAYS))[False]
        freeze = self.env["resource.calendar.leaves"].search(
            [
                ("calendar_id", "in", [False, calendar.id]),
                ("resource_id", "=", False),
                ("date_from", "<=", now),
                ("date_to", ">", now),
            ],
            limit=1,
        )
        why = self.env._("change freeze '%(name)s'", name=freeze.name) if freeze else ""
        for begin, end, _records in intervals:
            if begin <= start < end:
                return True, end.astimezone(pytz.utc).replace(tzinfo=None), ""
            if begin > start:
                return False, begin.astimezone(pytz.utc).replace(tzinfo=None), why or self.env._("outside %(w)s", w=calendar.name)
        return False, None, why or self.env._("no window of %(w)s in the next %(d)s days", w=calendar.name, d=WINDOW_HORIZON_DAYS)
