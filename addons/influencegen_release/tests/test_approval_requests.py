"""Approval requests as approvers meet them (issue 18, items 1, 2 and 4): in the activity menu
and the Discuss inbox, closed by a vote only, with what they approve read now, in people's
names and local times; a request whose plan cannot be computed blocks on the Release Managers;
submitted UAT evidence is never changed."""

from datetime import timedelta

import pytz
from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests.common import TransactionCase

from .approval_common import ApprovalData

DECISION = "influencegen_release.mail_activity_type_release_approval"
ESCALATION = "influencegen_release.mail_activity_type_release_escalation"
BLOCKER = "influencegen_release.mail_activity_type_release_blocker"


class TestApprovalRequests(ApprovalData, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_approval_data()

    def inbox(self, user, approval, text):
        """``user``'s unread inbox notifications of ``approval`` whose message says ``text``."""
        notifications = self.env["mail.notification"].search(
            [
                ("res_partner_id", "=", user.partner_id.id),
                ("notification_type", "=", "inbox"),
                ("is_read", "=", False),
                ("mail_message_id.model", "=", "release.approval"),
                ("mail_message_id.res_id", "=", approval.id),
            ]
        )
        return notifications.filtered(lambda n: text in (n.mail_message_id.body or ""))

    def activities(self, approval, xmlid, user):
        activity_type = self.env.ref(xmlid)
        return approval.activity_ids.filtered(lambda a: a.activity_type_id == activity_type and a.user_id == user)

    def test_the_request_counts_in_the_activity_menu_reaches_the_inbox_and_closes_by_a_vote_only(self):
        approval = self.pass_the_build()
        self.assertEqual((approval.state, approval.blocked_reason), ("pending", False))
        activity = self.activities(approval, DECISION, self.qa)
        brussels_today = fields.Date.context_today(approval.with_context(tz="Europe/Brussels"))
        self.assertEqual(activity.date_deadline, brussels_today, "wanted now, though the deadline is in 3 days")
        self.assertIn("Europe/Brussels", activity.note)
        groups = {g["model"]: g for g in self.env["res.users"].with_user(self.qa)._get_activity_groups()}
        self.assertEqual(groups["release.approval"]["total_count"], 1, "the activity menu's badge counts it")
        self.assertEqual(self.qa.notification_type, "email", "who reads mail also finds it in the inbox")
        message = self.inbox(self.qa, approval, "Your decision is requested").mail_message_id
        self.assertTrue(message)
        self.assertIn("/odoo/release-my-approvals", message.body)
        self.assertIn("Add a smoke check", message.body, "the message carries the summary")

        mine = activity.with_user(self.qa)
        self.assertTrue(mine.release_decision)
        for close in (mine.action_done, mine.action_feedback, mine.unlink):
            with self.assertRaisesRegex(UserError, "closes when you approve or reject"):
                close()
        self.assertTrue(activity.exists() and activity.active)

        # Reminder, then escalation: the same way, in the inbox and (escalation) as an activity due today.
        with freeze_time(approval.requested_at + timedelta(hours=25)):
            approval._check_deadlines(fields.Datetime.now())
        self.assertTrue(self.inbox(self.qa, approval, "Reminder"))
        with freeze_time(approval.deadline + timedelta(minutes=1)):
            approval._check_deadlines(fields.Datetime.now())
            escalation = self.activities(approval, ESCALATION, self.manager)
            self.assertEqual(escalation.date_deadline, fields.Date.context_today(approval.with_context(tz="Europe/Brussels")))
        self.assertTrue(self.inbox(self.manager, approval, "Overdue"))

        self.uat_evidence(self.qa)
        self.env["release.approval"].with_user(self.qa).api_decide(approval.id, "approve", "")
        self.assertFalse(activity.active, "the vote closed it, and keeps it as evidence")

    def test_what_you_approve_is_read_now(self):
        approval = self.pass_the_build()
        facts = approval._what_you_approve()
        self.assertEqual(
            [(c["sha"], c["subject"], c["author"]) for c in facts["commits"]["items"]],
            [(self.shas[2], "Add a smoke check", "Dev Eloper"), (self.shas[1], "Fix the invoice total", "Dev Eloper")],
        )
        self.assertEqual((facts["running"]["version"], facts["running"]["commit"]), ("1.0.0", self.shas[0]))
        self.assertEqual((facts["tests"]["total"], facts["tests"]["passed"], facts["tests"]["failed"]), (72, 72, 0))
        self.assertIn(("Build passes", "passed"), [(g["name"], g["result"]) for g in facts["gates"]])
        self.assertEqual((facts["findings"]["count"], facts["findings"]["baseline"]), (2, False))
        finding = self.ap_run.finding_ids.filtered(lambda f: f.rule == "sql-injection")
        self.assertIn(f"/odoo/action-influencegen_release.action_release_finding/{finding.id}", approval.summary)
        self.assertFalse(facts["uat"])
        self.assertIn("back to 1.0.0", facts["rollback"])
        self.assertIn("database restored", facts["rollback"])
        qa_line, cab_line = facts["approvers"]
        self.assertRegex(qa_line, r"^QA Lead: 0 of 1 \(.*Jane Doe.* pending\)$")
        self.assertEqual(cab_line, "CAB Member: 0 of 2 (after QA Lead)")
        self.assertIn(self.shas[2], approval.summary, "the whole sha is the short one's title")
        self.assertIn(f">{self.shas[2][:12]}</code>", approval.summary)

        # Always current: after the QA Lead's sign-off, the same request says so.
        session = self.uat_evidence(self.qa)
        self.env["release.approval"].with_user(self.qa).api_decide(approval.id, "approve", "UAT passed")
        approval.invalidate_recordset()
        facts = approval._what_you_approve()
        self.assertEqual((facts["uat"]["id"], facts["uat"]["tester"], facts["uat"]["passed"]), (session.id, "Jane Doe", True))
        self.assertEqual(facts["approvers"][0], "QA Lead: 1 of 1 (Jane Doe approved)")
        self.assertRegex(facts["approvers"][1], r"^CAB Member: 0 of 2 \(.*Carl Abbot.*Cleo Banks.* pending\)$")
        self.assertIn("QA Lead: 1 of 1 (Jane Doe approved)", approval.summary)

    def test_labels_are_names_local_times_and_one_checksum(self):
        approval = self.pass_the_build().with_user(self.qa)
        local = pytz.utc.localize(approval.deadline).astimezone(pytz.timezone("Europe/Brussels"))
        self.assertIn("(Europe/Brussels)", approval.deadline_local)
        self.assertIn(local.strftime("%-I:%M"), approval.deadline_local)
        self.assertIn("QA Lead: 0 of 1", approval.approver_status)
        self.assertNotIn("qa_lead", approval.approver_status)
        # One package: the approval binds to the package's own checksum, the deployment's value.
        package = self.env["release.artifact"].create({"name": "ap-2.zip", "kind": "odoo_modules", "sha256": "b" * 64, "run_id": self.ap_run.id})
        self.assertEqual(self.env["release.approval"]._release_checksum(self.ap_run), package.sha256)

    def test_a_plan_that_cannot_be_computed_blocks_on_the_release_managers(self):
        # The run's package is to be planned by a target the environment cannot reach (no URL).
        self.env["release.artifact"].create({"name": "ap-2.zip", "kind": "odoo_modules", "sha256": "c" * 64, "run_id": self.ap_run.id})
        approval = self.pass_the_build()
        self.assertIn("Plan unavailable", approval.blocked_reason)
        self.assertFalse(self.activities(approval, DECISION, self.qa), "no approver is asked")
        self.assertTrue(self.activities(approval, BLOCKER, self.manager))
        self.assertTrue(self.inbox(self.manager, approval, "Blocked"))
        self.uat_evidence(self.qa)
        with self.assertRaisesRegex(UserError, "Nobody can decide"):
            self.env["release.approval"].with_user(self.qa).api_decide(approval.id, "approve", "")
        mine = self.env["release.approval"].with_user(self.manager).api_my_approvals()
        self.assertEqual([(a["id"], bool(a["blocked"])) for a in mine], [(approval.id, True)])
        # Fixed: the environment is one that plans nothing; the next pass asks the approvers.
        self.environment.kind = "docker"
        with freeze_time(fields.Datetime.now() + timedelta(minutes=6)):
            self.ap_run._advance()
        self.assertFalse(approval.blocked_reason)
        self.assertTrue(self.activities(approval, DECISION, self.qa))
        self.assertFalse(self.activities(approval, BLOCKER, self.manager), "the blocker closed by itself")

    def test_submitted_uat_evidence_is_never_changed_a_draft_is(self):
        session = self.uat_evidence(self.qa)
        scenario = session.scenario_ids
        refusals = {
            "change the session": lambda: session.write({"notes": "rewritten"}),
            "delete the session": session.unlink,
            "change a scenario": lambda: scenario.write({"result": "fail"}),
            "delete a scenario": scenario.unlink,
            "add a scenario": lambda: self.env["release.uat.scenario"].create({"session_id": session.id, "name": "Later"}),
        }
        for what, change in refusals.items():
            with self.subTest(what), self.assertRaises(UserError), self.env.cr.savepoint():
                change()  # as the superuser too: evidence is nobody's to edit
        self.assertEqual((session.notes, scenario.result, len(session.scenario_ids)), (False, "pass", 1))
        draft = self.env["release.uat.session"].with_user(self.qa).create({"run_id": self.ap_run.id})
        self.env["release.uat.scenario"].with_user(self.qa).create({"session_id": draft.id, "name": "Refund an invoice"})
        draft.scenario_ids.result = "pass"
        draft.notes = "still testing"
        self.assertEqual((draft.result, draft.notes), ("passed", "still testing"))
