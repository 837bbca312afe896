import io
import os
import subprocess
from contextlib import ExitStack
from datetime import timedelta

from odoo import fields

from ..engine.execution import warm
from ..engine.execution.job_files import JOB_UID
from .scheduler_common import IMAGE, SchedulerCase

STAGES = """\
    - name: Build
      tasks:
        - name: Warm
          key: warm
          run: 'cat /src/hello.txt; echo "v=$IGR_W_VAR job=$IGR_JOB_ID key=$IGR_TEST_SECRET"; sleep 2; exit 4'
          env: {IGR_W_VAR: "it's mine"}
          secrets: [IGR_TEST_SECRET]
          allow_failure: true
        - {name: Online, key: online, run: "echo online", network: host}
"""
PAIR = """\
    - name: Build
      tasks:
        - {name: A, key: a, run: "echo job-a"}
        - {name: B, key: b, run: "echo job-b"}
"""


class TestWarmContainers(SchedulerCase):
    """Jobs in containers started ahead (release.scheduler._refill_warm): the job's own files,
    environment and secrets, its exit code and log; a start that died never runs a job twice."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        os.environ["IGR_TEST_SECRET"] = "hunter2-super-secret"

    def setUp(self):
        super().setUp()
        self.runner.write({"capacity": 2, "warm_start": True})
        self.scheduler = self.env["release.scheduler"]
        self.client = self.runner._client()
        self.addCleanup(self._remove_warm)

    def _remove_warm(self):
        for row in self.env["release.runner.warm"].search([]):
            self.scheduler._discard_warm(self.client, row.container_id, row.name)

    def warm_ids(self):
        return self.env["release.runner.warm"].search([("runner_id", "=", self.runner.id)]).mapped("container_id")

    def test_a_job_runs_in_a_warm_container_and_one_with_a_network_gets_its_own(self):
        self.make_pipeline("PL-W-RUN", STAGES)
        run = self.trigger()
        self.assertGreaterEqual(self.scheduler._refill_warm(), 1)
        warm_ids = self.warm_ids()
        self.assertTrue(all(self.client.state(cid).running for cid in warm_ids))
        job, online = self.job(run, "warm"), self.job(run, "online")
        self.tick_until(lambda: job.state == "running")
        self.assertIn(job.container_id, warm_ids)
        self.assertNotIn(job.container_id, self.warm_ids(), "a warm container serves one job")
        config = self.client.client.api.inspect_container(job.container_id)["Config"]
        self.assertNotIn("hunter2", str(config), "secrets never in docker inspect")
        self.tick_until(lambda: run.state in ("succeeded", "failed"))
        log = job._log_store().read_range(0, 10**6).decode()
        self.assertIn("hello from the commit", log)
        self.assertIn(f"v=it's mine job={job.id} key=***", log)
        self.assertNotIn("hunter2", log)
        self.assertEqual((job.state, job.exit_code, job.failure_reason), ("failed", 4, "exit code 4"))
        self.assertIsNone(self.client.state(job.container_id), "removed after its job")
        self.assertEqual((online.state, online.log_tail), ("succeeded", "online"))
        self.assertNotIn(online.container_id, warm_ids, "a job with a network gets a fresh container")

    def test_a_warm_start_that_died_is_adopted_or_removed_and_never_reused(self):
        self.make_pipeline("PL-W-DIE", PAIR)
        run = self.trigger()
        self.assertEqual(self.scheduler._refill_warm(), 2)
        self.scheduler._advance_runs()
        claimed = self.scheduler._step("_claim", self.runner.id)
        self.assertEqual(len(claimed), 2)
        self.env.invalidate_all()
        a, b = self.job(run, "a"), self.job(run, "b")
        self.assertEqual((a.ahead, b.ahead), ("warm", "warm"))
        old_a, old_b = a.container_id, b.container_id
        # Both starters were killed: A's before its files went in, B's after (not recorded).
        with ExitStack() as stack:
            task = b._spec()
            env = dict(task["env"], **self.scheduler._job_env(b))
            [archive] = b._job_inputs(stack, warm.job_members(env, task["run"], JOB_UID))
            self.client.feed(old_b, archive)
        self.env.cr.execute(
            "UPDATE release_job SET claimed_at = %s WHERE id IN %s",
            [fields.Datetime.now() - timedelta(seconds=60), (a.id, b.id)],
        )
        self.scheduler._step("_reconcile")
        self.env.invalidate_all()
        self.assertEqual((a.state, a.container_id), ("queued", False))
        self.assertIsNone(self.client.state(old_a), "the container that never got A's files is removed")
        self.assertEqual((b.state, b.container_id), ("running", old_b), "B's command ran: adopted, not started again")
        self.tick_until(lambda: run.state == "succeeded")
        self.assertEqual((a.log_tail, b.log_tail), ("job-a", "job-b"))
        self.assertNotIn(a.container_id, (old_a, old_b))
        self.assertEqual(b.attempt, 1)

    def test_warm_containers_of_a_dropped_database_are_swept_though_running(self):
        gone = f"{self.env.cr.dbname}_dropped_w"
        task = {"image": IMAGE, "network": "none", "cpus": 0.5, "memory": 128, "pids": 64}
        _key, container_id, name = self.scheduler._start_warm_container(self.client, gone, task)
        self.assertTrue(container_id and self.client.state(container_id).running)
        self.assertEqual(self.scheduler._sweep_dropped_databases(self.client, age_s=0, only=gone), [container_id])
        self.assertIsNone(self.client.state(container_id))
        self.assertNotIn(name, self.client.volumes({"influencegen.db": gone}))

    def test_an_image_without_tar_is_not_kept_warm_and_its_job_still_runs_once(self):
        no_tar = "influencegen/igr-test-no-tar:1"
        dockerfile = f"FROM {IMAGE}\nUSER root\nRUN rm -f /usr/bin/tar /bin/tar\nUSER 1000\n"
        subprocess.run(["docker", "build", "--network", "none", "-q", "-t", no_tar, "-"], input=dockerfile, text=True,
                       check=True, capture_output=True)  # fmt: skip
        self.make_pipeline("PL-W-NOTAR", f'    - name: Build\n      tasks:\n        - {{name: A, key: a, image: "{no_tar}", run: "echo ran-once"}}\n')
        run = self.trigger()
        self.assertEqual(self.scheduler._refill_warm(), 1)
        [container_id] = self.warm_ids()
        job = self.job(run, "a")
        self.tick_until(lambda: run.state in ("succeeded", "failed"))
        self.assertEqual((run.state, job.log_tail, job.attempt), ("succeeded", "ran-once", 1))
        self.assertNotEqual(job.container_id, container_id, "it ran in a container of its own")
        self.assertIsNone(self.client.state(container_id), "the warm container that could not unpack is removed")
        self.assertEqual(self.scheduler._refill_warm(), 0, "an image without tar is not kept warm again")

    def test_a_job_whose_warm_container_got_no_files_runs_the_usual_way(self):
        self.make_pipeline("PL-W-UNFED", PAIR)
        run = self.trigger()
        self.assertEqual(self.scheduler._refill_warm(), 2)
        self.scheduler._advance_runs()
        self.scheduler._step("_claim", self.runner.id)
        self.env.invalidate_all()
        a = self.job(run, "a")
        self.assertEqual(a.ahead, "warm")
        old_a = a.container_id
        # A write that reached Docker cut short (the start itself went on): no marker came.
        self.client.feed(old_a, io.BytesIO(b"\0" * 100))
        a._start()
        self.client.wait_exit(old_a, timeout=20)
        self.tick_until(lambda: run.state in ("succeeded", "failed"))
        self.assertEqual((run.state, a.log_tail, a.attempt), ("succeeded", "job-a", 1))
        self.assertNotEqual(a.container_id, old_a)
        self.assertIsNone(self.client.state(old_a))
