from .scheduler_common import SchedulerCase

PARENT = """\
    - name: Deploy
      tasks:
        - {name: Checkout, key: checkout, uses: git.checkout}
"""
ON_SUCCESS = "  on_success: [%s]\n"


class TestChaining(SchedulerCase):
    def test_a_successful_run_starts_the_pipelines_that_follow_it(self):
        # on_success is part of the pipeline file: the run follows the snapshot it started with.
        self.make_pipeline("PL-T-PARENT", PARENT + ON_SUCCESS % "PL-T-CHILD")
        child_pipeline = self.make_pipeline("PL-T-CHILD", PARENT.replace("Deploy", "Build image"))
        # Only pushes to main start the parent; the child runs because the parent succeeded.
        child_pipeline.trigger_ids.branch_patterns = "never/*"
        run = self.trigger("PL-T-PARENT")
        self.tick_until(lambda: run.state == "succeeded")
        child = run.child_run_ids
        self.assertEqual(len(child), 1)
        self.assertEqual((child.pipeline_id, child.parent_run_id), (child_pipeline, run))
        self.assertEqual((child.commit_sha, child.ref), (run.commit_sha, run.ref))
        self.tick_until(lambda: child.state == "succeeded")
        status = run.with_user(self.developer).api_status(run.id)
        self.assertEqual(status["chained"], [child.id])
        self.assertEqual(child.with_user(self.developer).api_status(child.id)["parent"], run.id)
        self.assertTrue(run.message_ids.filtered(lambda m: "(chained)" in (m.body or "")))
        # Finishing again (a retried tick) starts nothing twice.
        self.env["release.pipeline.trigger"]._start_followers(run)
        self.assertEqual(len(run.child_run_ids), 1)

    def test_a_failed_run_starts_only_pipelines_that_follow_failures(self):
        fails = '    - name: One\n      tasks:\n        - {name: Breaks, key: breaks, run: "exit 2"}\n'
        self.make_pipeline("PL-T-FAILS", fails + ON_SUCCESS % "PL-T-ONFAIL")
        follower = self.make_pipeline("PL-T-ONFAIL", PARENT)
        follower.trigger_ids.write({"event": "pipeline", "source_pipeline_code": "PL-T-FAILS", "source_result": "failed"})
        run = self.trigger("PL-T-FAILS")
        self.tick_until(lambda: run.state == "failed")
        self.assertEqual(run.child_run_ids.pipeline_id, follower, "started by the failure trigger, not by on_success")

    def test_on_success_is_read_from_the_runs_snapshot(self):
        parent = self.make_pipeline("PL-T-SNAP", PARENT)
        follower = self.make_pipeline("PL-T-SNAP-NEXT", PARENT)
        follower.trigger_ids.branch_patterns = "never/*"
        run = self.trigger("PL-T-SNAP")
        # An edited record is not what runs: the run started without on_success.
        parent.on_success_codes = "PL-T-SNAP-NEXT"
        run.state = "succeeded"
        self.env["release.pipeline.trigger"]._start_followers(run)
        self.assertFalse(run.child_run_ids)
