import json

from odoo import api, fields, models
from odoo.exceptions import UserError

from ...engine.execution.stages import stage_state
from ...engine.pipeline.schema import TRIGGER_EVENTS
from ...engine.source import push
from ...engine.vocabulary import JOB_DONE_STATES as DONE_STATES
from ...engine.vocabulary import RUN_TERMINAL as TERMINAL
from .release_scheduler_loop import DEFER_UI, defer_ui

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
DEVELOPER = "influencegen_release.group_release_developer"
RELEASE_USER = "influencegen_release.group_release_user"
UI_NOTIFICATION = "influencegen_release/run_changed"  # what the OWL views listen for on the bus


class ReleaseRun(models.Model):
    _name = "release.run"
    _description = "Pipeline Run"
    _inherit = ["mail.thread", "mail.activity.mixin", "release.run.advance"]
    _order = "id desc"
    _mail_post_access = "read"  # approvers, testers and checklist confirmers comment on runs

    pipeline_id = fields.Many2one("release.pipeline", required=True, ondelete="restrict", index=True, tracking=True)
    repository_id = fields.Many2one("release.repository", ondelete="restrict", index=True)
    ref = fields.Char(string="Git ref", required=True, default="refs/heads/main", help="e.g. refs/heads/main")
    commit_sha = fields.Char(string="Commit", index=True)
    short_sha = fields.Char(string="Short commit", compute="_compute_short_sha")
    before_sha = fields.Char(string="Previous commit")
    pusher = fields.Char(help="Who pushed, as the Git hook reported it.")
    trigger_kind = fields.Selection([(e, e.capitalize()) for e in TRIGGER_EVENTS], string="Started by", readonly=True, index=True)
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
        return self.env["release.window.override"]._action_request(self)

    def action_retry(self):
        """Start the same pipeline on the same commit again, as a new run linked to this one."""
        self.ensure_one()
        if self.state not in ("failed", "cancelled"):
            raise UserError(self.env._("Only a failed or cancelled run can be retried."))
        params = json.loads(self.params_json)
        base = self.fingerprint.split(":")[0]
        attempt = 1 + self.search_count([("fingerprint", "=like", f"{base}%")])
        run = self.pipeline_id._create_run(self.repository_id, params, fingerprint=f"{base}:{attempt}")
        run.retry_of_id = self
        self.message_post(body=self.env._("Retried as %(run)s.", run=run.display_name))
        self._wake_scheduler()
        return run._action_open()

    # -- API (XML-RPC: Git hooks, CLI, UI) ---------------------------------------------------
    @api.model
    def api_trigger(self, payload):
        """Start the pipelines a push concerns; return ``{"runs": [{id, pipeline, state, url}]}``
        (with ``skipped`` and a ``message`` when ``paths`` kept pipelines from starting)."""
        self.check_access("create")  # a Developer's right, even when the run already exists
        if not isinstance(payload, dict):
            raise UserError(self.env._("The payload must be a mapping with repository, ref and after."))
        repository = self.env["release.repository"]._from_payload(payload.get("repository"))
        ref = push.full_ref(payload.get("ref"))
        if not ref:
            raise UserError(self.env._("The payload names no ref (e.g. refs/heads/main)."))
        if not push.is_branch_or_tag(ref):
            raise UserError(self.env._("%(ref)r is not a branch or tag ref.", ref=ref))
        sha = push.commit_sha(payload.get("after"))
        if push.is_deleted(sha):
            return {"runs": [], "message": self.env._("%(ref)s was deleted: nothing to run.", ref=ref)}
        if not push.is_full_sha(sha):
            raise UserError(self.env._("'after' must be a full 40-character commit sha, got %(sha)r.", sha=sha))
        params = {"repository": repository.name, "ref": ref, "sha": sha}
        params.update(before=payload.get("before") or False, pusher=payload.get("pusher") or False)
        result = self.env["release.pipeline.trigger"]._start_push(repository, params, payload.get("pipeline"))
        self._wake_scheduler()
        return result

    @api.model
    def api_status(self, run_id):
        return self._readable(run_id)._status()

    # -- helpers ------------------------------------------------------------------------------
    def _readable(self, run_id):
        """Run ``run_id``, which the API caller may read."""
        run = self.browse(int(run_id)).exists()
        if not run:
            raise UserError(self.env._("There is no run %(id)s.", id=run_id))
        run.check_access("read")
        return run

    def _ui_links(self):
        return [{"id": run.id, "name": run.display_name, "state": run.state} for run in self]

    def _notify_ui(self, jobs=None):
        """Tell the open run graphs and log viewers that these runs (and jobs) changed. The
        message carries ids only and goes to every Release User: each browser reads what it
        may see through the ORM, so team-restricted runs stay hidden. The scheduler loop's
        steps tell them once at the end of its tick."""
        if self and self.env.context.get(DEFER_UI):
            defer_ui(self.env.cr.dbname, self.ids, jobs.ids if jobs else [])
        elif self:
            self.env["bus.bus"]._sendone(
                self.env.ref(RELEASE_USER), UI_NOTIFICATION, {"run_ids": self.ids, "job_ids": jobs.ids if jobs else []}
            )

    def _wake_scheduler(self):
        # Waking the scheduler is the system's job whoever triggers (release.scheduler._wake).
        self.env["release.scheduler"]._wake()

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

    def _status(self):
        self.ensure_one()
        stages, Result = [], self.env["release.gate.result"]
        for stage in self._spec().get("stages", []):
            jobs = self._stage_jobs(stage)
            stages.append(
                {
                    "name": stage["name"],
                    "state": stage_state(jobs),
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
                    "gates": [{"name": gate["name"], "result": Result._result_of(self, stage, gate)} for gate in stage["gates"]],
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
            "checklists": self.checklist_item_ids._status(),
            "window": {
                "opens_at": fields.Datetime.to_string(self.window_opens_at) if self.window_opens_at else False,
                "reason": self.window_reason or False,
                "break_glass": self.break_glass,
            },
            "rollback": self.rollback_state or False,
            "parent": self.parent_run_id.id or False,
            "chained": self.child_run_ids.ids,
        }

    def _stage_jobs(self, stage):
        """The jobs of ``stage`` (a stage of the run's snapshot)."""
        return self.job_ids.filtered(lambda j: j.stage_key == stage["key"])
