from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests.common import new_test_user

from .scheduler_common import IMAGE, SchedulerCase

ROLE = "influencegen_release.group_release_"

PIPELINE = f"""\
version: 1
environments:
  - {{code: t-esc-prod, name: T Escalation Production, tier: production, kind: odoo}}
pipeline:
  code: PL-T-ESCALATE
  name: Escalation
  kind: odoo
  triggers:
    - {{event: push, branches: ["main"]}}
  defaults: {{image: {IMAGE}, timeout: 60}}
  stages:
    - name: Production
      key: prod
      trigger: manual
      environment: t-esc-prod
      tasks:
        - {{name: Deploy prod, key: deploy, uses: git.checkout}}
      approval:
        rules: [{{group: cab_member, quorum: 2}}]
        exclude: [triggerer]
        deadline: 1h
        escalate_to: release_manager
      gates: [{{name: Go/No-Go, type: manual}}]
"""


class TestEscalation(SchedulerCase):
    """Escalation acts: after the deadline a Release Manager decides in place of the CAB."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        def user(login, *roles):
            return new_test_user(cls.env, login, groups=",".join(["base.group_user", *(ROLE + r for r in roles)]))

        cls.cab = user("e_cab", "cab_member")
        cls.rm = user("e_rm", "release_manager")
        # Triggers the run and is a Release Manager: segregation of duties keeps them out.
        cls.rm_dev = user("e_rm_dev", "developer", "release_manager")
        pipeline = cls.env["release.pipeline.loader"]._load_text(PIPELINE, "escalate.yml")
        cls.repository.pipeline_ids |= pipeline

    def escalate(self, user, approval, decision="approve", reason="CAB unreachable, outage fix"):
        return self.env["release.approval"].with_user(user).api_decide_as_escalation(approval.id, decision, reason)

    def test_after_the_deadline_a_release_manager_decides_in_place_of_the_cab(self):
        run = self.trigger("PL-T-ESCALATE", user=self.rm_dev)
        self.tick_until(lambda: run.state == "waiting_approval")
        approval = run.approval_ids
        self.assertEqual(approval.awaiting, "cab_member 0/2")
        self.assertIn(self.rm_dev, approval.excluded_user_ids)

        # Before the deadline the approvers still have time.
        self.assertFalse(approval.with_user(self.rm).can_escalate)
        with self.assertRaisesRegex(UserError, "only after the deadline"):
            self.escalate(self.rm, approval)

        with freeze_time(datetime.now() + timedelta(hours=2)):
            approval._check_deadlines(datetime.now())
            self.assertTrue(approval.escalated_at)
            self.assertTrue(approval.with_user(self.rm).can_escalate)
            self.assertFalse(approval.with_user(self.cab).can_escalate)
            self.assertFalse(approval.with_user(self.rm_dev).can_escalate)
            with self.assertRaisesRegex(AccessError, "Only members of"):
                self.escalate(self.cab, approval)
            with self.assertRaisesRegex(AccessError, "Segregation of duties"):
                self.escalate(self.rm_dev, approval)
            with self.assertRaisesRegex(AccessError, "Segregation of duties"):
                # A raw create over RPC passes the same rules.
                self.env["release.approval.override"].with_user(self.rm_dev).create(
                    {"approval_id": approval.id, "decision": "approve", "reason": "raw"}
                )
            with self.assertRaisesRegex(UserError, "reason is required"):
                self.escalate(self.rm, approval, reason="  ")
            action = approval.with_user(self.rm).action_decide_as_escalation()
            self.assertEqual(action["res_model"], "release.approval.escalate")
            status = self.escalate(self.rm, approval)

        self.assertEqual(status["state"], "approved")
        self.assertEqual(status["overrides"], [{"user": "e_rm", "roles": "cab_member 0/2", "decision": "approve", "reason": "CAB unreachable, outage fix"}])
        self.assertEqual((approval.state, approval.decided_by_id, approval.comment), ("approved", self.rm, "CAB unreachable, outage fix"))
        override = approval.override_ids
        self.assertEqual((override.user_id, override.group_id, override.roles), (self.rm, self.env.ref(ROLE + "release_manager"), "cab_member 0/2"))
        posted = approval.message_ids.filtered(lambda m: m.message_type == "comment" and "Escalation override" in (m.body or ""))
        self.assertIn("in place of the overdue approvers (cab_member 0/2)", posted.body)
        self.assertIn("Reason: CAB unreachable, outage fix", posted.body)
        self.assertIn(self.rm.name, posted.body)
        self.assertFalse(approval.activity_ids, "the overdue approvers' activities are closed")
        with self.assertRaises(UserError):
            override.with_user(self.rm).write({"reason": "rewritten"})
        with self.assertRaises(UserError):
            override.unlink()
        self.tick_until(lambda: run.state == "succeeded")
        self.assertEqual(self.job(run, "deploy").state, "succeeded")

    def test_an_escalation_rejects_and_a_decided_request_takes_no_more(self):
        run = self.trigger("PL-T-ESCALATE", user=self.rm_dev)
        self.tick_until(lambda: run.state == "waiting_approval")
        approval = run.approval_ids
        with freeze_time(datetime.now() + timedelta(hours=2)):
            self.escalate(self.rm, approval, "reject", "Nobody reviewed it")
            with self.assertRaisesRegex(UserError, "rejected: it takes no more decisions"):
                self.escalate(self.rm, approval)
        self.assertEqual(approval.state, "rejected")
        self.tick_until(lambda: run.state == "failed")
