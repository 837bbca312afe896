import hashlib
import json
import re

from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError

from ...engine.pipeline.spec import ref_matches
from ...engine.quality.gates import evaluate
from ...engine.source.git_source import GitSourceError, commit_author
from ...engine.vocabulary import JOB_DONE_STATES as DONE_STATES
from ...engine.vocabulary import RUN_TERMINAL as TERMINAL

RUN_STATES = [
    ("queued", "Queued"),
    ("running", "Running"),
    ("waiting_approval", "Waiting for approval"),
    ("waiting_checklist", "Waiting for checklist"),
    ("waiting_window", "Waiting for window"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
FAILURE_EVENTS = {"build_failed", "validation_failed", "scan_failed", "run_failed"}
# What a failed quality gate is called, by pipeline kind (the seed's notification events).
GATE_FAILURE_EVENT = {"odoo": "build_failed", "n8n": "validation_failed", "iac": "validation_failed", "docker": "scan_failed"}
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
MAX_CHAIN_DEPTH = 5  # a chain of pipelines longer than this is a loop in the configuration
DEPLOYABLE_KINDS = ("odoo_modules", "n8n_workflows", "image", "iac_plan")  # what an approval binds to
RELEASE_MANAGER = "influencegen_release.group_release_release_manager"
DEVELOPER = "influencegen_release.group_release_developer"
RELEASE_USER = "influencegen_release.group_release_user"
UI_NOTIFICATION = "influencegen_release/run_changed"  # what the OWL views listen for on the bus
ZERO_SHA = "0" * 40


class ReleaseRun(models.Model):
    _name = "release.run"
    _description = "Pipeline Run"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _mail_post_access = "read"  # approvers, testers and checklist confirmers comment on runs

    pipeline_id = fields.Many2one("release.pipeline", required=True, ondelete="restrict", index=True, tracking=True)
    repository_id = fields.Many2one("release.repository", ondelete="restrict", index=True)
    ref = fields.Char(string="Git ref", required=True, default="refs/heads/main", help="e.g. refs/heads/main")
    commit_sha = fields.Char(string="Commit", index=True)
    short_sha = fields.Char(string="Short commit", compute="_compute_short_sha")
    before_sha = fields.Char(string="Previous commit")
    pusher = fields.Char(help="Who pushed, as the Git hook reported it.")
    triggered_by_id = fields.Many2one("res.users", default=lambda self: self.env.user, readonly=True)
    state = fields.Selection(RUN_STATES, required=True, default="queued", index=True, tracking=True)
    fingerprint = fields.Char(readonly=True, index=True, copy=False, help="sha256 of the immutable run parameters.")
    params_json = fields.Text(string="Parameters (JSON)", readonly=True)
    retry_of_id = fields.Many2one("release.run", string="Retry of", readonly=True, ondelete="restrict")
    parent_run_id = fields.Many2one(
        "release.run", string="Started by run", readonly=True, ondelete="restrict", index=True, help="Pipeline chaining."
    )
    child_run_ids = fields.One2many("release.run", "parent_run_id", string="Chained runs")
    cancel_requested = fields.Boolean(readonly=True, copy=False)
    version = fields.Char(tracking=True)
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    duration_s = fields.Float(string="Duration (s)", compute="_compute_duration")
    job_ids = fields.One2many("release.job", "run_id", string="Jobs")
    approval_ids = fields.One2many("release.approval", "run_id", string="Approvals")
    artifact_ids = fields.One2many("release.artifact", "run_id", string="Artifacts")
    gate_result_ids = fields.One2many("release.gate.result", "run_id", string="Quality gates")
    finding_ids = fields.One2many("release.finding", "run_id", string="Findings")
    uat_session_ids = fields.One2many("release.uat.session", "run_id", string="UAT sessions")
    checklist_item_ids = fields.One2many("release.checklist.item", "run_id", string="Checklists")
    window_override_ids = fields.One2many("release.window.override", "run_id", string="Break-glass overrides")
    break_glass = fields.Boolean(compute="_compute_break_glass", store=True, help="Deploys outside the window allowed.")
    window_opens_at = fields.Datetime(string="Window opens at", readonly=True)
    window_reason = fields.Char(string="Waiting because", readonly=True)
    rollback_state = fields.Selection(
        [("required", "Rollback required")],
        readonly=True,
        tracking=True,
        help="A deployment stage failed after changing its target: the rollback path started.",
    )
    job_count = fields.Integer(compute="_compute_counts")
    approval_count = fields.Integer(compute="_compute_counts")
    color = fields.Integer(compute="_compute_color")

    _sql_constraints = [("fingerprint_unique", "unique(fingerprint)", "A run with these parameters already exists.")]

    @api.depends("pipeline_id.code")
    def _compute_display_name(self):
        for run in self:
            run.display_name = f"{run.pipeline_id.code or '?'} #{run.id or '—'}"

    @api.depends("commit_sha")
    def _compute_short_sha(self):
        for run in self:
            run.short_sha = (run.commit_sha or "")[:12]

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

    @api.depends("window_override_ids.state")
    def _compute_break_glass(self):
        for run in self:
            run.break_glass = "confirmed" in run.window_override_ids.mapped("state")

    @api.depends("state")
    def _compute_color(self):
        colors = {"succeeded": 10, "failed": 1, "cancelled": 0, "running": 4}
        colors.update(dict.fromkeys(("waiting_approval", "waiting_checklist", "waiting_window"), 3))
        for run in self:
            run.color = colors.get(run.state, 0)

    def write(self, vals):
        result = super().write(vals)
        if "state" in vals or "cancel_requested" in vals:
            self._notify_ui()
        return result

    # -- actions ----------------------------------------------------------------------------
    def action_open_graph(self):
        self.ensure_one()
        return {
            "type": "ir.actions.client",
            "tag": "influencegen_release.run_graph",
            "name": self.env._("%(run)s graph", run=self.display_name),
            "context": {"active_id": self.id},
        }

    def action_open_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("influencegen_release.action_release_job")
        action["domain"] = [("run_id", "=", self.id)]
        return action

    def action_cancel(self):
        """Ask the scheduler to stop the run: it kills containers and marks what is left."""
        for run in self.filtered(lambda r: r.state not in TERMINAL and not r.cancel_requested):
            run.cancel_requested = True
            run.message_post(body=self.env._("Cancellation requested by %(user)s.", user=self.env.user.name))
        self._wake_scheduler()
        return True

    def action_break_glass(self):
        """Ask to deploy outside the maintenance window; a second Release Manager confirms."""
        self.ensure_one()
        if not self.env.user.has_group(RELEASE_MANAGER):
            raise AccessError(self.env._("Only a Release Manager may break glass."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Break glass"),
            "res_model": "release.window.override",
            "view_mode": "form",
            "target": "new",
            "context": {"default_run_id": self.id},
        }

    def action_retry(self):
        """Start the same pipeline on the same commit again, as a new run linked to this one."""
        self.ensure_one()
        if self.state not in ("failed", "cancelled"):
            raise UserError(self.env._("Only a failed or cancelled run can be retried."))
        params = json.loads(self.params_json)
        base = self.fingerprint.split(":")[0]
        attempt = 1 + self.search_count([("fingerprint", "=like", f"{base}%")])
        run = self._create_run(self.pipeline_id, self.repository_id, params, fingerprint=f"{base}:{attempt}")
        run.retry_of_id = self
        self.message_post(body=self.env._("Retried as %(run)s.", run=run.display_name))
        self._wake_scheduler()
        return run._action_open()

    # -- API (XML-RPC: Git hooks, CLI, UI) ---------------------------------------------------
    @api.model
    def api_trigger(self, payload):
        """Start the pipelines a push concerns; return ``{"runs": [{id, pipeline, state, url}]}``."""
        self.check_access("create")  # a Developer's right, even when the run already exists
        if not isinstance(payload, dict):
            raise UserError(self.env._("The payload must be a mapping with repository, ref and after."))
        repository = self._payload_repository(payload.get("repository"))
        ref = self._payload_ref(payload.get("ref"))
        sha = (payload.get("after") or "").strip().lower()
        if sha == ZERO_SHA:
            return {"runs": [], "message": self.env._("%(ref)s was deleted: nothing to run.", ref=ref)}
        if not SHA_RE.match(sha):
            raise UserError(self.env._("'after' must be a full 40-character commit sha, got %(sha)r.", sha=sha))
        pipelines = self._payload_pipelines(repository, ref, payload.get("pipeline"))
        params = {
            "repository": repository.name,
            "ref": ref,
            "sha": sha,
            "before": payload.get("before") or False,
            "pusher": payload.get("pusher") or False,
        }
        summaries = [self._trigger_one(pipeline, repository, params) for pipeline in pipelines]
        self._wake_scheduler()
        return {"runs": summaries}

    @api.model
    def api_status(self, run_id):
        run = self.browse(int(run_id)).exists()
        if not run:
            raise UserError(self.env._("There is no run %(id)s.", id=run_id))
        run.check_access("read")
        return run._status()

    @api.model
    def api_graph(self, run_id):
        """What the run graph shows: the status, plus the linked runs and what the user may do."""
        run = self.browse(int(run_id)).exists()
        if not run:
            raise UserError(self.env._("There is no run %(id)s.", id=run_id))
        run.check_access("read")
        may_act = self.env.user.has_group(DEVELOPER) and run.has_access("write")
        jobs = {job.id: job for job in run.job_ids}
        status = run._status()
        for stage in status["stages"]:
            for job in stage["jobs"]:
                job["retries"] = jobs[job["id"]].attempt - 1
                job["log_size"] = jobs[job["id"]].log_size
        return dict(
            status,
            name=run.display_name,
            version=run.version or False,
            parent_run=run.parent_run_id._ui_links(),
            retry_of=run.retry_of_id._ui_links(),
            chained_runs=run.child_run_ids._ui_links(),
            can_cancel=may_act and run.state not in TERMINAL and not run.cancel_requested,
            can_retry=may_act and run.state in ("failed", "cancelled"),
        )

    # -- helpers ------------------------------------------------------------------------------
    def _ui_links(self):
        return [{"id": run.id, "name": run.display_name, "state": run.state} for run in self]

    def _notify_ui(self, jobs=None):
        """Tell the open run graphs and log viewers that these runs (and jobs) changed. The
        message carries ids only and goes to every Release User: each browser reads what it
        may see through the ORM, so team-restricted runs stay hidden."""
        if self:
            self.env["bus.bus"]._sendone(
                self.env.ref(RELEASE_USER), UI_NOTIFICATION, {"run_ids": self.ids, "job_ids": jobs.ids if jobs else []}
            )

    def _payload_repository(self, name):
        if not name:
            raise UserError(self.env._("The payload names no repository."))
        Repository = self.env["release.repository"]
        repository = Repository.search([("name", "=", name)], limit=1) or Repository.search([("url", "=", name)], limit=1)
        if not repository:
            raise UserError(
                self.env._(
                    "Unknown repository %(name)r: configure it under Release > Configuration > Repositories.", name=name
                )
            )
        return repository

    def _payload_ref(self, ref):
        ref = (ref or "").strip()
        if not ref:
            raise UserError(self.env._("The payload names no ref (e.g. refs/heads/main)."))
        if not ref.startswith("refs/"):
            ref = f"refs/heads/{ref}"
        if not ref.startswith(("refs/heads/", "refs/tags/")) or ref.endswith("/"):
            raise UserError(self.env._("%(ref)r is not a branch or tag ref.", ref=ref))
        return ref

    def _payload_pipelines(self, repository, ref, code):
        candidates = repository.pipeline_ids
        if code:
            pipeline = candidates.filtered(lambda p: p.code == code)
            if not pipeline:
                raise UserError(
                    self.env._(
                        "Pipeline %(code)r does not run on repository %(repo)s (it runs: %(codes)s).",
                        code=code,
                        repo=repository.name,
                        codes=", ".join(candidates.mapped("code")) or "-",
                    )
                )
            return pipeline
        matching = candidates.filtered(lambda p: any(t._matches_ref(ref) for t in p.trigger_ids))
        if not matching:
            patterns = {t.branch_patterns or t.tag_patterns for t in candidates.trigger_ids if t.event in ("push", "tag")}
            raise UserError(
                self.env._(
                    "%(ref)s matches no pipeline of repository %(repo)s (trigger patterns: %(patterns)s).",
                    ref=ref,
                    repo=repository.name,
                    patterns="; ".join(sorted(p for p in patterns if p)) or "none",
                )
            )
        return matching

    def _trigger_one(self, pipeline, repository, params):
        fingerprint = self._fingerprint(pipeline, repository, params)
        existing = self.search([("fingerprint", "=", fingerprint)], limit=1)
        if existing:
            return existing._summary()
        try:
            with self.env.cr.savepoint():
                run = self._create_run(pipeline, repository, params, fingerprint)
        except pg_errors.UniqueViolation:
            # Another call created it a moment ago; our snapshot cannot see it, a new cursor can.
            with self.env.registry.cursor() as cr:
                return self.with_env(self.env(cr=cr)).search([("fingerprint", "=", fingerprint)], limit=1)._summary()
        return run._summary()

    def _fingerprint(self, pipeline, repository, params):
        identity = {
            "pipeline": pipeline.code,
            "definition": pipeline.source_checksum,
            "repository": repository.id,
            "ref": params["ref"],
            "sha": params["sha"],
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    def _create_run(self, pipeline, repository, params, fingerprint):
        spec = params.get("spec") or pipeline._spec()
        params = dict(params, pipeline=pipeline.code, spec=spec)
        run = self.create(
            {
                "pipeline_id": pipeline.id,
                "repository_id": repository.id,
                "ref": params["ref"],
                "commit_sha": params["sha"],
                "before_sha": params.get("before") or False,
                "pusher": params.get("pusher") or False,
                "fingerprint": fingerprint,
                "params_json": json.dumps(params, sort_keys=True),
            }
        )
        Stage, Task = self.env["release.stage"], self.env["release.task"]
        stages = {s.key: s for s in Stage.with_context(active_test=False).search([("pipeline_id", "=", pipeline.id)])}
        tasks = {t.key: t for t in Task.with_context(active_test=False).search([("pipeline_id", "=", pipeline.id)])}
        codes = {stage["environment"] for stage in spec["stages"] if stage.get("environment")}
        environments = {e.code: e for e in self.env["release.environment"].with_context(active_test=False).search([("code", "in", list(codes))])}
        jobs = []
        for stage in spec["stages"]:
            applies = not stage["branches"] or ref_matches(stage["branches"], params["ref"])
            environment = environments.get(stage.get("environment"))
            for task in stage["tasks"]:
                jobs.append(
                    {
                        "run_id": run.id,
                        "stage_id": stages[stage["key"]].id,
                        "stage_key": stage["key"],
                        "stage_sequence": stage["sequence"],
                        "environment_id": environment.id if environment else False,
                        "task_id": tasks[task["key"]].id,
                        "task_key": task["key"],
                        "sequence": task["sequence"],
                        "name": task["name"],
                        "allow_failure": task["allow_failure"],
                        "mode": task["mode"],
                        "required_labels": ", ".join(task.get("labels", [])) or False,
                        "state": "pending" if applies else "skipped",
                    }
                )
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

    def _wake_scheduler(self):
        # Waking the scheduler is the system's job whoever triggers: it only creates a trigger row.
        self.env.ref("influencegen_release.ir_cron_release_scheduler").sudo()._trigger()

    def _spec(self):
        self.ensure_one()
        return json.loads(self.params_json or "{}").get("spec", {})

    def _spec_task(self, key):
        for stage in self._spec().get("stages", []):
            for task in stage["tasks"]:
                if task["key"] == key:
                    return task
        raise UserError(self.env._("Task %(key)s is not in the run's pipeline snapshot.", key=key))

    def _url(self):
        base = self.env["release.settings"]._base_url()
        return f"{base}/odoo/action-influencegen_release.action_release_run/{self.id}"

    def _action_open(self):
        return {"type": "ir.actions.act_window", "res_model": "release.run", "res_id": self.id, "view_mode": "form"}

    def _summary(self):
        return {"id": self.id, "pipeline": self.pipeline_id.code, "state": self.state, "url": self._url()}

    def _stage_state(self, jobs):
        states = set(jobs.mapped("state"))
        if states <= {"skipped"}:
            return "skipped"
        if states & {"starting", "running"}:
            return "running"
        if "queued" in states:
            return "queued"
        if "waiting" in states:
            return "waiting"
        if any(j.state == "failed" and not j.allow_failure for j in jobs):
            return "failed"  # what has not started yet never will
        if "cancelled" in states:
            return "cancelled"
        if "pending" in states:
            return "pending"
        return "succeeded"

    def _status(self):
        self.ensure_one()
        stages = []
        for stage in self._spec().get("stages", []):
            jobs = self.job_ids.filtered(lambda j, key=stage["key"]: j.stage_key == key)
            stages.append(
                {
                    "name": stage["name"],
                    "state": self._stage_state(jobs),
                    "jobs": [
                        {
                            "id": job.id,
                            "name": job.name,
                            "state": job.state,
                            "exit_code": job.exit_code if job.state in DONE_STATES else False,
                            "duration_s": round(job.duration_s, 3),
                            "attempt": job.attempt,
                            "reason": job.failure_reason or False,
                        }
                        for job in jobs
                    ],
                    "gates": [
                        {"name": gate["name"], "result": self._gate_result(stage, gate)} for gate in stage["gates"]
                    ],
                }
            )
        return {
            "id": self.id,
            "state": self.state,
            "pipeline": self.pipeline_id.code,
            "ref": self.ref,
            "sha": self.commit_sha,
            "url": self._url(),
            "stages": stages,
            "approvals": [
                {
                    "id": a.id,
                    "state": a.state,
                    "stage": a.stage_id.name,
                    "awaiting": a.awaiting or False,
                    "deadline": fields.Datetime.to_string(a.deadline) if a.deadline else False,
                    "artifact_sha256": a.artifact_sha256 or False,
                }
                for a in self.approval_ids.sorted("id")
            ],
            "checklists": [
                {"id": i.id, "task": i.job_id.task_key, "item": i.name, "state": i.state, "by": i.checked_by_id.login or False}
                for i in self.checklist_item_ids
            ],
            "window": {
                "opens_at": fields.Datetime.to_string(self.window_opens_at) if self.window_opens_at else False,
                "reason": self.window_reason or False,
                "break_glass": self.break_glass,
            },
            "rollback": self.rollback_state or False,
            "parent": self.parent_run_id.id or False,
            "chained": self.child_run_ids.ids,
        }

    # -- state machine (called by the scheduler under a row lock) -----------------------------
    def _advance(self):
        """Move the run forward one step from its jobs' states; results only get worse."""
        self.ensure_one()
        if self.state in TERMINAL:
            return
        if self.cancel_requested:
            if not self.job_ids.filtered(lambda j: j.state in ("starting", "running")):
                self.job_ids.filtered(lambda j: j.state not in DONE_STATES).write({"state": "cancelled"})
                self.approval_ids._void(self.env._("the run was cancelled"))
                self._finish("cancelled")
            return
        now = fields.Datetime.now()
        if not self.started_at:
            self.started_at = now
        self._settle_checklists()
        self.approval_ids.filtered(lambda a: a.state == "pending")._check_deadlines(now)
        for stage in self._spec()["stages"]:
            jobs = self.job_ids.filtered(lambda j, key=stage["key"]: j.stage_key == key)
            state = self._stage_state(jobs)
            if state == "succeeded" and not self._gates_pass(stage):
                self.job_ids.filtered(lambda j: j.state == "pending").write({"state": "skipped"})
                self._finish("failed")
                return
            if state == "succeeded":
                self.env["release.notification"]._notify_stage(self, stage, "succeeded")
            if state in ("skipped", "succeeded"):
                continue
            if state == "failed":
                self.job_ids.filtered(lambda j: j.state == "pending").write({"state": "skipped"})
                self._rollback_path(stage, jobs)
                self.env["release.notification"]._notify_stage(self, stage, "failed")
                self._finish("failed")
                return
            if state == "cancelled":
                self._finish("cancelled")
                return
            if stage["trigger"] == "manual" and jobs.filtered(lambda j: j.state == "pending"):
                decision = self._stage_decision(stage, jobs)
                if decision == "rejected":
                    self.job_ids.filtered(lambda j: j.state == "pending").write({"state": "skipped"})
                    self._finish("failed")
                    return
                if decision != "approved":
                    self._set_state("waiting_approval")
                    return
            self._set_state(self._start_ready_jobs(stage, jobs, now))
            return
        self._finish("succeeded")

    def _start_ready_jobs(self, stage, jobs, now):
        """Queue the stage's jobs that may start; return the run's state.

        Container tasks of a stage run side by side. Checklists and built-in actions run in
        the order they are written, each after everything before it in the stage. Tasks
        that need the maintenance window wait for it (or for a confirmed break-glass)."""
        ready, earlier_open = self.env["release.job"], False
        for job in jobs.sorted(lambda j: (j.sequence, j.id)):
            ordered = job.mode != "run"
            if job.state in DONE_STATES:
                continue
            if job.state != "pending" or (ordered and (earlier_open or ready)):
                earlier_open = True
                if ordered:
                    break
                continue
            ready |= job
            earlier_open = True
            if ordered:
                break
        held = ready.filtered(lambda j: self._needs_window(stage, j))
        if held:
            is_open, when, why = self._window(stage, now)
            if is_open or self.break_glass:
                held = held.browse()
            elif self.state != "waiting_window":
                self.write({"window_opens_at": when, "window_reason": why})
                self.message_post(
                    body=self.env._(
                        "%(stage)s waits for the maintenance window of %(env)s (%(why)s); it opens %(when)s.",
                        stage=stage["name"],
                        env=stage["environment"],
                        why=why,
                        when=fields.Datetime.to_string(when) + " UTC" if when else self.env._("never in sight"),
                    )
                )
        (ready - held).write({"state": "queued"})
        if ready and not held and self.state == "waiting_window":
            how = self.env._("under break glass") if self.break_glass else self.env._("inside the maintenance window")
            self.message_post(body=self.env._("Deploying %(stage)s %(how)s.", stage=stage["name"], how=how))
            self.write({"window_opens_at": False, "window_reason": False})
        states = set(jobs.mapped("state"))
        if states & {"queued", "starting", "running"}:
            return "running"
        if held:
            return "waiting_window"
        return "waiting_checklist" if "waiting" in states else "running"

    def _needs_window(self, stage, job):
        if not stage.get("environment"):
            return False
        task = self._spec_task(job.task_key)
        return task.get("window") or ((stage.get("approval") or {}).get("window") and job.mode != "checklist")

    def _window(self, stage, now):
        environment = self.env["release.environment"].search([("code", "=", stage["environment"])], limit=1)
        return environment._window_state(now) if environment else (True, None, "")

    def _settle_checklists(self):
        """A waiting checklist job ends when its items are all done, or fails on a failed one."""
        for job in self.job_ids.filtered(lambda j: j.state == "waiting" and j.mode == "checklist"):
            items = self.checklist_item_ids.filtered(lambda i, j=job: i.job_id == j)
            failed = items.filtered(lambda i: i.state == "failed")
            if failed:
                reason = "; ".join(f"{i.name}: {i.note} ({i.checked_by_id.name})" for i in failed)
                job.write({"state": "failed", "exit_code": 1, "failure_reason": reason[:250], "finished_at": fields.Datetime.now()})
            elif items and not items.filtered(lambda i: i.state == "todo"):
                job.write({"state": "succeeded", "exit_code": 0, "finished_at": fields.Datetime.now()})

    def _rollback_path(self, stage, jobs):
        """A deployment stage that failed after changing its target must be rolled back."""
        changed = jobs.filtered(lambda j: j.state == "succeeded" and j.mode != "checklist")
        if not (stage.get("environment") and changed):
            return
        self.rollback_state = "required"
        rollback = self._spec().get("rollback") or {}
        body = self.env._(
            "%(stage)s failed after %(jobs)s changed %(env)s: rollback required (%(strategy)s).",
            stage=stage["name"],
            jobs=", ".join(changed.mapped("name")),
            env=stage["environment"],
            strategy=rollback.get("strategy", "none"),
        )
        self.message_post(body=body)
        for user in self.env.ref(RELEASE_MANAGER).users.filtered("active"):
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=self.env._("Roll back %(env)s", env=stage["environment"]),
                note=body,
                user_id=user.id,
            )

    def _stage_decision(self, stage, jobs):
        """pending, approved or rejected: the stage's current approval request, asked for
        when missing and asked for again when the artifact it was bound to changed."""
        checksum = self._release_checksum()
        approvals = self.approval_ids.filtered(lambda a: a.stage_key == stage["key"] and a.state != "void")
        current = approvals.sorted("id")[-1:]
        if current and current.artifact_sha256 != checksum:
            current._void(
                self.env._(
                    "the artifact changed from %(old)s to %(new)s", old=(current.artifact_sha256 or "")[:12], new=checksum[:12]
                )
            )
            current = approvals.browse()
        if not current:
            self.env["release.approval"]._request(self, stage, jobs[:1].stage_id, checksum)
            return "pending"
        if current.state == "pending":
            current._sync_activities()
        return current.state

    def _release_checksum(self):
        """What approvals bind to: the deployable artifacts of the run, else its commit."""
        artifacts = self.artifact_ids.filtered(lambda a: a.kind in DEPLOYABLE_KINDS and a.sha256)
        lines = sorted(f"{a.kind}:{a.name}:{a.sha256}" for a in artifacts) or [f"commit:{self.commit_sha}"]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def _excluded_approvers(self, exclusions):
        """Users who may not decide on this change, and why (segregation of duties)."""
        Users = self.env["res.users"].with_context(active_test=False)
        excluded, notes = Users, []
        if "triggerer" in exclusions:
            excluded |= self.triggered_by_id
            notes.append(self.env._("%(user)s triggered the run", user=self.triggered_by_id.name))
            if self.pusher:
                pushers = Users.search(["|", ("login", "=ilike", self.pusher), ("email", "=ilike", self.pusher)])
                excluded |= pushers
                notes += [self.env._("%(user)s pushed it", user=u.name) for u in pushers]
        if "author" in exclusions and self.repository_id and self.commit_sha:
            try:
                name, email = commit_author(self.repository_id.url, self.commit_sha, self.env["release.settings"]._path("git-mirrors"))
            except GitSourceError as exc:
                notes.append(self.env._("commit author unknown: %(error)s", error=exc))
            else:
                authors = Users.search(["|", ("email", "=ilike", email), ("login", "=ilike", email)]) if email else Users
                excluded |= authors
                notes.append(self.env._("%(name)s <%(email)s> authored the commit", name=name, email=email))
        return excluded, "; ".join(notes)

    def _last_environment(self):
        """The environment of the last stage of this run that deployed successfully."""
        for stage in reversed(self._spec().get("stages", [])):
            jobs = self.job_ids.filtered(lambda j, key=stage["key"]: j.stage_key == key)
            if stage.get("environment") and jobs and self._stage_state(jobs) == "succeeded":
                return self.env["release.environment"].search([("code", "=", stage["environment"])], limit=1)
        return self.env["release.environment"]

    def _gate_result(self, stage, gate):
        if gate["type"] == "manual":
            decided = self.approval_ids.filtered(lambda a: a.stage_id.key == stage["key"] and a.state in ("approved", "rejected"))
            return {"approved": "passed", "rejected": "failed"}.get(decided[:1].state, "pending")
        result = self.gate_result_ids.filtered(lambda r: r.stage_key == stage["key"] and r.gate_key == gate["key"])
        return result[:1].result or "pending"

    def _gates_pass(self, stage):
        """Evaluate the stage's automatic gates once, when its jobs are done; a failure stops the run."""
        passed = True
        for gate in (g for g in stage["gates"] if g["type"] == "automatic"):
            existing = self.gate_result_ids.filtered(lambda r, k=gate["key"]: r.stage_key == stage["key"] and r.gate_key == k)
            if not existing:
                existing = self._evaluate_gate(stage, gate)
            passed &= existing.result == "passed"
        return passed

    def _evaluate_gate(self, stage, gate):
        keys = {key for criterion in gate["criteria"] for key in criterion["from"]}
        jobs = self.job_ids.filtered(lambda j: j.task_key in keys)
        baseline_run = self._baseline_run(gate["baseline"])
        # Findings that only passed thanks to a waiver stay "new" for later runs: when the
        # waiver expires, they block again.
        baseline = set(baseline_run.finding_ids.filtered(lambda f: not f.waived).mapped("fingerprint")) if baseline_run else None
        waived = self.env["release.waiver"]._waived(self.pipeline_id, set(jobs.finding_ids.mapped("fingerprint")))
        outcome = evaluate(gate["criteria"], {job.task_key: job._gate_input() for job in jobs}, baseline, waived)
        jobs.finding_ids.filtered(lambda f: f.fingerprint in waived).write({"waived": True})
        blocking = {f.fingerprint for f in outcome.blocking}
        record = self.env["release.gate.result"].create(
            {
                "run_id": self.id,
                "gate_id": self.env["release.gate"].with_context(active_test=False).search(
                    [("stage_id.pipeline_id", "=", self.pipeline_id.id), ("stage_id.key", "=", stage["key"]), ("key", "=", gate["key"])],
                    limit=1,
                ).id,
                "gate_key": gate["key"],
                "stage_key": stage["key"],
                "name": gate["name"],
                "result": "passed" if outcome.passed else "failed",
                "explanation": outcome.explanation,
                "baseline_run_id": baseline_run.id if baseline_run else False,
                "finding_ids": [Command.set(jobs.finding_ids.filtered(lambda f: f.fingerprint in blocking).ids)],
            }
        )
        body = Markup("<p>%s</p><pre>%s</pre>") % (
            self.env._("Gate %(gate)s %(result)s.", gate=gate["name"], result=record.result),
            outcome.explanation,
        )
        if outcome.passed:
            self.message_post(body=body)
        else:
            self._notify_failure(
                self.env._("%(run)s: gate %(gate)s failed", run=self.display_name, gate=gate["name"]), body
            )
        return record

    def _notify_failure(self, subject, body):
        """Tell the person who started the run and the groups the pipeline's failure
        notification rules name, and queue the pipeline's notifications (email, Slack) of the
        failed gate, named after the pipeline's kind (GATE_FAILURE_EVENT)."""
        rules = self.pipeline_id.notification_ids.filtered(
            lambda r: r.channel_email and {e.strip() for e in (r.events or "").split(",")} & set(FAILURE_EVENTS)
        )
        # Group members who read mail get the outbox's email, not a second one from here.
        emailed = rules.group_ids.users.filtered(lambda u: u.notification_type == "email" and u.email)
        partners = ((rules.group_ids.users | self.triggered_by_id) - emailed).partner_id
        self.message_post(
            body=body, subject=subject, message_type="comment", subtype_xmlid="mail.mt_comment", partner_ids=partners.ids
        )
        self._notify_event(GATE_FAILURE_EVENT.get(self.pipeline_id.kind, "build_failed"), subject, body)

    def _notify_event(self, event, subject, body):
        """Queue the pipeline's notifications (email, Slack) of ``event``; delivered by a cron,
        so this never waits for nor fails on a mail server or a webhook."""
        self.ensure_one()
        return self.env["release.notification"]._enqueue(self, event, subject, body)

    def _baseline_run(self, baseline):
        """The run whose findings are old: by default the last success on the same branch."""
        if baseline == "none":
            return self.browse()
        ref = f"refs/heads/{baseline.split(':', 1)[1]}" if baseline.startswith("branch:") else self.ref
        return self.search(
            [("pipeline_id", "=", self.pipeline_id.id), ("ref", "=", ref), ("state", "=", "succeeded"), ("id", "!=", self.id)],
            order="id desc",
            limit=1,
        )

    def _set_state(self, state):
        if self.state != state:
            self.state = state

    def _finish(self, state):
        self.write({"state": state, "finished_at": fields.Datetime.now()})
        self.message_post(body=self.env._("Run %(state)s.", state=dict(RUN_STATES)[state].lower()))
        self.env["release.notification"]._notify_run(self)
        self._start_chained()

    def _start_chained(self):
        """Pipelines that follow this one (``on_success`` here, or a ``pipeline`` trigger
        there) start on the same commit, linked to this run."""
        if self.state not in ("succeeded", "failed") or not self.repository_id:
            return
        Pipeline = self.env["release.pipeline"]
        codes = [c.strip() for c in (self.pipeline_id.on_success_codes or "").split(",") if c.strip()]
        followers = Pipeline.search([("code", "in", codes)]) if self.state == "succeeded" else Pipeline
        followers |= self.env["release.pipeline.trigger"].search(
            [
                ("event", "=", "pipeline"),
                ("source_pipeline_code", "=", self.pipeline_id.code),
                ("source_result", "in", [self.state, "any"]),
            ]
        ).pipeline_id
        depth, ancestor = 0, self
        while ancestor.parent_run_id:
            depth, ancestor = depth + 1, ancestor.parent_run_id
        for pipeline in followers.filtered("active"):
            if depth >= MAX_CHAIN_DEPTH:
                self.message_post(body=self.env._("Not starting %(code)s: the chain is %(depth)s runs deep.", code=pipeline.code, depth=depth + 1))
                continue
            params = {"repository": self.repository_id.name, "ref": self.ref, "sha": self.commit_sha, "before": False, "pusher": self.pusher or False}
            fingerprint = f"{self._fingerprint(pipeline, self.repository_id, params)}:after:{self.id}"
            if self.search_count([("fingerprint", "=", fingerprint)]):
                continue
            child = self._create_run(pipeline, self.repository_id, params, fingerprint)
            child.parent_run_id = self
            self.message_post(body=self.env._("Started %(run)s (chained).", run=child.display_name))
            child.message_post(body=self.env._("Started by %(run)s, which %(state)s.", run=self.display_name, state=self.state))
