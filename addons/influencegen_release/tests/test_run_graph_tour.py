"""The run graph in the browser (issue 18, item 6) and the findings of a gate's line
(item 8): a failed gate in red, what was never reached, timings, badges read whole, and the
decision of a waiting stage by a QA Lead."""

from odoo.tests import tagged

from .graph_common import GraphData
from .views_common import ViewsTourCase

RUN_URL = "/odoo/action-influencegen_release.action_release_run/%s"


@tagged("post_install", "-at_install", "services")  # services: needs Chromium
class TestRunGraphTour(GraphData, ViewsTourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_graph_data()

    def test_a_failed_gate_in_red_what_never_ran_and_its_findings(self):
        self.start_tour(RUN_URL % self.graph_run.id, "influencegen_release_run_graph_truth", login="views_viewer", timeout=120)

    def test_a_qa_lead_approves_the_waiting_stage_from_the_graph(self):
        self.finish_build(self.env)
        approval = self.views_run.approval_ids
        self.start_tour(RUN_URL % self.views_run.id, "influencegen_release_run_graph_decide", login="views_qa", timeout=120)
        self.assertEqual((approval.state, approval.decided_by_id), ("approved", self.qa))
        self.assertEqual(approval.comment, "Approved from the run graph")
