from odoo import api, fields, models

from ...engine.quality.gates import evaluate
from ...engine.vocabulary import RUN_TERMINAL as TERMINAL

DEVELOPER = "influencegen_release.group_release_developer"
WAITING = ("waiting_approval", "waiting_checklist", "waiting_window")
NOT_REACHED = "not_reached"  # a job or gate of a finished run that never ran


class ReleaseRun(models.Model):
    """The run as the run graph and the run form read it: each stage, job and gate with the
    verdict that really holds (a stage whose gate failed is failed, whatever its jobs say),
    what was never reached, and when each waited, started and how long it took."""

    # A file per concern keeps release_run.py under 400 lines.
    _inherit = "release.run"  # pylint: disable=consider-merging-classes-inherited

    waiting_since = fields.Datetime(compute="_compute_waiting", help="When the run started waiting for people or a window.")
    waiting_s = fields.Float(string="Waiting (s)", compute="_compute_waiting")
    active_s = fields.Float(
        string="Ran for (s)", compute="_compute_waiting", help="From the start until the run began to wait (or ended)."
    )

    @api.depends("state", "started_at", "finished_at", "approval_ids.state", "job_ids.finished_at")
    def _compute_waiting(self):
        now = fields.Datetime.now()
        for run in self:
            since = run._waiting_since() if run.state in WAITING else False
            end = since or run.finished_at or now
            run.waiting_since = since
            run.waiting_s = (now - since).total_seconds() if since else 0.0
            run.active_s = (end - run.started_at).total_seconds() if run.started_at else 0.0

    # -- API (the run graph) -------------------------------------------------------------------
    @api.model
    def api_graph(self, run_id):
        """What the run graph shows: the status, each stage's and job's verdict, timings, the
        linked runs and what the user may do (cancel, retry, decide a waiting stage)."""
        run = self._readable(run_id)
        may_act = self.env.user.has_group(DEVELOPER) and run.has_access("write")
        jobs = {job.id: job for job in run.job_ids}
        status = run._status()
        spec_stages = {stage["name"]: stage for stage in run._spec().get("stages", [])}
        for stage in status["stages"]:
            run._graph_stage(stage, spec_stages[stage["name"]], jobs)
        for approval, record in zip(status["approvals"], run.approval_ids.sorted("id"), strict=True):
            approval["can_decide"] = record.state == "pending" and record.can_decide
            approval["requested_at"] = fields.Datetime.to_string(record.requested_at) if record.requested_at else False
        return dict(
            status,
            name=run.display_name,
            version=run.version or False,
            timing=run._graph_timing(run.job_ids, run.create_date),
            waiting_since=fields.Datetime.to_string(run.waiting_since) if run.waiting_since else False,
            waiting_s=round(run.waiting_s, 1),
            parent_run=run.parent_run_id._ui_links(),
            retry_of=run.retry_of_id._ui_links(),
            chained_runs=run.child_run_ids._ui_links(),
            needs=run._needs_edges(),
            can_cancel=may_act and run.state not in TERMINAL and not run.cancel_requested,
            can_retry=may_act and run.state in ("failed", "cancelled"),
        )

    def action_open_gate_findings(self, stage_key, gate_key):
        """The findings gate ``gate_key`` of stage ``stage_key`` read, new or fixed versus its baseline."""
        self.ensure_one()
        stage = next(s for s in self._spec()["stages"] if s["key"] == stage_key)
        return self._action_gate_findings(stage, next(g for g in stage["gates"] if g["key"] == gate_key))

    def action_open_findings(self):
        self.ensure_one()
        return self.env["release.finding"]._action_of_run(self)

    def _status(self):
        """Exit codes only of jobs that ran and ended with one (a skipped job, or one that
        failed before its container exited, has none); ``reached`` says whether a job ran."""
        status = super()._status()
        jobs = {job.id: job for job in self.job_ids}
        for stage in status["stages"]:
            for entry in stage["jobs"]:
                job = jobs[entry["id"]]
                entry["reached"] = bool(job.started_at)
                if not job.started_at or job.state not in ("succeeded", "failed") or (job.state == "failed" and not job.exit_code):
                    entry["exit_code"] = False
        return status

    # -- helpers ------------------------------------------------------------------------------
    def _graph_stage(self, stage, spec, jobs):
        """Complete a stage of ``_status`` for the graph: the jobs its failed gates read turn
        failed with them, and so does the stage; what a finished run never reached says so."""
        ended = self.state in TERMINAL
        stage["key"] = spec["key"]
        failed_gates = {}
        for gate, gate_spec in zip(stage["gates"], spec["gates"], strict=True):
            if gate["result"] == "pending" and ended:
                gate["result"] = NOT_REACHED
            gate["key"] = gate_spec["key"]
            gate["findings"] = len(self._gate_findings(spec, gate_spec))
            if gate["result"] == "failed":
                for key in self._failing_tasks(stage, gate_spec):
                    failed_gates.setdefault(key, []).append(gate["name"])
        records = self.env["release.job"].browse([entry["id"] for entry in stage["jobs"]])
        for entry in stage["jobs"]:
            job = jobs[entry["id"]]
            entry["retries"] = job.attempt - 1
            entry["log_size"] = job.log_size
            entry["gate_failed"] = failed_gates.get(job.task_key, [])
            entry["verdict"] = "failed" if entry["gate_failed"] else entry["state"]
            if not job.started_at and (ended or job.state in ("skipped", "cancelled")):
                entry["verdict"] = NOT_REACHED
            entry["timing"] = self._graph_timing(job, job.queued_at)
            if job.tests_total:
                entry["tests"] = {"total": job.tests_total, "failed": job.tests_failed + job.tests_errors}
        if any(gate["result"] == "failed" for gate in stage["gates"]):
            stage["state"] = "failed"
        elif ended and stage["state"] in ("pending", "skipped") and not records.filtered("started_at"):
            stage["state"] = NOT_REACHED
        queued = records.filtered("queued_at").mapped("queued_at")
        stage["timing"] = self._graph_timing(records, min(queued) if queued else False)

    def _graph_timing(self, jobs, queued_at):
        """``{queued_at, queue_s, started_at, finished_at, duration_s}`` of jobs taken
        together (one job, a stage, the run): queued at ``queued_at``, from the first start
        to the last end (still running: until now)."""
        now = fields.Datetime.now()
        starts = [job.started_at for job in jobs if job.started_at]
        started = min(starts) if starts else False
        running = any(job.state in ("starting", "running") for job in jobs)
        ends = [job.finished_at for job in jobs if job.finished_at]
        finished = max(ends) if ends and not running else False
        end = finished or (now if running else False)
        return {
            "queued_at": fields.Datetime.to_string(queued_at) if queued_at else False,
            "queue_s": round(((started or now) - queued_at).total_seconds(), 1) if queued_at and (started or running or not ends) else False,
            "started_at": fields.Datetime.to_string(started) if started else False,
            "finished_at": fields.Datetime.to_string(finished) if finished else False,
            "duration_s": round((end - started).total_seconds(), 1) if started and end else False,
        }

    def _failing_tasks(self, stage, gate):
        """The tasks of the criteria that failed ``gate`` (judged again one by one on the
        recorded results and baseline), so that a job whose own criterion passed stays green."""
        result = self.env["release.gate.result"]._recorded(self, {"key": stage["key"]}, gate)[:1]
        keys = self._gate_tasks(gate)
        jobs = self.job_ids.filtered(lambda j: j.task_key in keys)
        inputs = {job.task_key: job._gate_input() for job in jobs}
        old = result.baseline_run_id.finding_ids.filtered(lambda f: not f.waived)
        baseline = set(old.mapped("fingerprint")) if result.baseline_run_id else None
        waived = set(jobs.finding_ids.filtered("waived").mapped("fingerprint"))
        failing = {
            key
            for criterion in gate.get("criteria", [])
            if not evaluate([criterion], inputs, baseline, waived).passed
            for key in criterion["from"]
        }
        return failing or keys

    def _gate_tasks(self, gate):
        """The tasks whose results ``gate`` reads: those its criteria name."""
        return {key for criterion in gate.get("criteria", []) for key in criterion["from"]}

    def _gate_findings(self, stage, gate):
        """The findings ``gate`` of ``stage`` reads, and those of its baseline it fixed."""
        keys = self._gate_tasks(gate)
        fixed = self.env["release.finding"].search([("fixed_in_run_ids", "in", [self.id]), ("task_key", "in", list(keys))])
        return self.finding_ids.filtered(lambda f: f.task_key in keys) | fixed

    def _action_gate_findings(self, stage, gate):
        title = self.env._("Findings of gate %(gate)s, %(run)s", gate=gate["name"], run=self.display_name)
        return self.env["release.finding"]._action_of_run(self, self._gate_tasks(gate), title)

    def _waiting_since(self):
        """When the run began to wait: its pending request was made, or its last job ended."""
        pending = self.approval_ids.filtered(lambda a: a.state == "pending")
        if self.state == "waiting_approval" and pending:
            return min(pending.mapped("requested_at"))
        ends = self.job_ids.filtered("finished_at").mapped("finished_at")
        return max(ends) if ends else self.started_at
