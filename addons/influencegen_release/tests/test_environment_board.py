"""The environment board, the deployments and the parity screen as a release manager reads
them (issue 18, item 9): version and commit per environment, who deployed (the person, not
OdooBot) and who approved, how long it took, drift with a legend, promote and roll back, a
parity screen with a column per environment and a title."""

from odoo.tests import tagged

from .views_common import ViewsTourCase


@tagged("post_install", "-at_install", "services")  # services: needs Chromium
class TestEnvironmentBoard(ViewsTourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.views_run.triggered_by_id = cls.developer
        cls.developer.name = "Dana Developer"
        cls.qa.name = "Quinn Tester"
        cls.finish_build(cls.env)
        approval = cls.views_run.approval_ids
        cls.env["release.approval"].with_user(cls.qa).api_decide(approval.id, "approve", "Checked")
        cls.deployments()  # carried out by OdooBot, as the scheduler does
        cls.environment.current_deployment_id.downtime_s = 2.4  # as the deploy's probes measured it
        # The next tier: its target cannot be read (no database), so parity shows it unreachable.
        cls.production = cls.env["release.environment"].create(
            {"code": "views-prod", "name": "Views Production", "tier": "production", "kind": "odoo", "url": "http://127.0.0.1:9"}
        )

    def staging_entry(self, user):
        rows = self.env["release.environment"].with_user(user).api_board()
        odoo = next(row for row in rows if row["kind"] == "odoo")
        return next(e for e in odoo["environments"] if e["code"] == "views-staging")

    def test_the_board_names_the_people_and_the_duration(self):
        admin = self.env.ref("base.user_admin")
        entry = self.staging_entry(admin)
        self.assertEqual((entry["current"]["version"], entry["current"]["commit"]), ("1.0.1", "2" * 12))
        self.assertEqual(entry["last"]["by"], "Dana Developer", "the run's triggerer, not OdooBot")
        self.assertEqual(entry["last"]["approved_by"], ["Quinn Tester"])
        self.assertIsNot(entry["last"]["duration_s"], False)
        self.assertEqual(entry["last"]["downtime_s"], 2.4)
        self.assertIn({"code": "views-prod", "name": "Views Production", "version": "1.0.1"}, entry["promote_to"], "the next tier of its kind")
        self.assertEqual(self.staging_entry(self.viewer)["promote_to"], [], "only Release Managers promote")
        deployment = self.environment.current_deployment_id
        self.assertEqual((deployment.requested_by_id, deployment.approved_by_ids), (self.developer, self.qa))

    def test_the_parity_screen_has_a_title_and_a_column_per_environment(self):
        parity = self.env["release.parity"].create({"kind": "odoo"})
        self.assertEqual(parity.display_name, "Environment parity: Odoo databases")
        parity.action_compare()
        self.assertIn("Views Production", parity.report)
        self.assertIn("not reachable", parity.report.lower())

    def test_a_release_manager_reads_the_board_promotes_and_reads_the_history(self):
        self.start_tour("/odoo/release-environment-board", "influencegen_release_board_manager", login="admin", timeout=120)
        self.assertEqual(len(self.production.deployment_ids), 1, "the promotion was tried and recorded")
