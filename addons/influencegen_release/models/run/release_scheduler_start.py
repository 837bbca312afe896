import logging
from contextlib import ExitStack

from odoo import models

from ...engine.execution.docker_runner import ContainerSpec, RunnerError, task_limits
from ...engine.execution.job_files import JobFileError
from ...engine.source.git_source import GitSourceError
from ...engine.vocabulary import RUN_TERMINAL

_logger = logging.getLogger(__name__)



class ReleaseSchedulerStart(models.AbstractModel):
    """How a claimed job's container comes to life: created with its files in
    (``_create_container``), then started (``_start_container``). While a host is full, the
    next queued jobs are claimed *ahead* (``release.job.ahead``): their containers are created
    and filled then, so that when a slot frees (a container's end wakes the loop: Docker's
    events) starting one is a single call. A job created ahead holds no slot; any server
    starts it, and the reconcile adopts one whose start died, drops one whose run ended."""

    _inherit = "release.scheduler"  # pylint: disable=consider-merging-classes-inherited

    # -- steps ------------------------------------------------------------------------------
    def _busy_slots(self, runner_id):
        self.env.cr.execute(
            """SELECT count(*) FROM release_job
               WHERE runner_id = %s AND state IN ('starting', 'running') AND (ahead IS NULL OR ahead = 'warm')""",
            [runner_id],
        )
        return self.env.cr.fetchone()[0]

    def _start_ready(self, runner_id):
        """Start containers created ahead on this host, up to its free slots, in queue order."""
        _runner, free = self._lock_runner(runner_id)
        if free <= 0:
            return
        cr = self.env.cr
        cr.execute(
            """SELECT j.id FROM release_job j JOIN release_run r ON r.id = j.run_id
               WHERE j.runner_id = %s AND j.state = 'starting' AND j.ahead = 'ready'
                 AND r.cancel_requested IS NOT TRUE AND r.state NOT IN %s
               ORDER BY j.run_id, j.stage_sequence, j.sequence, j.id LIMIT %s FOR UPDATE OF j SKIP LOCKED""",
            [runner_id, RUN_TERMINAL, free],
        )
        jobs = self.env["release.job"].browse([row[0] for row in cr.fetchall()])
        client = self.env["release.runner"].browse(runner_id)._client()
        starts = [(job.container_id, job._container_name()) for job in jobs]
        # Side by side, as a wave of slots frees at once; the records are written here after.
        errors = self._side_by_side(lambda start: self._start_created(client, *start), starts)
        for job, error in zip(jobs, errors, strict=True):
            if error:
                job._fail(error)
            else:
                job._start(job.container_id)

    def _claim_ahead(self, runner_id):
        """While the host is full, claim queued jobs to create ahead, as many as it has slots:
        the next wave is ready when the current one ends (fewer would leave slots to the
        slower full start path)."""
        runner, free = self._lock_runner(runner_id)
        if runner is None or free > 0:
            return []  # held by another server, or free slots: the claim starts jobs at once
        cr = self.env.cr
        cr.execute(
            "SELECT count(*) FROM release_job WHERE runner_id = %s AND state = 'starting' AND ahead IN ('preparing', 'ready')",
            [runner_id],
        )
        wanted = runner.capacity - cr.fetchone()[0]
        if wanted <= 0:
            return []
        return self._claim_eligible(runner, wanted, ahead="preparing")

    def _prepare(self, job_id, token):
        """Create the container of a job claimed ahead; it starts when a slot frees."""
        job = self._locked_claim(job_id, token, ahead=True)
        container_id = job and self._create_container(job)
        if container_id:
            job.write({"ahead": "ready", "container_id": container_id, "container_name": job._container_name()})

    def _recover_start(self, job, container_id):
        """A job created ahead: adopted when its container was started by a start that died,
        cancelled with its container removed when its run ended or is cancelled, back in the
        queue when its container vanished; else it waits for a slot."""
        if job.ahead != "ready":
            return super()._recover_start(job, container_id)
        try:
            client = job.runner_id._client()
            state = client.state(container_id)
            if state is None:
                job._requeue("its container created ahead vanished")
            elif state.status != "created":
                job._adopt(container_id)
            elif job.run_id.cancel_requested or job.run_id.state in RUN_TERMINAL:
                client.remove(container_id)
                job._drop_files(client)
                job._finish("cancelled", reason="cancelled")
        except RunnerError as exc:
            _logger.warning("job %s: %s", job.id, exc)
        return None

    # -- helpers ----------------------------------------------------------------------------
    def _create_container(self, job):
        """The job's container, created with its files in, not started; None when the job
        failed (the reason is recorded) or an earlier start made it already."""
        task = job._spec()
        name = job._container_name()
        try:
            with ExitStack() as stack:  # the job's files go in through the Docker API (release_job_files)
                secrets = job._secrets()
                env = dict(task["env"], **secrets, **self._job_env(job))
                spec = ContainerSpec(
                    name=name, image=task["image"], command=task["run"], labels=self._labels(job), env=env, **task_limits(task)
                )
                return job.runner_id._client().create_container(spec, job._job_inputs(stack))
        except (RunnerError, GitSourceError, JobFileError, OSError, KeyError, ValueError) as exc:
            if getattr(exc, "conflict", False):  # started before, by a start that died: the reconcile adopts it
                return None
            # A KeyError's text is its key quoted; the key alone reads better as a reason.
            job._fail(str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc))
            return None

    @staticmethod
    def _start_created(client, container_id, name):
        """Start a container created ahead; why it did not start, or None."""
        try:
            client.start_created(container_id, name, volume=name)
        except RunnerError as exc:
            return str(exc)
        return None

    def _start_container(self, job, container_id):
        name = job._container_name()
        try:
            job.runner_id._client().start_created(container_id, name, volume=name)
        except RunnerError as exc:
            job._fail(str(exc))
            return False
        return True

    def _job_env(self, job):
        run = job.run_id
        return {
            "IGR_RUN_ID": str(run.id),
            "IGR_JOB_ID": str(job.id),
            "IGR_PIPELINE": run.pipeline_id.code,
            "IGR_REF": run.ref,
            "IGR_SHA": run.commit_sha or "",
            "IGR_ATTEMPT": str(job.attempt),
            "HOME": "/workspace/.home",
        }

    def _labels(self, job):
        return {
            "influencegen.db": self.env.cr.dbname,
            "influencegen.run": str(job.run_id.id),
            "influencegen.job": str(job.id),
            "influencegen.attempt": str(job.attempt),
            "influencegen.name": job._container_name(),
        }
