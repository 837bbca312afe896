from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests.common import new_test_user

from .scheduler_common import IMAGE, SchedulerCase

ROLE = "influencegen_release.group_release_"
ACTIVITY_TYPE = "influencegen_release.mail_activity_type_release_approval"
ESCALATION_TYPE = "influencegen_release.mail_activity_type_release_escalation"
BLOCKER_TYPE = "influencegen_release.mail_activity_type_release_blocker"

PIPELINE = f"""\
version: 1
environments:
  - {{code: t-staging, name: T Staging, tier: staging, kind: odoo}}
  - {{code: t-prod, name: T Production, tier: production, kind: odoo}}
pipeline:
  code: PL-T-APPROVE
  name: Approval flow
  kind: odoo
  triggers:
    - {{event: push, branches: ["main"]}}
  defaults: {{image: {IMAGE}, timeout: 60}}
  rollback: {{strategy: redeploy_previous, restore_database: true, automatic: true}}
  stages:
    - name: Build
      tasks:
        - {{name: Checkout, key: checkout, uses: git.checkout}}
    - name: Staging
      key: staging
      trigger: manual
      environment: t-staging
      tasks:
        - {{name: Deploy staging, key: st_deploy, uses: git.checkout}}
      approval:
        rules: [{{group: qa_lead}}, {{group: product_owner}}]
        order: sequential
        exclude: [author]
        evidence: uat
        remind: 1h
        deadline: 2h
      gates: [{{name: UAT Sign-off, type: manual}}]
    - name: Production
      key: prod
      trigger: manual
      environment: t-prod
      tasks:
        - {{name: Pre-cutover, key: pre, checklist: ["Backup verified restorable", "Stakeholders informed"]}}
        - {{name: Deploy prod, key: pr_deploy, uses: git.checkout, window: true}}
        - {{name: Post-cutover validation, key: post, checklist: ["Orders can be invoiced"], confirm_by: [qa_lead]}}
      approval:
        rules: [{{group: cab_member, quorum: 2}}]
        exclude: [author, triggerer]
        comment_required: true
        window: true
      gates: [{{name: Go/No-Go, type: manual}}]
"""

# The seed's production window: Tuesday and Thursday 20:00-23:00, Saturday 06:00-10:00 UTC.
MONDAY_NOON = datetime(2026, 11, 30, 12, 0)
TUESDAY_EVENING = datetime(2026, 12, 1, 20, 30)


