"""The approval screens on a phone, 390 x 844 with touch (issue 18, item 5): text wraps,
Approve and Reject are buttons on the screen, nothing runs off the right edge."""

from odoo.tests import tagged

from .views_common import ViewsTourCase


@tagged("post_install", "-at_install", "services")  # services: needs Chromium
class TestPhoneTours(ViewsTourCase):
    browser_size = "390x844"
    touch_enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.qa.name = "Quinn Tester"  # a person's name, not the test helper's login and groups

    def test_a_qa_lead_approves_on_a_phone(self):
        self.finish_build(self.env)
        approval = self.views_run.approval_ids
        self.start_tour("/odoo/release-my-approvals", "influencegen_release_phone_approvals", login="views_qa")
        self.assertEqual((approval.state, approval.decided_by_id), ("approved", self.qa))
        self.assertEqual(approval.comment, "Checked on my phone")
