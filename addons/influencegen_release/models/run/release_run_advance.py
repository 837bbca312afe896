"""The run's state machine: ``_advance`` moves a run forward from its jobs' states, stage by
stage, and starts the jobs that may start (``engine.execution.stages.ready_jobs``: the open
stage's, and those of later stages whose ``needs`` are done)."""

from odoo import fields, models

from ...engine.execution.stages import open_stage_state, ready_jobs, stage_state
from ...engine.vocabulary import JOB_DONE_STATES as DONE_STATES
from ...engine.vocabulary import RUN_TERMINAL as TERMINAL


class ReleaseRunAdvance(models.AbstractModel):
    """Mixed into ``release.run`` (its fields, approvals and jobs are read here)."""

    _name = "release.run.advance"
    _description = "Run state machine"

    # -- state machine (called by the scheduler under a row lock) -----------------------------
    def _advance(self):
        """Move the run forward one step from its jobs' states; results only get worse."""
        self.ensure_one()
        if self.state in TERMINAL:
            return
        if self.cancel_requested:
            if not self.job_ids.filtered(lambda j: j.state in ("starting", "running")):
                self.job_ids.filtered(lambda j: j.state not in DONE_STATES)._cancel()
                self.approval_ids._void(self.env._("the run was cancelled"))
                self._finish("cancelled")
            return
        now = fields.Datetime.now()
        if not self.started_at:
            self.started_at = now
        self.env["release.checklist.item"]._settle(self)
        self.approval_ids.filtered(lambda a: a.state == "pending")._check_deadlines(now)
        Notification = self.env["release.notification"]
        stages = self._spec()["stages"]
        for index, stage in enumerate(stages):
            jobs = self._stage_jobs(stage)
            state = stage_state(jobs)
            if state == "succeeded" and not self.env["release.gate.result"]._stage_passes(self, stage):
                self._fail()
                return
            if state == "succeeded":
                Notification._notify_stage(self, stage, "succeeded")
            if state in ("skipped", "succeeded"):
                continue
            if state == "failed":
                self._rollback_path(stage, jobs)
                Notification._notify_stage(self, stage, "failed")
                self._fail()
                return
            if state == "cancelled":
                self._finish("cancelled")
                return
            if stage["trigger"] == "manual" and jobs.filtered(lambda j: j.state == "pending"):
                decision = self.env["release.approval"]._decision(self, stage, jobs)
                if decision == "rejected":
                    self._fail()
                    return
                if decision != "approved":
                    self._set_state("waiting_approval")
                    return
            self._set_state(self._start_ready_jobs(stages, index, jobs, now))
            return
        self._finish("succeeded")

    def _start_ready_jobs(self, stages, index, jobs, now):
        """Queue the jobs that may start now (``stages.ready_jobs``): those of the open stage
        ``stages[index]`` (``jobs``), and those of later stages whose ``needs`` are done; return
        the run's state. Tasks that need the maintenance window wait for it (or for a
        confirmed break-glass)."""
        Job = self.env["release.job"]
        ordered = self.job_ids.sorted(lambda j: (j.stage_sequence, j.sequence, j.id))
        held_here = Job
        for stage, chosen in ready_jobs(stages, ordered, index):
            ready = Job.concat(*chosen)
            held = self.env["release.window.override"]._held(self, stage, ready, now)
            (ready - held)._queue()
            if stage["key"] == stages[index]["key"]:
                held_here = held
        return open_stage_state(jobs, held_here)

    def _needs_edges(self):
        """The run graph's ``needs`` edges: ``{"from": needed job id, "to": job id}``."""
        self.ensure_one()
        job_of = {job.task_key: job.id for job in self.job_ids}
        return [
            {"from": job_of[need], "to": job_of[task["key"]]}
            for stage in self._spec().get("stages", [])
            for task in stage["tasks"]
            for need in task.get("needs") or []
            if need in job_of and task["key"] in job_of
        ]

    def _rollback_path(self, stage, jobs):
        """A deployment stage that failed after changing its target must be rolled back."""
        changed = jobs.filtered(lambda j: j.state == "succeeded" and j.mode != "checklist")
        if stage.get("environment") and changed:
            self.rollback_state = "required"
            self.env["release.notification"]._notify_rollback(self, stage, changed)

    def _set_state(self, state):
        if self.state != state:
            self.state = state

    def _fail(self):
        """The run failed: what has not started yet never will, and jobs of later stages
        started early by their ``needs`` are stopped (queued ones cancelled, running ones
        killed by the scheduler, which stops the containers of runs asked to cancel)."""
        self.job_ids.filtered(lambda j: j.state == "pending")._skip()
        self.job_ids.filtered(lambda j: j.state == "queued")._cancel()
        if self.job_ids.filtered(lambda j: j.state in ("starting", "running")):
            self.cancel_requested = True
        self._finish("failed")

    def _finish(self, state):
        self.write({"state": state, "finished_at": fields.Datetime.now()})
        self.message_post(body=self.env._("Run %(state)s.", state=dict(self._fields["state"].selection)[state].lower()))
        self.env["release.notification"]._notify_run(self)
        self.env["release.pipeline.trigger"]._start_followers(self)
