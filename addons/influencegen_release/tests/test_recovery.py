import uuid
from datetime import timedelta

from odoo import fields

from ..engine.execution import workspace
from ..engine.execution.docker_runner import ContainerSpec
from .scheduler_common import IMAGE, SchedulerCase

ONE_JOB = "    - name: One\n      tasks:\n        - {name: Work, key: work, run: 'echo ran once; sleep 1'}\n"


class TestRecovery(SchedulerCase):
    """A worker dying at each point of a job's life loses nothing and runs nothing twice."""

    def test_claimed_but_never_started_goes_back_to_the_queue(self):
        self.make_pipeline("PL-T-REQ", ONE_JOB)
        run = self.trigger()
        scheduler = self.env["release.scheduler"]
        scheduler._step("_advance_runs")
        claimed = scheduler._step("_claim", self.runner.id)  # then the worker dies
        self.assertEqual(len(claimed), 1)
        job = self.job(run, "work")
        self.env.invalidate_all()
        self.assertEqual(job.state, "starting")
        job.claimed_at = fields.Datetime.now() - timedelta(minutes=5)
        self.tick_until(lambda: run.state == "succeeded")
        self.assertEqual(job.log_tail, "ran once")

    def test_started_container_is_adopted_after_a_crash(self):
        self.make_pipeline("PL-T-ADOPT", ONE_JOB)
        run = self.trigger()
        scheduler = self.env["release.scheduler"]
        scheduler._step("_advance_runs")
        [(job_id, _token)] = scheduler._step("_claim", self.runner.id)
        job = self.env["release.job"].browse(job_id)
        # The worker created the container, then died before recording it.
        name = job._container_name()
        source, work = workspace.prepare(scheduler.env["release.settings"]._path("work"), name)
        self.runner._client().start(
            ContainerSpec(
                name=name, image=IMAGE, command="echo ran once; sleep 1", labels=scheduler._labels(job),
                source_dir=source, workspace_dir=work,
            )
        )
        self.tick_until(lambda: run.state == "succeeded")
        self.assertEqual(job.log_tail, "ran once", "adopted, not started a second time")
        self.assertEqual(job.attempt, 1)

    def test_vanished_container_fails_its_job_with_the_reason(self):
        self.make_pipeline("PL-T-GONE", "    - name: One\n      tasks:\n        - {name: Work, key: work, run: 'sleep 30'}\n")
        run = self.trigger()
        job = self.job(run, "work")
        self.tick_until(lambda: job.state == "running")
        self.runner._client().remove(job.container_id)
        self.tick_until(lambda: run.state == "failed")
        self.assertEqual(job.failure_reason, "the container vanished (removed outside the scheduler)")

    def test_containers_of_a_dropped_database_are_swept(self):
        client = self.runner._client()
        gone = f"igr_dropped_{uuid.uuid4().hex[:8]}"
        name = f"igr-{gone}-j1-a1"
        labels = {"influencegen.db": gone, "influencegen.job": "1", "influencegen.name": name}
        # Created, never started: what a start leaves when its database is dropped under it.
        container_id = client.create_container(ContainerSpec(name=name, image=IMAGE, command="true", labels=labels))
        self.addCleanup(client.remove_volume, name)
        self.addCleanup(client.remove, container_id)
        scheduler = self.env["release.scheduler"]
        self.assertEqual(scheduler._sweep_dropped_databases(client, only=gone), [], "too recent: it may be another cluster's")
        self.assertEqual(scheduler._sweep_dropped_databases(client, age_s=0, only=gone), [container_id])
        self.assertIsNone(client.state(container_id))
        self.assertFalse(client.volumes({"influencegen.db": gone}))