class TestApprovals(SchedulerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        def user(login, *roles, email=None):
            groups = ",".join(["base.group_user", *(ROLE + r for r in roles)])
            return new_test_user(cls.env, login, groups=groups, email=email or f"{login}@example.org")

        cls.qa = user("a_qa", "qa_lead")
        cls.po = user("a_po", "product_owner")
        cls.cab1 = user("a_cab1", "cab_member")
        cls.cab2 = user("a_cab2", "cab_member")
        # Pushes and triggers the run, and sits on the CAB: may not approve their own change.
        cls.cab_dev = user("a_cab_dev", "developer", "cab_member")
        # Authored the commit (dev@example.com in SchedulerCase's repository).
        cls.cab_author = user("a_cab_author", "cab_member", email="dev@example.com")
        cls.rm1 = user("a_rm1", "release_manager")
        cls.rm2 = user("a_rm2", "release_manager")
        cls.viewer = user("a_viewer", "user")
        cls.pipeline = cls.env["release.pipeline.loader"]._load_text(PIPELINE, "approve.yml")
        cls.repository.pipeline_ids |= cls.pipeline
        cls.prod = cls.env["release.environment"].search([("code", "=", "t-prod")])
        cls.prod.calendar_id = cls.env.ref("influencegen_release.calendar_production_window")

    def start(self):
        run = self.trigger("PL-T-APPROVE", user=self.cab_dev)
        self.tick_until(lambda: run.state == "waiting_approval")
        return run

    def signed_off_to_go_no_go(self):
        """A run whose UAT sign-off is given: it waits for the production Go/No-Go."""
        run = self.start()
        staging = self.approval(run, "staging")
        self.uat_evidence(run)
        self.decide(self.qa, staging, "approve")
        self.decide(self.po, staging, "approve")
        self.tick_until(lambda: self.approval(run, "prod"))
        return run, self.approval(run, "prod")

    def approval(self, run, stage_key):
        return run.approval_ids.filtered(lambda a: a.stage_key == stage_key and a.state != "void")

    def decide(self, user, approval, decision, comment=""):
        return self.env["release.approval"].with_user(user).api_decide(approval.id, decision, comment)

    def open_activity_users(self, approval, xmlid=ACTIVITY_TYPE):
        activity_type = self.env.ref(xmlid)
        return approval.activity_ids.filtered(lambda a: a.activity_type_id == activity_type).user_id

    def uat_evidence(self, run, results=("pass", "pass")):
        session = self.env["release.uat.session"].with_user(self.qa).create(
            {
                "run_id": run.id,
                "scenario_ids": [
                    Command.create({"name": f"Scenario {i}", "result": result, "note": "checked by hand"})
                    for i, result in enumerate(results, 1)
                ],
            }
        )
        session.action_submit()
        return session

    def test_uat_sign_off_order_evidence_and_activities(self):
        run = self.start()
        staging = self.approval(run, "staging")
        self.assertEqual((staging.state, staging.awaiting), ("pending", "qa_lead 0/1, product_owner 0/1"))
        self.assertEqual(staging.gate_id.name, "UAT Sign-off")
        self.assertIn("T Staging", staging.summary)
        self.assertIn(run.commit_sha, staging.summary)
        # Sequential: only QA Leads are asked first, each with a "Release decision" activity.
        self.assertIn(self.qa, self.open_activity_users(staging))
        self.assertNotIn(self.po, self.open_activity_users(staging))
        self.assertEqual(run.with_user(self.developer).api_status(run.id)["stages"][1]["gates"][0]["result"], "pending")

        with self.assertRaisesRegex(UserError, "sequential: qa_lead decides first"):
            self.decide(self.po, staging, "approve")
        with self.assertRaisesRegex(AccessError, "not among the approvers"):
            self.decide(self.viewer, staging, "approve")
        with self.assertRaisesRegex(UserError, "needs UAT evidence"):
            self.decide(self.qa, staging, "approve")
        failed = self.uat_evidence(run, ("pass", "fail"))
        self.assertEqual(failed.result, "failed")
        with self.assertRaisesRegex(UserError, "needs UAT evidence"):
            self.decide(self.qa, staging, "approve")
        with self.assertRaisesRegex(UserError, "evidence"):
            failed.with_user(self.qa).notes = "rewritten later"
        session = self.uat_evidence(run)
        self.assertEqual((session.result, session.environment_id), ("passed", self.env["release.environment"]))

        status = self.decide(self.qa, staging, "approve", "All scenarios passed")
        self.assertEqual((status["state"], status["awaiting"]), ("pending", "product_owner 0/1"))
        vote = staging.vote_ids
        self.assertEqual((vote.user_id, vote.role, vote.uat_session_id), (self.qa, "qa_lead", session))
        self.assertEqual(vote.artifact_sha256, staging.artifact_sha256)
        self.assertNotIn(self.qa, self.open_activity_users(staging), "the decider's activity is done")
        self.env["release.scheduler"]._advance_runs()  # the scheduler asks the next role in order
        self.assertIn(self.po, self.open_activity_users(staging))
        with self.assertRaisesRegex(UserError, "already decided"):
            self.decide(self.qa, staging, "approve", "twice")
        with self.assertRaisesRegex(UserError, "comment is required"):
            self.decide(self.po, staging, "reject")

        self.decide(self.po, staging, "approve")
        self.assertEqual((staging.state, staging.decided_by_id), ("approved", self.po))
        self.assertFalse(self.open_activity_users(staging), "a decided request leaves no open activity")
        done = staging.with_context(active_test=False).activity_ids.filtered(lambda a: not a.active)
        self.assertGreaterEqual(len(done), 2, "done activities are kept as evidence")
        with self.assertRaisesRegex(UserError, "evidence"):
            vote.with_user(self.qa).write({"comment": "changed"})
        with self.assertRaises(UserError):
            vote.unlink()
        with self.assertRaises(AccessError):
            staging.with_user(self.qa).write({"void_reason": "sneaky"})
        self.assertTrue(staging.message_ids.filtered(lambda m: "All scenarios passed" in (m.body or "")))

        self.tick_until(lambda: self.approval(run, "prod"))
        self.assertEqual(self.job(run, "st_deploy").state, "succeeded")
        self.assertEqual(run.state, "waiting_approval")

    def test_go_no_go_quorum_segregation_window_checklists_and_rollback_path(self):
        run, go = self.signed_off_to_go_no_go()
        self.assertEqual(go.excluded_user_ids, self.cab_dev | self.cab_author)
        self.assertIn("authored the commit", go.exclusion_note)
        self.assertNotIn(self.cab_dev, self.open_activity_users(go), "excluded people are not asked")
        self.assertLessEqual(self.cab1 | self.cab2, self.open_activity_users(go))
        with self.assertRaisesRegex(AccessError, "Segregation of duties"):
            self.decide(self.cab_dev, go, "approve", "my own change looks fine")
        with self.assertRaisesRegex(AccessError, "Segregation of duties"):
            self.decide(self.cab_author, go, "approve", "I wrote it, ship it")
        with self.assertRaisesRegex(AccessError, "Segregation of duties"):
            # A raw create over RPC passes the same rules; the role it claims is ignored.
            self.env["release.approval.vote"].with_user(self.cab_dev).create(
                {"approval_id": go.id, "decision": "approve", "comment": "raw", "role": "cab_member"}
            )
        with self.assertRaisesRegex(UserError, "comment is required"):
            self.decide(self.cab1, go, "approve")
        self.assertEqual(self.decide(self.cab1, go, "approve", "Go")["awaiting"], "cab_member 1/2")
        self.assertEqual(self.decide(self.cab2, go, "approve", "Go")["state"], "approved")

        # Pre-cutover checklist: named people with the task's roles tick it before the deploy.
        self.tick_until(lambda: run.state == "waiting_checklist")
        self.assertEqual(self.job(run, "pre").state, "waiting")
        self.assertEqual(self.job(run, "pr_deploy").state, "pending", "the deploy waits for the checklist")
        items = run.checklist_item_ids.filtered(lambda i: i.job_id.task_key == "pre")
        self.assertEqual(items.mapped("name"), ["Backup verified restorable", "Stakeholders informed"])
        with self.assertRaisesRegex(AccessError, "Only these roles"):
            items[0].with_user(self.developer).action_done()
        with self.assertRaises(AccessError):
            items[0].with_user(self.rm1).write({"state": "done", "checked_by_id": self.rm2.id})
        items.with_user(self.rm1).action_done()
        self.assertEqual(items.mapped("checked_by_id"), self.rm1 | self.rm1)

        # Outside the window the approved deploy waits, then starts by itself when it opens.
        with freeze_time(MONDAY_NOON):
            self.env["release.scheduler"]._advance_runs()
        self.env.invalidate_all()
        self.assertEqual(run.state, "waiting_window")
        self.assertEqual(run.window_opens_at, datetime(2026, 12, 1, 20, 0))
        self.assertEqual(self.job(run, "pre").state, "succeeded")
        self.assertEqual(self.job(run, "pr_deploy").state, "pending")
        with freeze_time(TUESDAY_EVENING):
            self.env["release.scheduler"]._advance_runs()
        self.env.invalidate_all()
        self.assertEqual(self.job(run, "pr_deploy").state, "queued")
        self.assertTrue(run.message_ids.filtered(lambda m: "inside the maintenance window" in (m.body or "")))

        # Post-cutover validation fails: the run fails and the rollback path starts.
        self.tick_until(lambda: self.job(run, "post").state == "waiting")
        post = run.checklist_item_ids.filtered(lambda i: i.job_id.task_key == "post")
        with self.assertRaisesRegex(AccessError, "Only these roles"):
            post.with_user(self.rm1).action_fail()
        with self.assertRaisesRegex(UserError, "note is required"):
            post.with_user(self.qa).api_check("failed")
        post.with_user(self.qa).api_check("failed", "Invoice button raises an error")
        self.tick_until(lambda: run.state == "failed")
        self.assertEqual(self.job(run, "post").failure_reason[:44], "Orders can be invoiced: Invoice button raise")
        self.assertEqual(run.rollback_state, "required")
        self.assertTrue(run.activity_ids.filtered(lambda a: a.user_id == self.rm1 and "Roll back t-prod" in a.summary))

    def test_new_artifact_checksum_voids_approvals_and_asks_again(self):
        run = self.start()
        staging = self.approval(run, "staging")
        first_checksum = staging.artifact_sha256
        self.uat_evidence(run)
        self.decide(self.qa, staging, "approve", "looked at commit builds")
        # A packaging job records the artifact to deploy: what was approved is no longer it.
        self.env["release.artifact"].create(
            {"name": "modules.zip", "run_id": run.id, "kind": "odoo_modules", "sha256": "a" * 64, "version": "1.0.0"}
        )
        self.env["release.scheduler"]._advance_runs()
        self.env.invalidate_all()
        self.assertEqual(staging.state, "void")
        self.assertIn("the artifact changed", staging.void_reason)
        self.assertEqual(len(staging.vote_ids), 1, "the void request keeps its votes as history")
        self.assertFalse(self.open_activity_users(staging))
        again = self.approval(run, "staging")
        self.assertTrue(again and again != staging)
        self.assertNotEqual(again.artifact_sha256, first_checksum)
        self.assertEqual((again.state, again.vote_ids.ids), ("pending", []))
        self.assertEqual(again.artifact_sha256, "a" * 64, "one package: its own checksum")
        # The package's upgrade plan needs the target, which t-staging (no URL) cannot reach:
        # nobody approves what cannot be shown; the Release Managers are asked to fix it.
        self.assertIn("Plan unavailable", again.blocked_reason)
        self.assertNotIn(self.qa, self.open_activity_users(again))
        self.assertLessEqual(self.rm1 | self.rm2, self.open_activity_users(again, BLOCKER_TYPE))
        self.assertEqual(run.state, "waiting_approval")

    def test_reject_stops_the_run_and_closes_every_activity(self):
        run = self.start()
        staging = self.approval(run, "staging")
        self.decide(self.po, staging, "reject", "Checkout page is broken on staging")
        self.assertEqual((staging.state, staging.comment), ("rejected", "Checkout page is broken on staging"))
        self.assertFalse(self.open_activity_users(staging))
        self.tick_until(lambda: run.state == "failed")
        self.assertEqual(set(run.job_ids.filtered(lambda j: j.stage_key != "build").mapped("state")), {"skipped"})
        with self.assertRaisesRegex(UserError, "takes no more decisions"):
            self.decide(self.qa, staging, "approve", "too late")

    def test_reminder_then_escalation_to_the_release_manager(self):
        run = self.start()
        staging = self.approval(run, "staging")
        requested = staging.requested_at
        with freeze_time(requested + timedelta(minutes=61)):
            self.env["release.scheduler"]._advance_runs()
        self.env.invalidate_all()
        self.assertTrue(staging.reminded_at)
        reminder = staging.message_ids.filtered(lambda m: "Reminder" in (m.body or ""))
        self.assertIn(self.qa.partner_id, reminder.partner_ids)
        self.assertNotIn(self.rm1, self.open_activity_users(staging))
        with freeze_time(requested + timedelta(hours=2, minutes=1)):
            self.env["release.scheduler"]._advance_runs()
        self.env.invalidate_all()
        self.assertTrue(staging.escalated_at)
        self.assertLessEqual(self.rm1 | self.rm2, self.open_activity_users(staging, ESCALATION_TYPE))
        self.assertIn(self.qa, self.open_activity_users(staging), "the approvers are still asked")
        self.assertTrue(staging.message_ids.filtered(lambda m: "escalated to" in (m.body or "")))
        self.assertEqual(staging.state, "pending", "escalation asks the Release Manager to act; it decides nothing")
        self.decide(self.po, staging, "reject", "Too late for this release")
        self.assertFalse(self.open_activity_users(staging, ESCALATION_TYPE), "the escalation closes with the request")

    def test_break_glass_needs_a_reason_and_a_second_release_manager(self):
        run, go = self.signed_off_to_go_no_go()
        self.decide(self.cab1, go, "approve", "Go")
        self.decide(self.cab2, go, "approve", "Go")
        self.tick_until(lambda: run.state == "waiting_checklist")
        run.checklist_item_ids.with_user(self.rm1).action_done()
        with freeze_time(MONDAY_NOON):
            self.env["release.scheduler"]._advance_runs()
            self.env.invalidate_all()
            self.assertEqual(run.state, "waiting_window")
            Override = self.env["release.window.override"]
            with self.assertRaises(AccessError):
                Override.with_user(self.developer).create({"run_id": run.id, "reason": "hurry"})
            with self.assertRaisesRegex(UserError, "needs a reason"):
                Override.with_user(self.rm1).create({"run_id": run.id, "reason": " "})
            override = Override.with_user(self.rm1).create({"run_id": run.id, "reason": "INC-42: payments down"})
            with self.assertRaisesRegex(AccessError, "second Release Manager"):
                override.with_user(self.rm1).action_confirm()
            self.env["release.scheduler"]._advance_runs()
            self.env.invalidate_all()
            self.assertEqual(self.job(run, "pr_deploy").state, "pending", "one Release Manager is not enough")
            override.with_user(self.rm2).action_confirm()
            self.env["release.scheduler"]._advance_runs()
            self.env.invalidate_all()
        self.assertTrue(run.break_glass)
        self.assertEqual(self.job(run, "pr_deploy").state, "queued")
        self.assertTrue(run.message_ids.filtered(lambda m: "under break glass" in (m.body or "")))
        self.assertTrue(run.message_ids.filtered(lambda m: "BREAK GLASS" in (m.body or "") and "INC-42" in m.body))

    def test_freeze_keeps_the_window_closed(self):
        freeze = self.env["resource.calendar.leaves"].create(
            {
                "name": "Year-end freeze",
                "calendar_id": self.prod.calendar_id.id,
                "date_from": datetime(2026, 12, 1, 0, 0),
                "date_to": datetime(2026, 12, 4, 0, 0),
            }
        )
        is_open, opens, why = self.prod._window_state(TUESDAY_EVENING)
        self.assertFalse(is_open)
        self.assertEqual(opens, datetime(2026, 12, 5, 6, 0), "the next window after the freeze: Saturday 06:00")
        self.assertIn("Year-end freeze", why)
        freeze.date_to = datetime(2026, 12, 1, 0, 1)
        self.assertEqual(self.prod._window_state(TUESDAY_EVENING)[:2], (True, datetime(2026, 12, 1, 23, 0)))
