import hashlib
import json

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError

from ...engine.execution.stages import job_plan
from ...engine.pipeline.spec import ROLLBACK_STRATEGIES


class ReleasePipeline(models.Model):
    _name = "release.pipeline"
    _description = "Release Pipeline"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "sequence, code"
    _rec_names_search = ["code", "name"]

    code = fields.Char(required=True, tracking=True, help="Stable identifier, e.g. PL-ODOO-MOD.")
    name = fields.Char(required=True, tracking=True)
    description = fields.Text()
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    kind = fields.Selection(
        [
            ("odoo", "Odoo modules"),
            ("n8n", "n8n workflows"),
            ("iac", "Infrastructure as code"),
            ("docker", "Container images"),
        ],
        required=True,
        tracking=True,
    )
    requirements = fields.Char(help="Requirement IDs (REQ-...) this pipeline implements.")
    trigger_ids = fields.One2many("release.pipeline.trigger", "pipeline_id", string="Triggers")
    stage_ids = fields.One2many("release.stage", "pipeline_id", string="Stages")
    stage_count = fields.Integer(compute="_compute_counts")
    gate_count = fields.Integer(compute="_compute_counts")
    rollback_strategy = fields.Selection(
        [(s, s.replace("_", " ").capitalize()) for s in ROLLBACK_STRATEGIES],
        default="none",
        required=True,
        tracking=True,
    )
    rollback_restore_database = fields.Boolean(string="Restore database on rollback", tracking=True)
    rollback_automatic = fields.Boolean(string="Roll back automatically on failure", tracking=True)
    rollback_description = fields.Text(string="Rollback strategy details")
    notification_ids = fields.One2many("release.notification.rule", "pipeline_id", string="Notifications")
    on_success_codes = fields.Char(
        string="Starts on success", help="Codes of pipelines started when a run of this one succeeds."
    )
    group_ids = fields.Many2many(
        "res.groups",
        string="Teams",
        help="When set, only members of these groups (and Release Managers) see this pipeline and its runs.",
    )
    repository_id = fields.Many2one("release.repository", ondelete="set null", tracking=True)
    source_file = fields.Char(readonly=True, help="The pipeline file these records were loaded from.")
    source_checksum = fields.Char(readonly=True, tracking=True, help="sha256 of the normalised pipeline definition.")
    spec_json = fields.Text(string="Definition (normalised)", readonly=True)
    source_yaml = fields.Text(string="Pipeline file", readonly=True, help="The YAML text this pipeline was last loaded from.")
    run_ids = fields.One2many("release.run", "pipeline_id", string="Runs")
    run_count = fields.Integer(compute="_compute_counts")
    next_scheduled_at = fields.Datetime(
        string="Next scheduled run", compute="_compute_next_scheduled_at", help="The earliest slot of its schedule triggers."
    )

    _sql_constraints = [("code_unique", "unique(code)", "A pipeline code must be unique.")]

    @api.depends("stage_ids", "stage_ids.gate_ids", "run_ids")
    def _compute_counts(self):
        for pipeline in self:
            pipeline.stage_count = len(pipeline.stage_ids)
            pipeline.gate_count = len(pipeline.stage_ids.gate_ids)
            pipeline.run_count = len(pipeline.run_ids)

    @api.depends("trigger_ids.next_run_at", "active")
    def _compute_next_scheduled_at(self):
        for pipeline in self:
            slots = pipeline.trigger_ids.filtered(lambda t: t.event == "schedule").mapped("next_run_at")
            pipeline.next_scheduled_at = min(filter(None, slots), default=False) if pipeline.active else False

    @api.depends("code", "name")
    def _compute_display_name(self):
        for pipeline in self:
            pipeline.display_name = f"[{pipeline.code}] {pipeline.name}" if pipeline.code else pipeline.name

    def action_open_runs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("influencegen_release.action_release_run")
        action["domain"] = [("pipeline_id", "=", self.id)]
        action["context"] = {"default_pipeline_id": self.id}
        return action

    def action_run_pipeline(self):
        self.ensure_one()
        repository = self.env["release.repository"].search([("pipeline_ids", "in", self.id)], limit=1)
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Run %(code)s", code=self.code),
            "res_model": "release.run.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_pipeline_id": self.id,
                "default_repository_id": repository.id,
                "default_ref": repository.default_branch,
            },
        }

    def action_open_graph(self):
        self.ensure_one()
        return {
            "type": "ir.actions.client",
            "tag": "influencegen_release.pipeline_graph",
            "name": self.env._("%(code)s definition", code=self.code),
            "context": {"active_id": self.id},
        }

    def action_reload(self):
        """Load the pipeline file again, from its repository or from the addon's data."""
        for pipeline in self:
            if pipeline.repository_id:
                pipeline.repository_id._load_pipeline_file(pipeline.repository_id.default_branch)
            elif pipeline.source_file:
                self.env["release.pipeline.loader"]._load_path(pipeline.source_file)
            else:
                raise UserError(self.env._("Pipeline %(code)s was not loaded from a file.", code=pipeline.code))
        return True

    def api_definition(self):
        """Stages, tasks and gates at a glance, with the YAML they were loaded from."""
        self.ensure_one()
        self.check_access("read")
        stages = []
        for stage in self.stage_ids.filtered("active"):
            stages.append(
                {
                    "key": stage.key,
                    "name": stage.name,
                    "trigger": stage.trigger,
                    "environment": stage.environment_id.display_name or False,
                    "branches": stage.branch_patterns or False,
                    "approvers": [f"{rule.quorum} × {rule.group_id.name}" for rule in stage.approval_rule_ids],
                    "tasks": [
                        {"key": t.key, "name": t.name, "mode": t.mode, "tool": t.tool or False, "image": t.image or False}
                        for t in stage.task_ids.filtered("active")
                    ],
                    "gates": [
                        {"key": g.key, "name": g.name, "type": g.gate_type, "criteria": g.criteria_summary or ""}
                        for g in stage.gate_ids.filtered("active")
                    ],
                }
            )
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "source_file": self.source_file or False,
            "yaml": self.source_yaml or False,
            "stages": stages,
            "on_success": self.on_success_codes or False,
        }

    def _spec(self):
        """The normalised definition this pipeline was synced from (a dict)."""
        self.ensure_one()
        return json.loads(self.spec_json or "{}")

    # -- runs ---------------------------------------------------------------------------------
    def _trigger(self, repository, params, note=False):
        """Start this pipeline's run of a push (``params``: repository, ref, sha, before,
        pusher, trigger_kind) once: a push seen again finds the run it started. ``note`` (why
        it starts) goes to the new run's chatter. Return the run's summary."""
        self.ensure_one()
        Run = self.env["release.run"]
        fingerprint = self._run_fingerprint(repository, params)
        existing = Run.search([("fingerprint", "=", fingerprint)], limit=1)
        if existing:
            return existing._summary()
        try:
            with self.env.cr.savepoint():
                run = self._create_run(repository, params, fingerprint)
                if note:
                    run.message_post(body=note)
        except pg_errors.UniqueViolation:
            # Another call created it a moment ago; our snapshot cannot see it, a new cursor can.
            with self.env.registry.cursor() as cr:
                return Run.with_env(self.env(cr=cr)).search([("fingerprint", "=", fingerprint)], limit=1)._summary()
        return run._summary()

    def _run_fingerprint(self, repository, params):
        """What identifies a run: this pipeline's definition on one commit of one ref."""
        self.ensure_one()
        identity = {
            "pipeline": self.code,
            "definition": self.source_checksum,
            "repository": repository.id,
            "ref": params["ref"],
            "sha": params["sha"],
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    def _create_run(self, repository, params, fingerprint):
        """A new run of this pipeline on ``params`` with one job per task. Its snapshot is
        ``params["spec"]`` when given (a retry, a revert), else this pipeline's definition now:
        the run follows its snapshot, whatever later happens to the pipeline's records."""
        self.ensure_one()
        spec = params.get("spec") or self._spec()
        params = dict(params, pipeline=self.code, spec=spec)
        run = self.env["release.run"].create(
            {
                "pipeline_id": self.id,
                "repository_id": repository.id,
                "ref": params["ref"],
                "commit_sha": params["sha"],
                "before_sha": params.get("before") or False,
                "pusher": params.get("pusher") or False,
                "trigger_kind": params.get("trigger_kind") or "push",
                "fingerprint": fingerprint,
                "params_json": json.dumps(params, sort_keys=True),
            }
        )
        Stage, Task = self.env["release.stage"], self.env["release.task"]
        stages = {s.key: s for s in Stage.with_context(active_test=False).search([("pipeline_id", "=", self.id)])}
        tasks = {t.key: t for t in Task.with_context(active_test=False).search([("pipeline_id", "=", self.id)])}
        codes = {stage["environment"] for stage in spec["stages"] if stage.get("environment")}
        Environment = self.env["release.environment"].with_context(active_test=False)
        environments = {e.code: e for e in Environment.search([("code", "in", list(codes))])}
        jobs = []
        for job in job_plan(spec, params["ref"]):
            environment = environments.get(job.pop("environment"), Environment)
            stage_id, task_id = stages[job["stage_key"]].id, tasks[job["task_key"]].id
            jobs.append(dict(job, run_id=run.id, stage_id=stage_id, task_id=task_id, environment_id=environment.id))
        self.env["release.job"].create(jobs)
        run.message_post(
            body=self.env._(
                "Run queued for %(ref)s at %(sha)s by %(who)s.",
                ref=params["ref"],
                sha=params["sha"][:12],
                who=params.get("pusher") or self.env.user.name,
            )
        )
        return run
