import os
import re

from odoo import api, fields, models

from ...engine.execution.log_store import LogStore
from ...engine.quality.gates import TaskResult
from ...engine.quality.reports import Finding, TestResult

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
DONE_STATES = ("succeeded", "failed", "cancelled", "skipped")
# What the log viewer's "first error" looks for: words tools print on errors, and FAIL in capitals
# (pytest, unittest), not "0 failed" of a summary; also right after an ANSI colour code.
_WORD_START = rb"(?:\b|(?<=\x1b\[\dm)|(?<=\x1b\[\d\dm)|(?<=;\dm)|(?<=;\d\dm))"
ERROR_LINE = re.compile(_WORD_START + rb"(?:(?i:error|fatal|traceback|exception)|FAIL(?:ED|URE)?)\b")
LOG_PAGE_BYTES = 256 * 1024
# Changes the run graph and the log viewer show live (release.run._notify_ui).
LIVE_FIELDS = {"state", "log_size", "attempt", "exit_code", "started_at", "finished_at"}


class ReleaseJob(models.Model):
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

    def api_log(self, offset=0, length=65536, tail=0):
        """Log text for the CLI and the UI: ``tail`` last lines, or ``length`` bytes from ``offset``."""
        self.ensure_one()
        self.check_access("read")
        store = self._log_store()
        if tail:
            return {"text": store.tail(int(tail)), "size": self.log_size, "state": self.state}
        data = store.read_range(int(offset), min(int(length), 1 << 20)) if self.log_dir else b""
        return {"text": data.decode("utf-8", "replace"), "offset": int(offset) + len(data), "size": self.log_size, "state": self.state}

    def api_log_page(self, start=None, end=None, length=LOG_PAGE_BYTES):
        """A page of whole log lines for the log viewer: from ``start``, or ending at ``end``
        (the tail when both are None). ``{text, start, end, size, state}``, offsets in bytes."""
        self.ensure_one()
        self.check_access("read")
        data, first, last, size = self._log_store().page(start, end, min(int(length), 4 * LOG_PAGE_BYTES))
        return {"text": data.decode("utf-8", "replace"), "start": first, "end": last, "size": size, "state": self.state}

    def api_log_find(self, text=None, start=0):
        """Offset of the first line from ``start`` containing ``text`` (any case), or of the
        first error line when no text is given; -1 when there is none."""
        self.ensure_one()
        self.check_access("read")
        pattern = re.compile(re.escape(text.encode()), re.IGNORECASE) if text else ERROR_LINE
        return self._log_store().find(pattern, int(start or 0))

    def _log_store(self):
        self.ensure_one()
        return LogStore(self.log_dir or os.devnull)

    def _gate_input(self):
        """This job's results as the gate engine reads them."""
        self.ensure_one()
        lines = lambda text: [line for line in (text or "").splitlines() if line]  # noqa: E731
        tests = []
        if self.tests_total or self.tests_failed or self.tests_errors:
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
