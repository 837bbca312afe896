from .scheduler_common import SchedulerCase

PARENT = """\
    - name: Deploy
      tasks:
        - {name: Checkout, key: checkout, uses: git.checkout}
"""


class TestChaining(SchedulerCase):
    def test_a_successful_run_starts_the_pipelines_that_follow_it(self):
        parent_pipeline = self.make_pipeline("PL-T-PARENT", PARENT)
        child_pipeline = self.make_pipeline("PL-T-CHILD", PARENT.replace("Deploy", "Build image"))
        parent_pipeline.on_success_codes = "PL-T-CHILD"
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
        run._start_chained()
        self.assertEqual(len(run.child_run_ids), 1)

    def test_a_failed_run_starts_only_pipelines_that_follow_failures(self):
        self.make_pipeline("PL-T-FAILS", '    - name: One\n      tasks:\n        - {name: Breaks, key: breaks, run: "exit 2"}\n')
        follower = self.make_pipeline("PL-T-ONFAIL", PARENT)
        follower.trigger_ids.write({"event": "pipeline", "source_pipeline_code": "PL-T-FAILS", "source_result": "failed"})
        self.env["release.pipeline"].search([("code", "=", "PL-T-FAILS")]).on_success_codes = "PL-T-ONFAIL"
        run = self.trigger("PL-T-FAILS")
        self.tick_until(lambda: run.state == "failed")
        self.assertEqual(run.child_run_ids.pipeline_id, follower, "started by the failure trigger, not by on_success")
