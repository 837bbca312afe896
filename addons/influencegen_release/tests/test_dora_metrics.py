"""DORA's four keys per pipeline and environment, on deployments of known dates
(tests/dora_common.py tells what each must be and why)."""

from odoo.tests.common import TransactionCase

from .dora_common import DoraData


class TestDoraMetrics(DoraData, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_dora_data()
        cls.viewer = cls.dora_viewer

    def _row(self, environment, days=30):
        rows = self.env["release.dora.metric"].with_user(self.viewer).api_dora(days)["rows"]
        return next(r for r in rows if r["environment"]["id"] == environment.id and r["pipeline"]["id"] == self.dora_pipeline.id)

    def test_the_four_keys_of_production(self):
        row = self._row(self.dora_prod)
        self.assertEqual((row["deployments"], row["attempts"], row["failures"], row["open_failures"]), (3, 5, 3, 0))
        self.assertAlmostEqual(row["deployments_per_day"], 0.1)
        self.assertAlmostEqual(row["lead_time_h"], 10 / 3)
        self.assertAlmostEqual(row["change_failure_rate"], 60.0)
        self.assertAlmostEqual(row["restore_time_h"], 2.5)

    def test_each_deployment_counts_as_dora_says(self):
        Metric = self.env["release.dora.metric"]
        by_deployment = {m.deployment_id: m for m in Metric.search([("environment_id", "=", self.dora_prod.id)])}
        self.assertNotIn(self.dora_r1, by_deployment, "a rollback is how a failure ends, not a deployment")
        self.assertNotIn(self.dora_d6, by_deployment, "a deployment that changed nothing is not a change")
        expected = {  # deployment: (successful, failed, lead time h, time to restore h)
            self.dora_d0: (1, 0, 2.0, 0.0),
            self.dora_d1: (1, 0, 2.0, 0.0),
            self.dora_d2: (0, 1, 0.0, 3.0),
            self.dora_d3: (1, 0, 6.0, 0.0),
            self.dora_d4: (1, 1, 2.0, 4.0),
            self.dora_d5: (0, 1, 0.0, 0.5),
        }
        actual = {d: (m.deployments, m.failures, round(m.lead_time_h, 4), round(m.restore_time_h, 4)) for d, m in by_deployment.items()}
        self.assertEqual(actual, expected)

    def test_the_period_and_the_environment_split_the_keys(self):
        row = self._row(self.dora_prod, days=60)
        self.assertEqual((row["deployments"], row["attempts"]), (4, 6), "the 60 days include D0")
        self.assertAlmostEqual(row["lead_time_h"], 12 / 4)
        staging = self._row(self.dora_staging)
        self.assertEqual((staging["deployments"], staging["failures"]), (1, 0))
        self.assertAlmostEqual(staging["lead_time_h"], 1.0)
        self.assertAlmostEqual(staging["change_failure_rate"], 0.0)
        self.assertFalse(staging["restore_time_h"])
        rows = self.env["release.dora.metric"].api_dora(30)["rows"]
        self.assertEqual(rows[0]["environment"]["tier"], "production", "production comes first")

    def test_a_failure_nothing_restored_yet_is_open(self):
        self.env.flush_all()
        self.env.cr.execute("UPDATE release_deployment SET outcome = 'error' WHERE id = %s", (self.dora_d6.id,))
        self.env.invalidate_all()
        row = self._row(self.dora_prod)
        self.assertEqual((row["attempts"], row["failures"], row["open_failures"]), (6, 4, 1))
        self.assertAlmostEqual(row["change_failure_rate"], 400 / 6)
        self.assertAlmostEqual(row["restore_time_h"], 2.5, msg="an open failure has no time to restore yet")

    def test_a_team_restricted_pipeline_keeps_its_metrics_to_its_teams(self):
        self.dora_pipeline.group_ids = self.env.ref("influencegen_release.group_release_qa_lead")
        self.assertFalse(self.env["release.dora.metric"].with_user(self.viewer).api_dora(30)["rows"])
        self.viewer.groups_id += self.env.ref("influencegen_release.group_release_qa_lead")
        self.assertEqual(self._row(self.dora_prod)["deployments"], 3)
