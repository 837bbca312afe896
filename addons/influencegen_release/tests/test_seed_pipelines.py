import json

from .common import ReleaseCase


class TestSeedPipelines(ReleaseCase):
    """The seed's four pipelines are installed complete, as the specification words them."""

    def test_four_pipelines_with_their_stage_counts(self):
        counts = {p.code: len(p.stage_ids) for p in self.Pipeline.search([])}
        self.assertEqual(counts, {"PL-ODOO-MOD": 8, "PL-N8N-WF": 7, "PL-IAC": 6, "PL-CONTAINER-IMG": 4})

    def test_odoo_pipeline_stages_gates_and_approvals(self):
        pipeline = self.pipeline("PL-ODOO-MOD")
        self.assertEqual(
            pipeline.stage_ids.mapped("name"),
            [
                "Checkout & Setup",
                "Code Quality & Security Analysis",
                "Unit & Integration Testing",
                "Build & Package",
                "Artifact Registration",
                "Deploy to Development",
                "Deploy to Staging (UAT)",
                "Deploy to Production",
            ],
        )
        gates = {g.name: g for g in pipeline.stage_ids.gate_ids}
        self.assertEqual(
            set(gates),
            {
                "Linting Pass",
                "SAST Pass",
                "Dependency Scan Pass",
                "Test Suite Pass",
                "UAT Sign-off",
                "Go/No-Go Decision",
            },
        )
        sast = json.loads(gates["SAST Pass"].criteria_json)
        self.assertEqual(sast[0]["severity"], "high")
        self.assertTrue(sast[0]["new"])
        self.assertIn("new critical/high findings from sast", gates["SAST Pass"].criteria_summary)
        self.assertEqual(gates["UAT Sign-off"].gate_type, "manual")
        self.assertEqual(gates["UAT Sign-off"].requirements, "REQ-TEST-UAT, REQ-CO-GO-NO-GO")

        staging, production = pipeline.stage_ids[6], pipeline.stage_ids[7]
        self.assertEqual(staging.trigger, "manual")
        self.assertEqual(
            staging.approval_rule_ids.mapped("group_id"),
            self.env.ref("influencegen_release.group_release_qa_lead")
            | self.env.ref("influencegen_release.group_release_product_owner"),
        )
        self.assertEqual(staging.approval_order, "sequential")
        cab = production.approval_rule_ids
        self.assertEqual(cab.group_id, self.env.ref("influencegen_release.group_release_cab_member"))
        self.assertEqual(cab.quorum, 2)
        self.assertTrue(production.approval_exclude_author and production.approval_exclude_triggerer)
        self.assertTrue(production.approval_window)
        self.assertEqual(production.environment_id.code, "odoo-prod")
        self.assertEqual(production.environment_id.calendar_id.name, "Production maintenance window")
        checklist = production.task_ids.filtered(lambda t: t.mode == "checklist")
        self.assertEqual(checklist.mapped("requirements"), ["REQ-CO-PREP", "REQ-CO-POSTVALID"])
        self.assertIn("REQ-OP-MAINT-SCHED", production.requirements)

        self.assertEqual(pipeline.rollback_strategy, "redeploy_previous")
        self.assertTrue(pipeline.rollback_restore_database)
        self.assertIn("REQ-REL-BCK-001", pipeline.rollback_description)
        notification = pipeline.notification_ids
        self.assertEqual(notification.events, "build_failed, deploy_succeeded, deploy_failed")
        self.assertTrue(notification.channel_email and notification.channel_slack)
        push = pipeline.trigger_ids
        self.assertEqual(push.event, "push")
        self.assertTrue(push._matches_ref("refs/heads/feature/login"))
        self.assertTrue(push._matches_ref("refs/heads/release/1.2"))
        self.assertFalse(push._matches_ref("refs/heads/experiment"))

    def test_tasks_carry_their_tools_limits_and_reports(self):
        pipeline = self.pipeline("PL-ODOO-MOD")
        tasks = {t.key: t for t in pipeline.stage_ids.task_ids}
        self.assertEqual(len(tasks), 21)
        sast = tasks["sast"]
        self.assertEqual((sast.mode, sast.tool, sast.network), ("run", "Bandit", "none"))
        self.assertEqual(sast.reports, "bandit-json: reports/bandit.json")
        self.assertEqual(sast.requirements, "REQ-SEC-WVULN-001")
        self.assertEqual((sast.timeout, sast.memory_mb, sast.cpus), (900, 1024, 1.0))
        self.assertEqual(tasks["dependency_scan"].network, "host")
        self.assertEqual(tasks["odoo_tests"].image, "influencegen/runner-odoo:18.0")
        self.assertEqual(tasks["odoo_tests"].timeout, 2700)
        self.assertEqual(tasks["prod_deploy"].action, "odoo.deploy")
        self.assertTrue(tasks["prod_deploy"].window)
        self.assertEqual(tasks["prod_postvalid"].mode, "checklist")
        self.assertEqual(len(tasks["prod_postvalid"].checklist.splitlines()), 3)
        staging = pipeline.stage_ids.filtered(lambda s: s.key == "deploy_staging")
        self.assertEqual(staging.approval_evidence, "uat")

    def test_other_pipelines_gates_and_approvers(self):
        role = lambda name: self.env.ref(f"influencegen_release.group_release_{name}")  # noqa: E731
        n8n = self.pipeline("PL-N8N-WF")
        self.assertEqual(
            n8n.stage_ids.gate_ids.mapped("name"),
            ["Validation Pass", "Integration Test Pass (manual/semi-automated)", "Go/No-Go Decision"],
        )
        self.assertEqual(n8n.stage_ids[5].approval_rule_ids.group_id, role("integration_lead") | role("qa_lead"))
        self.assertEqual(n8n.rollback_strategy, "redeploy_previous")

        iac = self.pipeline("PL-IAC")
        self.assertEqual(
            iac.stage_ids.gate_ids.mapped("name"),
            ["IaC Validation Pass", "Plan Review", "Staging Infra Validation", "Go/No-Go Decision"],
        )
        # The plan (stage 3) is reviewed where it is applied: Staging's approval is the Plan Review.
        self.assertEqual(iac.stage_ids[4].approval_rule_ids.group_id, role("devops_lead"))
        self.assertEqual(iac.stage_ids[2].task_ids.mapped("action"), ["iac.plan"])
        self.assertEqual(iac.stage_ids[5].approval_rule_ids.quorum, 2)
        self.assertEqual(iac.rollback_strategy, "revert_and_reapply")
        validation = iac.stage_ids[4].gate_ids.filtered(lambda g: g.name == "Staging Infra Validation")
        self.assertEqual((validation.gate_type, validation.requirements), ("automatic", "REQ-DI-ENVPAR"))

        image = self.pipeline("PL-CONTAINER-IMG")
        self.assertEqual(image.stage_ids.gate_ids.mapped("name"), ["Image Scan Pass"])
        self.assertEqual(image.rollback_strategy, "previous_image")
        chained = image.trigger_ids.filtered(lambda t: t.event == "pipeline")
        self.assertEqual(chained.source_pipeline_code, "PL-ODOO-MOD")
        self.assertEqual(self.pipeline("PL-ODOO-MOD").on_success_codes, "PL-CONTAINER-IMG")

    def test_environments_per_tier(self):
        environments = self.env["release.environment"].search([])
        tiers = {(e.kind, e.tier) for e in environments}
        for kind in ("odoo", "n8n", "iac"):
            for tier in ("development", "staging", "production"):
                self.assertIn((kind, tier), tiers)
        self.assertTrue(all(e.credentials_ref.startswith("env:") for e in environments))
