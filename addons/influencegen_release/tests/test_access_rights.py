from odoo.exceptions import AccessError

from .common import ReleaseCase


class TestAccessRights(ReleaseCase):
    def test_release_user_reads_but_cannot_edit_a_pipeline(self):
        pipeline = self.pipeline("PL-ODOO-MOD").with_user(self.viewer)
        self.assertEqual(pipeline.name, "Odoo Custom Modules CI/CD Pipeline")
        with self.assertRaises(AccessError):
            pipeline.write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            pipeline.stage_ids[0].write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            self.env["release.run"].with_user(self.viewer).create({"pipeline_id": pipeline.id})

    def test_developer_triggers_runs_but_cannot_approve(self):
        pipeline = self.pipeline("PL-ODOO-MOD")
        run = (
            self.env["release.run"]
            .with_user(self.developer)
            .create({"pipeline_id": pipeline.id, "ref": "refs/heads/main"})
        )
        self.assertEqual(run.triggered_by_id, self.developer)
        approval = self.env["release.approval"].create({"run_id": run.id, "stage_id": pipeline.stage_ids[-1].id})
        with self.assertRaises(AccessError):
            approval.with_user(self.developer).write({"state": "approved"})
        with self.assertRaises(AccessError):
            run.with_user(self.developer).unlink()
        # Nobody writes a request's state, approvers included: they can only add a decision,
        # which the request's rules check (test_approvals).
        with self.assertRaises(AccessError):
            approval.with_user(self.cab_member).write({"void_reason": "approved, trust me"})
        approval.with_user(self.cab_member).check_access("read")
        self.env["release.approval.vote"].with_user(self.cab_member).check_access("create")
        with self.assertRaises(AccessError):
            self.env["release.approval.vote"].with_user(self.developer).check_access("create")

    def test_release_manager_configures(self):
        pipeline = self.pipeline("PL-IAC").with_user(self.manager)
        pipeline.write({"description": "Terraform and Ansible"})
        environment = (
            self.env["release.environment"]
            .with_user(self.manager)
            .create(
                {
                    "name": "Odoo Hotfix",
                    "code": "odoo-hotfix",
                    "tier": "staging",
                    "kind": "odoo",
                    "credentials_ref": "env:HOTFIX_KEY",
                }
            )
        )
        self.assertEqual(environment.tier, "staging")

    def test_team_restricted_pipeline_is_hidden_from_other_teams(self):
        team = self.env["res.groups"].create({"name": "Integration team"})
        pipeline = self.pipeline("PL-N8N-WF")
        pipeline.group_ids = team
        run = self.env["release.run"].create({"pipeline_id": pipeline.id})
        visible = self.env["release.pipeline"].with_user(self.developer).search([]).mapped("code")
        self.assertNotIn("PL-N8N-WF", visible)
        self.assertFalse(self.env["release.run"].with_user(self.developer).search([("id", "=", run.id)]))
        self.developer.groups_id |= team
        self.assertIn("PL-N8N-WF", self.env["release.pipeline"].with_user(self.developer).search([]).mapped("code"))
        self.assertIn("PL-N8N-WF", self.env["release.pipeline"].with_user(self.manager).search([]).mapped("code"))

    def test_credentials_are_references_never_secrets(self):
        from odoo.exceptions import ValidationError

        with self.assertRaises(ValidationError):
            self.env["release.environment"].create(
                {"name": "Bad", "code": "bad", "tier": "staging", "kind": "odoo", "credentials_ref": "s3cr3t-api-key"}
            )
