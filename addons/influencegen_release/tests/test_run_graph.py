"""What the run graph and the findings are told (issue 18, items 6 and 8): a failed gate
fails its stage and the jobs it read, what never ran is not reached and has no exit code,
timings per job, stage and run, findings new, still there or fixed versus the baseline."""

from odoo.tests import TransactionCase

from .graph_common import GraphData
from .views_common import ViewsData


class TestRunGraph(GraphData, ViewsData, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_views_data()
        cls.setup_graph_data()

    def stage(self, graph, name):
        return next(stage for stage in graph["stages"] if stage["name"] == name)

    def test_a_failed_gate_fails_its_stage_and_the_jobs_it_read(self):
        self.assertEqual(self.graph_run.state, "failed")
        graph = self.env["release.run"].with_user(self.viewer).api_graph(self.graph_run.id)
        build = self.stage(graph, "Build and test")
        self.assertEqual(build["state"], "failed", "its jobs succeeded, its gate did not")
        self.assertEqual(build["gates"][0]["result"], "failed")
        unit = next(job for job in build["jobs"] if job["name"] == "Unit tests")
        self.assertEqual((unit["state"], unit["verdict"], unit["gate_failed"]), ("succeeded", "failed", ["Tests pass"]))
        self.assertEqual(unit["tests"], {"total": 72, "failed": 8})
        self.assertEqual(unit["exit_code"], 0)
        lint = next(job for job in build["jobs"] if job["name"] == "Lint")
        self.assertEqual((lint["verdict"], lint["gate_failed"]), ("succeeded", []), "its own criterion passed")

    def test_what_a_dead_run_never_reached_says_so_without_exit_code(self):
        graph = self.env["release.run"].with_user(self.viewer).api_graph(self.graph_run.id)
        staging = self.stage(graph, "Deploy to Graph Staging")
        self.assertEqual(staging["state"], "not_reached")
        self.assertEqual(staging["gates"][0]["result"], "not_reached")
        (deploy,) = staging["jobs"]
        self.assertEqual((deploy["state"], deploy["verdict"], deploy["exit_code"]), ("skipped", "not_reached", False))
        status = self.env["release.run"].api_status(self.graph_run.id)
        self.assertFalse(status["stages"][1]["jobs"][0]["exit_code"], "the CLI's status neither")

    def test_queue_time_start_and_duration_per_job_stage_and_run(self):
        graph = self.env["release.run"].api_graph(self.graph_run.id)
        lint, unit = self.stage(graph, "Build and test")["jobs"]
        self.assertEqual((lint["timing"]["queue_s"], lint["timing"]["duration_s"]), (30.0, 65.0))
        self.assertEqual(unit["timing"]["duration_s"], 125.0)
        stage = self.stage(graph, "Build and test")["timing"]
        self.assertEqual((stage["queue_s"], stage["duration_s"]), (30.0, 125.0), "first start to last end")
        self.assertEqual(self.stage(graph, "Deploy to Graph Staging")["timing"]["duration_s"], False)
        self.assertTrue(graph["timing"]["started_at"])

    def test_a_run_waiting_for_approval_says_since_when_not_a_duration(self):
        self.finish_build(self.env)
        run = self.views_run
        self.assertEqual(run.state, "waiting_approval")
        graph = self.env["release.run"].with_user(self.qa).api_graph(run.id)
        self.assertEqual(graph["waiting_since"], graph["approvals"][0]["requested_at"])
        self.assertTrue(graph["approvals"][0]["can_decide"], "the QA Lead may decide the waiting stage")
        self.assertFalse(self.env["release.run"].with_user(self.viewer).api_graph(run.id)["approvals"][0]["can_decide"])
        self.assertTrue(run.waiting_since)

    def test_findings_are_new_still_there_or_fixed_versus_the_baseline(self):
        findings = self.graph_run.finding_ids
        self.assertEqual(
            {f.rule: (f.novelty, f.baseline_run_id) for f in findings},
            {"C0301": ("known", self.baseline_run), "E1101": ("new", self.baseline_run)},
            "a finding that moved lines is still there (its fingerprint survives line shifts)",
        )
        fixed = self.baseline_run.finding_ids.filtered(lambda f: f.rule == "W0611")
        self.assertEqual(fixed.fixed_in_run_ids, self.graph_run)
        action = self.graph_run.gate_result_ids.action_open_findings()
        listed = self.env["release.finding"].with_context(**action["context"]).search(action["domain"])
        self.assertEqual(
            sorted((f.rule, f.change) for f in listed), [("C0301", "known"), ("E1101", "new"), ("W0611", "fixed")]
        )
        self.assertEqual(self.stage(self.env["release.run"].api_graph(self.graph_run.id), "Build and test")["gates"][0]["findings"], 3)
