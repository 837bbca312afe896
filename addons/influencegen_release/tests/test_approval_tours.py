"""Browser tours of the approval screens (issue 18, items 1 to 5), desktop and phone: the
request is told to the approver and closes by a vote only, the card says what is approved,
the UAT session is recorded from the card, and a decision takes at most 2 clicks."""

from odoo.tests import HttpCase, tagged

from .approval_common import ApprovalData


class ApprovalTourCase(ApprovalData, HttpCase):
    """The QA Lead's request, waiting for the UAT sign-off; ``screen`` names the tours'
    variant ("" on a desktop, "phone_" on a phone)."""

    screen = ""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_approval_data()
        cls.approval = cls.pass_the_build()

    def tell_the_approver(self):
        """Item 1: the activity menu and the Discuss inbox tell the QA Lead; the request's
        activity has no Mark Done: the request stays pending."""
        tour = f"influencegen_release_{self.screen}approval_%s"
        self.start_tour("/odoo", tour % "told", login="ap_qa")
        self.start_tour("/odoo/action-mail.action_discuss", tour % "inbox", login="ap_qa")
        url = f"/odoo/action-influencegen_release.action_release_approval/{self.approval.id}"
        self.start_tour(url, tour % "no_mark_done", login="ap_qa")
        self.assertEqual(self.approval.state, "pending")


@tagged("post_install", "-at_install", "services")  # services: needs Chromium
class TestApprovalTours(ApprovalTourCase):
    def test_1_the_approver_is_told_and_only_a_vote_closes_the_activity(self):
        self.tell_the_approver()

    def test_2_3_4_what_is_approved_uat_inline_then_two_clicks(self):
        self.start_tour("/odoo/release-my-approvals", "influencegen_release_approval_uat_inline", login="ap_qa")
        vote = self.approval.vote_ids
        self.assertEqual((vote.user_id, vote.decision, vote.comment), (self.qa, "approve", "Invoicing works on staging"))
        self.assertEqual(vote.uat_session_id.tester_id, self.qa)
        self.assertEqual(vote.uat_session_id.scenario_ids.mapped("name"), ["Invoice a sales order"])
        self.ap_run._advance()  # the scheduler asks the CAB next
        self.start_tour("/odoo", "influencegen_release_approval_two_clicks", login="ap_cab1")
        self.assertEqual(self.approval.vote_ids.filtered(lambda v: v.user_id == self.cab1).decision, "approve")


@tagged("post_install", "-at_install", "services")
class TestApprovalPhoneTours(ApprovalTourCase):
    browser_size = "390x844"
    touch_enabled = True
    screen = "phone_"

    def test_a_qa_lead_records_uat_and_approves_from_the_card_on_a_phone(self):
        self.start_tour("/odoo/release-my-approvals", "influencegen_release_phone_uat_card", login="ap_qa")
        vote = self.approval.vote_ids
        self.assertEqual((vote.user_id, vote.decision, vote.comment), (self.qa, "approve", "Checked on my phone"))

    def test_b_the_approver_is_told_on_a_phone_and_decides_in_two_clicks(self):
        self.tell_the_approver()
        session = self.uat_evidence(self.qa)
        self.start_tour("/odoo", "influencegen_release_phone_two_clicks", login="ap_qa")
        vote = self.approval.vote_ids
        self.assertEqual((vote.user_id, vote.decision, vote.uat_session_id), (self.qa, "approve", session))
