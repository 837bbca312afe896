import logging
import os
import re
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ...engine.execution import outputs
from ...engine.execution.docker_runner import LogCursor
from ...engine.execution.log_store import LogStore
from ...engine.quality.gates import TaskResult
from ...engine.quality.report_testing import PARSERS as TEST_REPORT_FORMATS
from ...engine.quality.reports import Finding, TestResult
from ...engine.vocabulary import ROLE_GROUP

_logger = logging.getLogger(__name__)

JOB_STATES = [
    ("pending", "Pending"),
    ("queued", "Queued"),
    ("starting", "Starting"),
    ("running", "Running"),
    ("waiting", "Waiting for people"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("skipped", "Skipped"),
]
# Changes the run graph and the log viewer show live (release.run._notify_ui).
LIVE_FIELDS = {"state", "log_size", "attempt", "exit_code", "started_at", "finished_at"}
# What a job back in the queue no longer holds: its host, claim, container, deadline, log position.
UNCLAIMED = {
    "runner_id": False,
    "claim_token": False,
    "claimed_at": False,
    "container_id": False,
    "ahead": False,
    "deadline_at": False,
    "log_cursor_ns": False,
    "log_cursor_seen": 0,
}


class ReleaseJob(models.Model):
    """One task of one run. Its life is a few named transitions (as OCA queue_job names its
    job states): ``_queue``, ``_set_claimed``, ``_start``/``_adopt``, ``_wait``,
    ``_finish``/``_fail``, ``_retry``, ``_requeue``, ``_skip``, ``_cancel``. They alone write
    the state, exit code, failure reason, timestamps and attempt; the run and the scheduler
    decide when."""

    _name = "release.job"
    _description = "Pipeline Job (one task of one run)"
    _order = "run_id desc, stage_sequence, sequence, id"

    run_id = fields.Many2one("release.run", required=True, ondelete="restrict", index=True)
    pipeline_id = fields.Many2one(related="run_id.pipeline_id", store=True, index=True)
    stage_id = fields.Many2one("release.stage", required=True, ondelete="restrict")
    stage_key = fields.Char(required=True)
    stage_sequence = fields.Integer(string="Stage sequence", required=True, default=1)
    environment_id = fields.Many2one(
        "release.environment",
        readonly=True,
        ondelete="restrict",
        index=True,
        help="The environment the stage of the run's snapshot names, fixed when the run was created.",
    )
    task_id = fields.Many2one("release.task", required=True, ondelete="restrict")
    task_key = fields.Char(required=True, help="The task of the run's pipeline snapshot this job executes.")
    sequence = fields.Integer(default=1)
    name = fields.Char(required=True)
    state = fields.Selection(JOB_STATES, required=True, default="pending", index=True)
    allow_failure = fields.Boolean(readonly=True)
    mode = fields.Selection(
        [("run", "Container"), ("uses", "Built-in action"), ("checklist", "Checklist")], required=True, default="run"
    )
    required_labels = fields.Char(help="Runner labels this job needs.")
    exit_code = fields.Integer(readonly=True)
    oom_killed = fields.Boolean(string="Out of memory", readonly=True)
    failure_reason = fields.Char(readonly=True)
    attempt = fields.Integer(default=1, readonly=True)
    runner_id = fields.Many2one("release.runner", readonly=True, index=True)
    claim_token = fields.Char(readonly=True, copy=False)
    container_id = fields.Char(readonly=True, copy=False)
    container_name = fields.Char(readonly=True, copy=False)
    ahead = fields.Selection(
        [("preparing", "Being created ahead"), ("ready", "Created ahead"), ("warm", "In a warm container")],
        readonly=True,
        copy=False,
        help="A claimed job whose container is created (files in) while its host is full; it starts when a slot frees. "
        "Warm: its container was started before the job needed it; the job's files release it.",
    )
    claimed_at = fields.Datetime(readonly=True)
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    deadline_at = fields.Datetime(readonly=True, help="The container is stopped when it runs past this time.")
    duration_s = fields.Float(string="Duration (s)", compute="_compute_duration")
    log_dir = fields.Char(readonly=True, copy=False)
    log_size = fields.Integer(string="Log size (bytes)", readonly=True)
    log_cursor_ns = fields.Char(readonly=True, copy=False)
    log_cursor_seen = fields.Integer(readonly=True, copy=False)
    log_tail = fields.Text(compute="_compute_log_tail")
    artifact_ids = fields.One2many("release.artifact", "job_id", string="Reports and artifacts")
    finding_ids = fields.One2many("release.finding", "job_id", string="Findings")
    finding_count = fields.Integer(compute="_compute_finding_count")
    tests_total = fields.Integer(readonly=True)
    tests_failed = fields.Integer(readonly=True)
    tests_errors = fields.Integer(readonly=True)
    tests_skipped = fields.Integer(readonly=True)
    tests_failing = fields.Text(readonly=True, help="Failing tests, one per line.")
    report_problems = fields.Text(readonly=True, help="Reports missing or unreadable, one per line.")
    report_unknown = fields.Text(string="Not judged", readonly=True, help="What the tools could not judge, one per line.")

    @api.depends("started_at", "finished_at")
    def _compute_duration(self):
        now = fields.Datetime.now()
        for job in self:
            end = job.finished_at or (now if job.state == "running" else False)
            job.duration_s = (end - job.started_at).total_seconds() if job.started_at and end else 0.0

    @api.depends("finding_ids")
    def _compute_finding_count(self):
        for job in self:
            job.finding_count = len(job.finding_ids)

    @api.depends("log_size", "state")
    def _compute_log_tail(self):
        for job in self:
            job.log_tail = job._log_store().tail(200) if job.log_dir else False

    def write(self, vals):
        result = super().write(vals)
        if LIVE_FIELDS & vals.keys():
            self.run_id._notify_ui(self)
        return result

    def action_open_log(self):
        self.ensure_one()
        return {
            "type": "ir.actions.client",
            "tag": "influencegen_release.log_viewer",
            "name": self.env._("Log of %(job)s", job=self.name),
            "context": {"active_id": self.id},
        }

    def action_download_log(self):
        self.ensure_one()
        return {"type": "ir.actions.act_url", "url": f"/influencegen_release/job/{self.id}/log", "target": "new"}

    # -- transitions ------------------------------------------------------------------------
    def _queue(self):
        """pending → queued: the run lets these jobs start."""
        self.write({"state": "queued"})

    def _skip(self):
        """pending → skipped: the run will not get to these jobs."""
        self.write({"state": "skipped"})

    def _cancel(self):
        """→ cancelled: jobs of a cancelled run that nothing runs any more."""
        self.write({"state": "cancelled"})

    def _set_claimed(self, runner, token, ahead=False):
        """queued → starting on ``runner`` (its container created ahead when ``ahead`` says so);
        committed before the container is started, so a start that dies leaves a claim the
        reconcile recognises by ``token`` and name."""
        vals = {"state": "starting", "runner_id": runner.id, "claim_token": token, "claimed_at": fields.Datetime.now()}
        if ahead:
            vals["ahead"] = ahead
        self.write(vals)

    def _start(self, container_id=False):
        """→ running: in the container just started for this attempt, or (a built-in job,
        without a container) handed to a worker of the scheduler. Both must end by the task's
        timeout; a checklist waits for people as long as it takes."""
        now = fields.Datetime.now()
        vals = {"state": "running", "started_at": now, "log_dir": self._log_dir(), "ahead": False}
        if self.mode != "checklist":
            vals["deadline_at"] = now + timedelta(seconds=self._spec()["timeout"])
        if container_id:
            vals.update(container_id=container_id, container_name=self._container_name())
        self.write(vals)

    def _adopt(self, container_id):
        """starting → running in the container that a start made before its worker died: the
        container is adopted, never started twice."""
        _logger.info("job %s adopts container %s", self.id, container_id[:12])
        self._start(container_id)

    def _wait(self):
        """→ waiting: a checklist waits for people to confirm its items."""
        self.write({"state": "waiting"})

    def _finish(self, state, exit_code=None, reason=None):
        """→ succeeded, failed or cancelled, with the exit code and why (masked); the reason of
        a job that did not succeed also ends its log."""
        reason = reason and self._masker().mask(reason)
        vals = {"state": state, "finished_at": fields.Datetime.now(), "failure_reason": reason or False}
        if exit_code is not None:
            vals["exit_code"] = exit_code
        if reason and state != "succeeded":
            self._append_log(f"\n[influencegen] {reason}\n")
        self.write(vals)

    def _fail(self, reason, exit_code=None):
        self._finish("failed", exit_code, reason)

    def _retry(self, exit_code):
        """A failure the task declares retryable: the next attempt goes back to the queue."""
        self._append_log(f"\n[influencegen] exit code {exit_code} is retryable: attempt {self.attempt + 1}\n")
        self.write(dict(UNCLAIMED, state="queued", attempt=self.attempt + 1, exit_code=exit_code))

    def _requeue(self, reason):
        """starting → queued, the same attempt: a claim nobody started (``reason`` says why)."""
        _logger.info("job %s goes back to the queue: %s", self.id, reason)
        self.write(dict(UNCLAIMED, state="queued"))

    # -- built-in jobs ------------------------------------------------------------------------
    def _run_checklist(self):
        """A job of people: the checklist opens and waits for them (the scheduler does this in
        its tick: it only writes records). Built-in actions run in the scheduler's workers
        (``release.scheduler._execute_builtin``)."""
        self._start()
        self._open_checklist(self._spec())

    def _open_checklist(self, task):
        """People confirm the items (``release.checklist.item``); the run settles the job."""
        roles = task.get("confirm_by") or []
        self.env["release.checklist.item"].create(
            [
                {"job_id": self.id, "sequence": index, "name": item, "confirm_roles": ",".join(roles)}
                for index, item in enumerate(task["checklist"], 1)
            ]
        )
        items = "\n".join(f"[ ] {item}" for item in task["checklist"])
        self._append_log(f"Waiting for {', '.join(roles)} to confirm:\n{items}\n")
        self._wait()
        groups = [self.env.ref(ROLE_GROUP % role) for role in roles]
        partners = self.env["res.users"].browse().union(*(g.users for g in groups)).partner_id
        self.run_id.message_post(
            body=self.env._("Checklist %(task)s waits for confirmation:\n%(items)s", task=self.name, items=items),
            partner_ids=partners.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )

    # -- logs, reports, secrets -------------------------------------------------------------
    def _log_store(self):
        self.ensure_one()
        return LogStore(self.log_dir or os.devnull)

    def _log_dir(self):
        return self.env["release.settings"]._path("logs", f"run-{self.run_id.id}", f"job-{self.id}", f"attempt-{self.attempt}")

    def _container_name(self):
        """Unique per database, job and attempt: Docker refuses a second start of one attempt."""
        database = re.sub(r"[^a-zA-Z0-9_.-]", "-", self.env.cr.dbname)
        return f"igr-{database}-j{self.id}-a{self.attempt}"

    def _append_log(self, text):
        store = LogStore(self.log_dir or self._log_dir())
        store.append(self._masker().mask(text).encode())
        self.write({"log_dir": store.directory, "log_size": store.size()})

    def _copy_logs(self, client, container_id):
        """Append the container's new log lines, masked, and remember where reading stopped."""
        cursor = LogCursor(int(self.log_cursor_ns or 0), self.log_cursor_seen)
        store = LogStore(self.log_dir or self._log_dir())
        if store.size() > (self.log_size or 0):  # lines past the cursor, from a server killed before its commit
            store.truncate(self.log_size or 0)
        if client.copy_logs(container_id, cursor, store.append, self._masker()):
            vals = {"log_dir": store.directory, "log_size": store.size(), "log_cursor_ns": str(cursor.ns)}
            self.write(dict(vals, log_cursor_seen=cursor.seen))

    def _collect_reports(self, read):
        """Keep the reports and artifacts the task declares, each read by ``read(path,
        max_bytes)`` (from the job's container: ``_collect_files``) or from the workspace
        folder ``read``; turn reports into findings and test counts."""
        summary = outputs.Summary()
        for output in outputs.collect(read, self._spec(), summary):
            if output.error:
                self._append_log(f"\n[influencegen] {output.error}\n")
                continue
            if output.findings is not None:
                self.env["release.finding"]._record(self, output.findings, report=output.path)
            self.env["release.artifact"]._store(output.path, output.data, self.run_id, self, kind=output.kind, attach_to=self)
        self.write(
            {
                **{f"tests_{name}": count for name, count in summary.tests.items()},
                "tests_failing": "\n".join(summary.failing) or False,
                "report_problems": "\n".join(summary.problems) or False,
                "report_unknown": "\n".join(summary.unknown) or False,
            }
        )

    def _secret_refs(self):
        """The task's secrets as references of ``release.settings._resolve``, by the variable
        name the container sees: a plain ``NAME``, all the pipeline format allows, is ``env:NAME``."""
        return {name: f"env:{name}" for name in self._spec().get("secrets", [])}

    def _secrets(self):
        """The task's secret values by name, resolved as the container starts, never stored."""
        resolve = self.env["release.settings"]._resolve
        return {name: resolve(ref) for name, ref in self._secret_refs().items()}

    def _masker(self):
        """Hides every resolved value this job's log could show: its task's secrets and the
        credential of its environment (which built-in deploy actions use). A job whose task
        cannot be read any more (its failure is being logged) masks the credential only."""
        try:
            refs = list(self._secret_refs().values())
        except (UserError, ValueError):
            refs = []
        return self.env["release.settings"]._masker([*refs, self.environment_id.credentials_ref])

    def _gate_input(self):
        """This job's results as the gate engine reads them."""
        self.ensure_one()
        lines = lambda text: [line for line in (text or "").splitlines() if line]  # noqa: E731
        tests = []
        # A test report that counts no test is a result (a repository without unit tests): a
        # report that could not be read is in ``problems``, and the gate fails on that instead.
        declares_tests = any(report["format"] in TEST_REPORT_FORMATS for report in self._spec().get("reports", []))
        if declares_tests or self.tests_total or self.tests_failed or self.tests_errors:
            tests.append(
                TestResult(
                    total=self.tests_total,
                    failed=self.tests_failed,
                    errors=self.tests_errors,
                    skipped=self.tests_skipped,
                    failing=lines(self.tests_failing),
                )
            )
        findings = [
            Finding(f.tool, f.rule, f.severity, f.file or "", f.line, f.message or "", f.fingerprint)
            for f in self.finding_ids
        ]
        return TaskResult(
            state=self.state,
            exit_code=self.exit_code,
            findings=findings,
            tests=tests,
            unknown=lines(self.report_unknown),
            problems=lines(self.report_problems),
        )

    def _spec(self):
        """This job's task in the run's immutable pipeline snapshot."""
        self.ensure_one()
        return self.run_id._spec_task(self.task_key)
