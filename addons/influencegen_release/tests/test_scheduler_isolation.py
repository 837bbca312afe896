from datetime import timedelta

from odoo import fields

from .scheduler_common import SchedulerCase

ONE_JOB = "    - name: One\n      tasks:\n        - {name: Work, key: work, run: 'echo fine'}\n"
BUILTIN = "    - name: One\n      tasks:\n        - {name: Checkout, key: checkout, uses: git.checkout, timeout: 30}\n"


class TestSchedulerIsolation(SchedulerCase):
    """One run or built-in job that breaks, hangs or loses its worker harms no other."""

    def _running_builtin(self, code):
        """A built-in job recorded running under a lease, as a worker's claim leaves it."""
        self.make_pipeline(code, BUILTIN)
        run = self.trigger(code)
        scheduler = self.env["release.scheduler"]
        scheduler._advance_runs()
        job = self.job(run, "checkout")
        [(job_id, adopt)] = scheduler._step("_claim_builtins", "dead-host:1:gone", 10)  # then the worker dies
        self.assertEqual((job_id, adopt), (job.id, False))
        self.env.invalidate_all()
        self.assertEqual(job.state, "running")
        return run, job, self.env["release.job.lease"].search([("job_id", "=", job.id)])

    def test_a_poison_run_fails_alone_with_its_traceback_and_the_others_go_on(self):
        self.make_pipeline("PL-T-POISON", ONE_JOB)
        poison = self.trigger("PL-T-POISON")
        healthy = self.trigger("PL-T-POISON", ref="refs/heads/feature/x")
        poison.params_json = "{broken"  # its snapshot cannot be read: every advance raises
        self.env.flush_all()
        self.tick_until(lambda: healthy.state == "succeeded" and poison.state == "failed")
        self.assertEqual(self.job(healthy, "work").log_tail, "fine")
        self.assertIn(self.job(poison, "work").state, ("skipped", "cancelled"), "never started")
        [message] = poison.message_ids.filtered(lambda m: "unexpected error" in (m.body or ""))
        self.assertIn("Traceback", message.body)
        self.assertIn("JSONDecodeError", message.body)

    def test_a_builtin_job_whose_worker_died_fails_by_its_lease_with_the_reason(self):
        run, job, lease = self._running_builtin("PL-T-LEASE")
        self.assertEqual((lease.owner, lease.adopt), ("dead-host:1:gone", False))
        # Heartbeats renew the lease of live workers only.
        self.env["release.job.lease"]._renew("someone-else", [job.id])
        lease.expires_at = fields.Datetime.now() - timedelta(seconds=1)
        self.tick_until(lambda: run.state == "failed")
        self.assertEqual(job.state, "failed")
        self.assertIn("worker dead-host:1:gone (last heartbeat", job.failure_reason)
        self.assertIn("it is not started again", job.failure_reason)
        self.assertIn(job.failure_reason, job.log_tail)
        self.assertTrue(run.message_ids.filtered(lambda m: "dead-host:1:gone" in (m.body or "")))
        self.assertFalse(lease.exists())

    def test_a_builtin_job_past_its_timeout_fails_and_its_late_outcome_is_logged(self):
        run, job, lease = self._running_builtin("PL-T-BTIMEOUT")
        self.assertEqual(job.deadline_at, job.started_at + timedelta(seconds=30), "the task's own timeout")
        job.deadline_at = fields.Datetime.now() - timedelta(seconds=1)
        self.tick_until(lambda: run.state == "failed")
        self.assertTrue(job.failure_reason.startswith("timed out after 30 s"), job.failure_reason)
        # The worker ends later: its outcome is told in the log, the job stays failed.
        self.env["release.scheduler"]._step(
            "_settle_builtin", job.id, "dead-host:1:gone", "succeeded", "checked out late"
        )
        self.env.invalidate_all()
        self.assertEqual(job.state, "failed")
        self.assertIn("the action ended after the job was closed (succeeded): checked out late", job.log_tail)

    def test_a_builtin_job_with_an_unexpected_error_fails_alone_with_its_traceback(self):
        self.make_pipeline("PL-T-BPOISON", BUILTIN)
        broken = self.trigger("PL-T-BPOISON")
        healthy = self.trigger("PL-T-BPOISON", ref="refs/heads/feature/x")
        self.env["release.scheduler"]._advance_runs()
        self.job(broken, "checkout").task_key = "missing"  # not in the run's snapshot
        self.env.flush_all()
        self.tick_until(lambda: healthy.state == "succeeded" and broken.state == "failed")
        job = self.job(broken, "missing")
        self.assertTrue(
            job.failure_reason.startswith("unexpected error: odoo.exceptions.UserError"), job.failure_reason
        )
        self.assertIn("missing is not in the run's pipeline snapshot", job.failure_reason)
        self.assertIn("Traceback", job.log_tail)
        self.assertTrue(broken.message_ids.filtered(lambda m: "<pre>Traceback" in (m.body or "")))
        self.assertIn("is available to every job of this run", self.job(healthy, "checkout").log_tail)
