"""The data the OWL screens read, and who may act from them (the server refuses whatever
the screens hide)."""

from odoo.exceptions import AccessError
from odoo.tests.common import TransactionCase

from .views_common import ERROR_LINE, ViewsData


class TestViewsData(ViewsData, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_views_data()

    def test_run_graph_gives_stages_jobs_gates_and_what_the_user_may_do(self):
        graph = self.env["release.run"].with_user(self.developer).api_graph(self.views_run.id)
        self.assertEqual([s["name"] for s in graph["stages"]], ["Build", "Staging"])
        build = graph["stages"][0]
        self.assertEqual(build["state"], "running")
        self.assertEqual([(j["name"], j["state"], j["retries"]) for j in build["jobs"]], [("Compile", "running", 0)])
        self.assertEqual([(g["name"], g["result"]) for g in build["gates"]], [("Build passes", "pending")])
        self.assertTrue(graph["can_cancel"])
        self.assertFalse(graph["can_retry"])
        self.assertEqual(graph["parent_run"], [])

    def test_a_release_user_sees_the_graph_but_may_not_cancel_or_retry(self):
        graph = self.env["release.run"].with_user(self.viewer).api_graph(self.views_run.id)
        self.assertEqual(graph["stages"][0]["jobs"][0]["state"], "running")
        self.assertFalse(graph["can_cancel"])
        with self.assertRaises(AccessError):
            self.views_run.with_user(self.viewer).action_cancel()
        self.views_run.action_cancel()
        # The scheduler stops the container, then the run ends cancelled.
        self.views_run.job_ids.filtered(lambda j: j.state == "running").write({"state": "cancelled"})
        self.views_run._advance()
        self.assertEqual(self.views_run.state, "cancelled")
        self.assertTrue(self.env["release.run"].with_user(self.developer).api_graph(self.views_run.id)["can_retry"])
        self.assertFalse(self.env["release.run"].with_user(self.viewer).api_graph(self.views_run.id)["can_retry"])
        with self.assertRaises(AccessError):
            self.views_run.with_user(self.viewer).action_retry()

    def test_a_team_restricted_run_stays_hidden_from_other_users(self):
        self.pipeline.group_ids = self.env.ref("influencegen_release.group_release_qa_lead")
        self.assertEqual(self.env["release.run"].with_user(self.qa).api_graph(self.views_run.id)["id"], self.views_run.id)
        with self.assertRaises(AccessError):
            self.env["release.run"].with_user(self.viewer).api_graph(self.views_run.id)
        with self.assertRaises(AccessError):
            self.job.with_user(self.viewer).api_log_page()

    def test_chained_runs_are_linked_both_ways(self):
        params = {"ref": "refs/heads/main", "sha": "3" * 40}
        child = self.pipeline._create_run(self.env["release.repository"], params, "views-child")
        child.parent_run_id = self.views_run
        Run = self.env["release.run"].with_user(self.viewer)
        self.assertEqual(Run.api_graph(self.views_run.id)["chained_runs"], [{"id": child.id, "name": child.display_name, "state": "queued"}])
        self.assertEqual(Run.api_graph(child.id)["parent_run"][0]["id"], self.views_run.id)

    def test_job_and_run_changes_are_announced_on_the_bus_to_release_users(self):
        self.env.cr.precommit.run()
        Bus = self.env["bus.bus"].sudo()
        last = Bus._bus_last_id()
        self.finish_build(self.env)
        self.env.cr.precommit.run()
        group = self.env.ref("influencegen_release.group_release_user")
        ours = Bus.search([("id", ">", last), ("message", "like", "influencegen_release/run_changed")])
        self.assertTrue(ours, "job and run changes were sent")
        self.assertEqual(set(ours.mapped("channel")), {f'["{self.env.cr.dbname}","res.groups",{group.id}]'}, "to Release Users")
        self.assertIn(f'"job_ids":[{self.job.id}]', "".join(ours.mapped("message")))
        self.assertIn(f'"run_ids":[{self.views_run.id}]', "".join(ours.mapped("message")))

    def test_a_big_log_opens_at_its_tail_and_pages_back(self):
        job = self.job.with_user(self.viewer)
        tail = job.api_log_page()
        self.assertEqual((tail["end"], tail["size"], tail["state"]), (self.store.size(), self.store.size(), "running"))
        self.assertTrue(tail["text"].endswith("step 0012099\x1b[0m compiling module views_demo ... ok\n"))
        self.assertLessEqual(len(tail["text"]), 256 * 1024)
        older = job.api_log_page(end=tail["start"])
        self.assertEqual(older["end"], tail["start"])
        self.assertTrue(older["text"].startswith("\x1b[32mstep "), "pages hold whole lines")

    def test_first_error_and_search_find_lines_outside_the_loaded_page(self):
        job = self.job.with_user(self.viewer)
        offset = job.api_log_find()
        page = job.api_log_page(start=offset, length=200)
        self.assertTrue(page["text"].startswith(ERROR_LINE))
        found = job.api_log_find(text="STEP 0000050")
        self.assertIn("step 0000050", job.api_log_page(start=found, length=100)["text"].splitlines()[0])
        self.assertEqual(job.api_log_find(text="no such text"), -1)

    def test_my_approvals_lists_what_awaits_the_user_with_what_they_decide_on(self):
        self.finish_build(self.env)
        self.assertEqual(self.views_run.state, "waiting_approval")
        mine = self.env["release.approval"].with_user(self.qa).api_my_approvals()
        self.assertEqual(len(mine), 1)
        request = mine[0]
        self.assertEqual(request["checksum"], self.views_run.approval_ids.artifact_sha256)
        self.assertEqual(request["environment"], "Views Staging")
        self.assertEqual(request["window"]["name"], False)
        self.assertIn("0 critical", request["findings"])
        self.assertEqual(self.env["release.approval"].with_user(self.viewer).api_my_approvals(), [])
        with self.assertRaises(AccessError):
            self.views_run.approval_ids.with_user(self.viewer).action_approve()

    def test_environment_board_shows_versions_and_rollback_to_managers_only(self):
        self.deployments()
        board = self.env["release.environment"].api_board()
        odoo = next(row for row in board if row["kind"] == "odoo")
        staging = next(e for e in odoo["environments"] if e["code"] == "views-staging")
        self.assertEqual((staging["current"]["version"], staging["last"]["outcome"]), ("1.0.1", "deployed"))
        self.assertTrue(staging["can_rollback"])
        viewer_board = self.env["release.environment"].with_user(self.viewer).api_board()
        viewer_staging = next(e for row in viewer_board for e in row["environments"] if e["code"] == "views-staging")
        self.assertFalse(viewer_staging["can_rollback"])
        with self.assertRaises(AccessError):
            self.environment.with_user(self.viewer).action_rollback()

    def test_drift_is_unknown_when_the_target_cannot_be_read(self):
        self.assertEqual(self.environment.api_drift()["state"], "unknown")
        self.deployments(1)
        drift = self.environment.with_user(self.viewer).api_drift()
        self.assertEqual(drift["state"], "unknown")
        self.assertIn("needs a URL", drift["details"][0])

    def test_pipeline_definition_graph_comes_with_its_yaml(self):
        definition = self.pipeline.with_user(self.viewer).api_definition()
        self.assertEqual([s["key"] for s in definition["stages"]], ["build", "staging"])
        self.assertEqual(definition["stages"][0]["tasks"][0]["key"], "compile")
        self.assertEqual(definition["stages"][1]["gates"][0]["type"], "manual")
        self.assertIn("key: staging", definition["yaml"])
        seed = self.env["release.pipeline"].search([("code", "=", "PL-ODOO-MOD")]).api_definition()
        self.assertIn("PL-ODOO-MOD", seed["yaml"])
        self.assertEqual(len(seed["stages"]), 8)
