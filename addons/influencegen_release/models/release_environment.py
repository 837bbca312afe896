from datetime import timedelta

import pytz

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..engine.odoo_target import OdooTarget, TargetError, deploy_package
from ..engine.spec import CREDENTIAL_REF, TIERS

TIER_SEQUENCE = {"development": 10, "staging": 20, "production": 30}
WINDOW_HORIZON_DAYS = 62  # how far ahead the next maintenance window is looked for


class ReleaseEnvironment(models.Model):
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
    database = fields.Char(tracking=True, help="Target database name (Odoo targets).")
    credentials_ref = fields.Char(
        string="Credentials reference",
        tracking=True,
        help="Where the deployer finds the secret: env:NAME, file:/path or param:key. Never the secret itself.",
    )
    login = fields.Char(
        string="Deployer login", default="deployer", tracking=True, help="The technical user the target knows the deployer as."
    )
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
            done = environment.deployment_ids.filtered(lambda d: d.outcome in ("deployed", "unchanged"))
            environment.current_deployment_id = done.sorted("id")[-1:]

    @api.constrains("credentials_ref")
    def _check_credentials_ref(self):
        for environment in self.filtered("credentials_ref"):
            if not CREDENTIAL_REF.match(environment.credentials_ref):
                raise ValidationError(
                    self.env._(
                        "Environment %(name)s: the credentials field takes a reference "
                        "(env:NAME, file:/path or param:key), never the secret itself.",
                        name=environment.name,
                    )
                )

    def action_rollback(self):
        """Redeploy the previous successful artifact of this environment, as a rollback."""
        self.ensure_one()
        if not self.env.user.has_group("influencegen_release.group_release_release_manager"):
            raise AccessError(self.env._("Only a Release Manager rolls an environment back."))
        current = self.current_deployment_id
        previous = self.deployment_ids.filtered(
            lambda d: d.outcome in ("deployed", "unchanged") and d.artifact_id != current.artifact_id and d.id < current.id
        ).sorted("id")[-1:]
        if not previous:
            raise UserError(self.env._("%(env)s has no earlier successful deployment to roll back to.", env=self.name))
        deployment = self._deploy(previous.artifact_id, rollback_of=current)
        if deployment.outcome not in ("deployed", "unchanged"):
            raise UserError(self.env._("The rollback failed: %(error)s", error=deployment.error))
        return True

    @api.model
    def api_rollback(self, code):
        """XML-RPC: roll environment ``code`` back to its previous successful artifact."""
        environment = self.search([("code", "=", code)], limit=1)
        if not environment:
            raise UserError(self.env._("There is no environment %(code)r.", code=code))
        environment.action_rollback()
        return environment.current_deployment_id._summary()

    def _deploy(self, artifact, run=None, job=None, rollback_of=None, approved_digest=None):
        """Deploy ``artifact`` here and record it in the history; never raises for a failed
        deploy (the deployment's outcome and error say what happened)."""
        self.ensure_one()
        deployment = self.env["release.deployment"].create(
            {
                "environment_id": self.id,
                "artifact_id": artifact.id,
                "run_id": (run or artifact.run_id).id,
                "job_id": job.id if job else False,
                "is_rollback": bool(rollback_of),
                "rollback_of_id": rollback_of.id if rollback_of else False,
            }
        )
        if self.kind != "odoo" or artifact.kind != "odoo_modules":
            deployment._finish("error", error=self.env._("%(kind)s artifacts cannot be deployed to %(env)s.", kind=artifact.kind, env=self.kind))
            return deployment
        try:
            target = self._odoo_target()
            result = deploy_package(target, artifact._local_path(), artifact.sha256, artifact._manifest(), approved_digest)
        except (TargetError, ValueError) as exc:
            restored = "restored" in str(exc)
            deployment._finish("failed" if restored else "error", error=str(exc))
            return deployment
        deployment._finish(
            result.outcome,
            plan=result.plan_text(),
            backup_ref=result.backup_path,
            target_receipt=result.receipt,
            timeline="\n".join(f"{t:8.2f}s {step}" for t, step in result.timeline),
        )
        return deployment

    def _odoo_target(self):
        if not (self.url and self.database and self.credentials_ref):
            raise ValueError(self.env._("%(env)s needs a URL, a database and a credentials reference.", env=self.name))
        key = self.env["release.settings"]._resolve(self.credentials_ref)
        return OdooTarget(self.url, self.database, self.login or "deployer", key)

    @api.onchange("tier")
    def _onchange_tier(self):
        self.sequence = TIER_SEQUENCE.get(self.tier, 10)

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
