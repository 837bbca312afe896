"""The run graph in the browser (issue 18, item 6) and the findings of a gate's line
(item 8): a failed gate in red, what was never reached, timings, badges read whole, and the
decision of a waiting stage by a QA Lead, and the `needs` edges between jobs."""

from odoo import fields
from odoo.tests import tagged

from .common import pipeline_yaml
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

    def test_the_findings_by_run_searched_and_filtered(self):
        self.start_tour("/odoo/action-influencegen_release.action_release_finding", "influencegen_release_findings_by_run", login="views_viewer")

    def test_a_qa_lead_approves_the_waiting_stage_from_the_graph(self):
        self.finish_build(self.env)
        approval = self.views_run.approval_ids
        self.start_tour(RUN_URL % self.views_run.id, "influencegen_release_run_graph_decide", login="views_qa", timeout=120)
        self.assertEqual((approval.state, approval.decided_by_id), ("approved", self.qa))
        self.assertEqual(approval.comment, "Approved from the run graph")


# Test's Unit needs only Build's Compile: it ran while Build's Slow still runs. E2E needs
# nothing and waits for its stage.
NEEDS_PIPELINE = pipeline_yaml(
    "PL-GRAPH-NEEDS",
    "Needs pipeline",
    """\
    - name: Build
      key: build
      tasks:
        - {name: Slow, key: slow, run: make slow}
        - {name: Compile, key: compile, run: make build}
    - name: Test
      key: test
      tasks:
        - {name: Unit, key: unit, run: make test, needs: [compile]}
        - {name: E2E, key: e2e, run: make e2e}
""",
)


@tagged("post_install", "-at_install", "services")
class TestRunGraphNeedsTour(ViewsTourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        pipeline = cls.env["release.pipeline.loader"]._load_text(NEEDS_PIPELINE, "needs.yml")
        cls.needs_run = pipeline._create_run(cls.env["release.repository"], {"ref": "refs/heads/main", "sha": "4" * 40}, "needs-run")
        cls.needs_run._advance()
        now = fields.Datetime.now()
        jobs = {job.task_key: job for job in cls.needs_run.job_ids}
        jobs["slow"].write({"state": "running", "started_at": now})
        for key in ("compile", "unit"):
            jobs[key].write({"state": "succeeded", "exit_code": 0, "started_at": now, "finished_at": now})

    def test_the_graph_draws_the_needs_edges(self):
        jobs = {job.task_key: job for job in self.needs_run.job_ids}
        edges = self.needs_run.with_user(self.viewer).api_graph(self.needs_run.id)["needs"]
        self.assertEqual(edges, [{"from": jobs["compile"].id, "to": jobs["unit"].id}])
        self.start_tour(RUN_URL % self.needs_run.id, "influencegen_release_run_graph_needs", login="views_viewer", timeout=120)
