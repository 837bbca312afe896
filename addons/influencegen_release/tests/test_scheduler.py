import os
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests.common import new_test_user

from .scheduler_common import SchedulerCase

STAGES = """\
    - name: Build
      tasks:
        - {name: Checkout, key: checkout, uses: git.checkout}
        - name: Report
          key: report
          run: "cat /src/hello.txt; mkdir -p reports; echo '{\\"ok\\": 1}' > reports/r.json"
          reports: [{format: bandit-json, path: reports/r.json}]
        - {name: Secret, key: secret, run: 'echo "key=$IGR_TEST_SECRET"', secrets: [IGR_TEST_SECRET]}
    - name: Test
      tasks:
        - {name: Allowed failure, key: fails, run: "echo broken; exit 3", allow_failure: true}
        - name: Flaky
          key: flaky
          run: 'if [ "$IGR_ATTEMPT" = 1 ]; then exit 75; fi; echo second attempt'
          retry: {exit_codes: [75], max: 2}
    - name: Deploy
      branches: [main]
      trigger: manual
      tasks:
        - {name: Deploy, key: deploy, run: "echo deployed"}
      approval: {rules: [{group: release_manager}]}
      gates: [{name: Go, type: manual}]
"""


class TestScheduler(SchedulerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        os.environ["IGR_TEST_SECRET"] = "hunter2-super-secret"

    def test_push_runs_stages_in_order_to_the_manual_gate_and_on(self):
        self.make_pipeline("PL-T-FLOW", STAGES)
        run = self.trigger()
        self.assertEqual(run.state, "queued")
        self.assertEqual(run.triggered_by_id, self.developer)
        self.tick_until(lambda: run.state == "waiting_approval")
        status = run.with_user(self.developer).api_status(run.id)
        self.assertEqual([s["state"] for s in status["stages"]], ["succeeded", "succeeded", "pending"])
        report = self.job(run, "report")
        self.assertEqual((report.state, report.exit_code), ("succeeded", 0))
        self.assertIn("hello from the commit", report.log_tail)
        artifact = report.artifact_ids
        self.assertEqual((artifact.name, artifact.kind, artifact.size), ("reports/r.json", "report", 10))
        self.assertEqual(len(artifact.sha256), 64)
        secret = self.job(run, "secret")
        self.assertEqual(secret.log_tail, "key=***")
        self.assertNotIn("hunter2", secret._log_store().read_range(0, 10**6).decode())
        fails = self.job(run, "fails")
        self.assertEqual((fails.state, fails.exit_code, fails.failure_reason), ("failed", 3, "exit code 3"))
        flaky = self.job(run, "flaky")
        self.assertEqual((flaky.state, flaky.attempt), ("succeeded", 2))
        self.assertIn("second attempt", flaky.log_tail)
        self.assertEqual(self.job(run, "checkout").state, "succeeded")
        self.assertFalse(self.containers(run), "finished containers are removed once their exit code is read")

        manager = new_test_user(
            self.env, "s_manager", groups="base.group_user,influencegen_release.group_release_release_manager"
        )
        self.env["release.approval"].with_user(manager).api_decide(run.approval_ids.id, "approve", "")
        self.tick_until(lambda: run.state == "succeeded")
        self.assertEqual(self.job(run, "deploy").log_tail, "deployed")
        self.assertTrue(run.finished_at)
        self.assertTrue(run.message_ids.filtered(lambda m: "Run succeeded" in (m.body or "")))

    def test_task_secrets_are_references_of_the_one_resolver_and_masked_in_every_log_line(self):
        os.environ.pop("IGR_TEST_UNSET_SECRET", None)
        self.make_pipeline(
            "PL-T-SECRETS",
            """\
    - name: One
      tasks:
        - {name: Unset, key: unset, run: "true", secrets: [IGR_TEST_UNSET_SECRET]}
        - {name: Set, key: set, run: 'echo "$IGR_TEST_SECRET"', secrets: [IGR_TEST_SECRET]}
""",
        )
        run = self.trigger()
        unset, used = self.job(run, "unset"), self.job(run, "set")
        self.tick_until(lambda: run.state == "failed" and used.state == "succeeded")
        self.assertEqual(unset.failure_reason, "env:IGR_TEST_UNSET_SECRET is not set or empty", "the reference, no value")
        self.assertEqual(used.log_tail, "***")
        used._append_log("a reason naming hunter2-super-secret\n")
        self.assertEqual(used.log_tail, "***\na reason naming ***", "lines the product adds are masked too")

    def test_branch_stage_filter_and_failed_stage_stops_the_run(self):
        self.make_pipeline(
            "PL-T-FAIL",
            """\
    - name: One
      tasks:
        - {name: Breaks, key: breaks, run: "exit 4"}
        - {name: Fine, key: fine, run: "true"}
    - name: Two
      tasks:
        - {name: Never, key: never, run: "echo never"}
    - name: Main only
      branches: [main]
      tasks:
        - {name: Main, key: main_only, run: "true"}
""",
        )
        run = self.trigger(ref="refs/heads/feature/x")
        self.assertEqual(self.job(run, "main_only").state, "skipped", "a stage for other branches is skipped")
        self.tick_until(lambda: run.state == "failed")
        self.assertEqual(self.job(run, "breaks").exit_code, 4)
        self.assertEqual(self.job(run, "fine").state, "succeeded", "jobs of a stage run side by side")
        self.assertEqual(self.job(run, "never").state, "skipped")
        status = run.api_status(run.id)
        self.assertEqual([s["state"] for s in status["stages"]], ["failed", "skipped", "skipped"])

    def test_same_push_returns_the_same_run_and_bad_payloads_are_explained(self):
        self.make_pipeline("PL-T-SAME", "    - name: One\n      tasks:\n        - {name: A, key: a, run: 'true'}\n")
        first = self.trigger()
        self.assertEqual(self.trigger(), first)
        Run = self.env["release.run"].with_user(self.developer)
        payload = {"repository": "sched-repo", "ref": "refs/heads/main", "after": self.sha}
        with self.assertRaisesRegex(UserError, "Unknown repository 'nope'"):
            Run.api_trigger(dict(payload, repository="nope"))
        with self.assertRaisesRegex(UserError, "full 40-character commit sha, got 'abc'"):
            Run.api_trigger(dict(payload, after="abc"))
        with self.assertRaisesRegex(UserError, "refs/heads/experiment matches no pipeline of repository sched-repo"):
            Run.api_trigger(dict(payload, ref="experiment"))
        with self.assertRaisesRegex(UserError, "Pipeline 'PL-NONE' does not run on repository sched-repo"):
            Run.api_trigger(dict(payload, pipeline="PL-NONE"))
        self.assertEqual(Run.api_trigger(dict(payload, after="0" * 40))["runs"], [])
        viewer = self.env["res.users"].create(
            {"name": "V", "login": "s_viewer", "groups_id": [(6, 0, [self.env.ref("influencegen_release.group_release_user").id])]}
        )
        with self.assertRaises(AccessError):
            self.env["release.run"].with_user(viewer).api_trigger(payload)

    def test_timeout_and_out_of_memory_fail_with_their_reason(self):
        self.make_pipeline(
            "PL-T-LIMITS",
            """\
    - name: Limits
      tasks:
        - {name: Slow, key: slow, run: "echo start; sleep 30", timeout: 2}
        - {name: Hungry, key: hungry, run: "python3 -c 'x = bytearray(400 * 1024 * 1024)'", memory: 64m}
""",
        )
        run = self.trigger()
        self.tick_until(lambda: run.state == "failed", timeout=40)
        slow, hungry = self.job(run, "slow"), self.job(run, "hungry")
        self.assertEqual((slow.state, slow.failure_reason), ("failed", "timed out after 2 s"))
        self.assertIn("start", slow.log_tail)
        self.assertTrue(hungry.oom_killed)
        self.assertEqual(hungry.failure_reason, "killed: out of memory (limit 64 MiB)")
        self.assertLess(slow.duration_s, 15)

    def test_cancel_stops_running_containers(self):
        self.make_pipeline(
            "PL-T-CANCEL",
            "    - name: Long\n      tasks:\n        - {name: Sleep, key: sleep, run: 'echo going; sleep 60'}\n"
            "    - name: After\n      tasks:\n        - {name: Next, key: next, run: 'true'}\n",
        )
        run = self.trigger()
        self.tick_until(lambda: self.job(run, "sleep").state == "running")
        run.with_user(self.developer).action_cancel()
        self.tick_until(lambda: run.state == "cancelled")
        self.assertEqual(self.job(run, "sleep").state, "cancelled")
        self.assertEqual(self.job(run, "next").state, "cancelled")
        self.assertFalse(self.containers(run))
        retry = run.with_user(self.developer).action_retry()
        again = self.env["release.run"].browse(retry["res_id"])
        self.assertEqual((again.retry_of_id, again.commit_sha, again.state), (run, run.commit_sha, "queued"))

    def test_capacity_limits_parallel_jobs(self):
        self.runner.capacity = 1
        self.make_pipeline(
            "PL-T-CAP",
            "    - name: Wide\n      tasks:\n"
            + "".join(f"        - {{name: J{i}, key: j{i}, run: 'sleep 1'}}\n" for i in range(3)),
        )
        run = self.trigger()
        peak, ahead, created = 0, 0, set()

        def done():
            nonlocal peak, ahead
            live = run.job_ids.filtered(lambda j: j.state in ("starting", "running"))
            peak = max(peak, len(live.filtered(lambda j: not j.ahead)))  # what holds a slot
            ahead = max(ahead, len(live.filtered("ahead")))
            client = self.runner._client()
            created.update(j.task_key for j in live if j.ahead == "ready" and client.state(j.container_id).status == "created")
            return run.state == "succeeded"

        self.tick_until(done, timeout=60)
        self.assertEqual(peak, 1)
        # While the host is full, the next job's container is created (files in), not started.
        self.assertEqual(ahead, 1)
        self.assertTrue(created)
        self.assertFalse(run.job_ids.filtered("ahead"))

    def test_a_job_created_ahead_is_dropped_when_its_run_is_cancelled(self):
        self.runner.capacity = 1
        self.make_pipeline(
            "PL-T-AHEAD",
            "    - name: Wide\n      tasks:\n"
            "        - {name: Long, key: long, run: 'sleep 60'}\n"
            "        - {name: Next, key: next, run: 'echo never'}\n",
        )
        run = self.trigger()
        self.tick_until(lambda: self.job(run, "next").ahead == "ready")
        self.assertEqual(self.job(run, "long").state, "running")
        volumes = self.runner._client().volumes({"influencegen.db": self.env.cr.dbname, "influencegen.run": str(run.id)})
        self.assertIn(self.job(run, "next").container_name, volumes, "its files are in its volume already")
        run.with_user(self.developer).action_cancel()
        self.tick_until(lambda: run.state == "cancelled")
        self.assertEqual(self.job(run, "next").state, "cancelled")
        self.assertNotIn("never", self.job(run, "next").log_tail or "")
        self.assertFalse(self.containers(run))
        self.assertFalse(self.runner._client().volumes({"influencegen.db": self.env.cr.dbname, "influencegen.run": str(run.id)}))

    def test_run_pipeline_from_the_backend_resolves_the_branch_head(self):
        pipeline = self.make_pipeline("PL-T-UI", "    - name: One\n      tasks:\n        - {name: A, key: a, run: 'true'}\n")
        action = pipeline.with_user(self.developer).action_run_pipeline()
        self.assertEqual(action["context"]["default_repository_id"], self.repository.id)
        wizard = (
            self.env["release.run.wizard"]
            .with_user(self.developer)
            .with_context(**action["context"])
            .create({})
        )
        run = self.env["release.run"].browse(wizard.action_run()["res_id"])
        self.assertEqual((run.pipeline_id, run.commit_sha, run.ref), (pipeline, self.sha, "refs/heads/main"))
        self.assertEqual(run.pusher, "s_developer")
        wizard.ref = "no-such-branch"
        with self.assertRaisesRegex(UserError, "unknown ref 'refs/heads/no-such-branch'"):
            wizard.action_run()


class TestGates(SchedulerCase):
    """Gates decide from the real reports of real tools, and only new findings count."""

    def _commit(self, files, message):
        for name, text in files.items():
            path = os.path.join(self.git_repo.working_tree_dir, name)
            if text is None:  # the repository outlives each test's transaction: undo earlier files
                if os.path.exists(path):
                    self.git_repo.index.remove([path], working_tree=True)
                continue
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            self.git_repo.index.add([path])
        return self.git_repo.index.commit(message).hexsha

    def test_sast_gate_blocks_new_high_findings_with_file_and_line(self):
        self.make_pipeline(
            "PL-T-GATE",
            """\
    - name: Quality
      tasks:
        - name: SAST
          key: sast
          image: influencegen/runner-python:bookworm
          run: mkdir -p reports; bandit -r /src -f json -o reports/bandit.json --exit-zero
          reports: [{format: bandit-json, path: reports/bandit.json}]
        - name: Unit
          key: unit
          image: influencegen/runner-python:bookworm
          run: |
            mkdir -p reports
            echo '<testsuite tests="1" failures="0"><testcase classname="t" name="ok"/></testsuite>' > reports/unit.xml
          reports: [{format: junit-xml, path: reports/unit.xml}]
      gates:
        - name: SAST Pass
          criteria:
            - findings: {from: [sast], severity: high, new: true, max: 0}
        - name: Tests Pass
          criteria:
            - tests: {from: [unit], max_failed: 0, min_total: 1}
    - name: After
      tasks:
        - {name: Next, key: next, run: "true"}
""",
        )
        clean = self._commit({"app.py": "def add(a, b):\n    return a + b\n", "tools.py": None}, "clean")
        first = self.trigger(sha=clean)
        self.tick_until(lambda: first.state in ("succeeded", "failed"), timeout=90)
        self.assertEqual(first.state, "succeeded", first.gate_result_ids.mapped("explanation"))
        self.assertEqual(first.gate_result_ids.mapped("result"), ["passed", "passed"])
        self.assertIn("no baseline yet", first.gate_result_ids[0].explanation)

        risky = self._commit(
            {"tools.py": "import subprocess\n\n\ndef run(command):\n    return subprocess.call(command, shell=True)\n"},
            "shell",
        )
        second = self.trigger(sha=risky)
        self.tick_until(lambda: second.state in ("succeeded", "failed"), timeout=90)
        self.assertEqual(second.state, "failed")
        sast = second.gate_result_ids.filtered(lambda r: r.gate_key == "sast_pass")
        self.assertEqual((sast.result, sast.baseline_run_id), ("failed", first))
        self.assertIn("tools.py:5 high bandit/B602", sast.explanation)
        self.assertEqual(sast.finding_ids.mapped("rule"), ["B602"])
        self.assertEqual(self.job(second, "next").state, "skipped", "a failed gate stops the run")
        notice = second.message_ids.filtered(lambda m: m.subject and "gate SAST Pass failed" in m.subject)
        self.assertEqual(notice.message_type, "comment")
        self.assertIn(self.developer.partner_id, notice.partner_ids, "the person who pushed is told")
        self.assertIn("tools.py:5 high bandit/B602", notice.body)
        status = second.api_status(second.id)
        self.assertEqual(status["stages"][0]["gates"], [{"name": "SAST Pass", "result": "failed"}, {"name": "Tests Pass", "result": "passed"}])
        unit = self.job(second, "unit")
        self.assertEqual((unit.tests_total, unit.tests_failed), (1, 0))

    def test_a_waiver_accepts_a_finding_until_it_expires(self):
        self.test_sast_gate_blocks_new_high_findings_with_file_and_line()
        failed = self.env["release.run"].search([("pipeline_id.code", "=", "PL-T-GATE"), ("state", "=", "failed")])
        finding = failed.finding_ids.filtered(lambda f: f.rule == "B602")
        devops = self.env["res.users"].create(
            {
                "name": "Ops",
                "login": "s_ops",
                "groups_id": [
                    (6, 0, [self.env.ref("base.group_user").id, self.env.ref("influencegen_release.group_release_devops_lead").id])
                ],
            }
        )
        with self.assertRaises(AccessError):
            self.env["release.waiver"].with_user(self.developer).create(
                {"fingerprint": finding.fingerprint, "reason": "mine", "expires_on": "2999-01-01"}
            )
        # The gate reads "today" in the scheduler's time zone (context_today): so does the test,
        # else it fails in the hour before midnight UTC.
        today = fields.Date.context_today(self.env["release.waiver"])
        waiver = self.env["release.waiver"].with_user(devops).create(
            {"fingerprint": finding.fingerprint, "finding_id": finding.id, "reason": "command is a constant", "expires_on": today}
        )
        self.assertEqual(waiver.approved_by_id, devops)
        retried = self.env["release.run"].browse(failed.with_user(self.developer).action_retry()["res_id"])
        self.tick_until(lambda: retried.state in ("succeeded", "failed"), timeout=90)
        self.assertEqual(retried.state, "succeeded", retried.gate_result_ids.mapped("explanation"))
        self.assertIn("waived: tools.py:5 bandit/B602", retried.gate_result_ids[0].explanation)

        waiver.expires_on = today - timedelta(days=1)
        again = self.env["release.run"].browse(failed.with_user(self.developer).action_retry()["res_id"])
        self.tick_until(lambda: again.state in ("succeeded", "failed"), timeout=90)
        self.assertEqual(again.state, "failed", "an expired waiver no longer accepts the finding")
        with self.assertRaises(UserError):
            waiver.unlink()
