from odoo.tests.common import new_test_user

from .scheduler_common import IMAGE, SchedulerCase

# The production target does not answer (nothing listens on port 9): the seed's odoo.smoke
# check really fails against it, and so does the restore the automatic rollback asks of it.
PIPELINE = f"""\
version: 1
environments:
  - {{code: t-auto-prod, name: T Auto Production, tier: production, kind: odoo, url: "http://127.0.0.1:9", database: gone, credentials: "param:igr_test.auto_key"}}
  - {{code: t-auto-staging, name: T Auto Staging, tier: staging, kind: odoo, url: "http://127.0.0.1:9", database: gone, credentials: "param:igr_test.auto_key"}}
pipeline:
  code: %(code)s
  name: Automatic rollback
  kind: odoo
  triggers:
    - {{event: push, branches: ["main"]}}
  defaults: {{image: {IMAGE}, timeout: 60}}
  rollback: {{strategy: redeploy_previous, restore_database: %(restore)s, automatic: %(automatic)s}}
  stages:
    - name: Production
      key: prod
      environment: %(env)s
      tasks:
        - {{name: Deploy, key: deploy, uses: git.checkout}}
        - {{name: Smoke, key: smoke, uses: odoo.smoke}}
"""


class TestAutomaticRollback(SchedulerCase):
    """rollback.automatic: a failed smoke check after a production deploy rolls back by itself."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].set_param("igr_test.auto_key", "not-a-real-key")
        cls.manager = new_test_user(cls.env, "r_manager", groups="base.group_user,influencegen_release.group_release_release_manager")

    def deployed_run(self, code, automatic="true", restore="true", env="t-auto-prod"):
        """A run whose deploy to ``env`` is recorded (the test stands in for odoo.deploy, which
        needs a live target), after an earlier good deployment of 1.0.0."""
        pipeline = self.env["release.pipeline.loader"]._load_text(
            PIPELINE % {"code": code, "automatic": automatic, "restore": restore, "env": env}, f"{code}.yml"
        )
        self.repository.pipeline_ids |= pipeline
        environment = self.env["release.environment"].search([("code", "=", env)])
        Artifact = self.env["release.artifact"]
        old = Artifact.create({"name": "modules-1.0.0.zip", "kind": "odoo_modules", "sha256": "1" * 64, "version": "1.0.0"})
        environment._new_deployment(old)._finish("deployed", target_receipt=3, backup_ref="/backups/before-1.0.0.dump")
        run = self.trigger(code)
        new = Artifact.create(
            {"name": "modules-1.0.1.zip", "run_id": run.id, "kind": "odoo_modules", "sha256": "2" * 64, "version": "1.0.1",
             "manifest_json": '{"modules": {}}'}
        )  # fmt: skip
        deployment = environment._new_deployment(new, run=run)
        deployment._finish("deployed", target_receipt=7, backup_ref="/backups/before-1.0.1.dump")
        return run, environment, deployment

    def test_a_failed_smoke_check_after_a_production_deploy_rolls_back_by_itself(self):
        run, environment, deployment = self.deployed_run("PL-T-AUTO")
        self.tick_until(lambda: run.state == "failed")
        smoke = self.job(run, "smoke")
        self.assertEqual(smoke.state, "failed")
        self.assertIn("/web/health does not answer 200", smoke.failure_reason)
        self.assertEqual((run.rollback_state, run.rollback_environment_id), ("automatic_queued", environment))
        self.assertTrue(run.message_ids.filtered(lambda m: "rolling back automatically" in (m.body or "")))

        # Its own cron (never the scheduler's tick) carries it out through the deployer's
        # _rollback: restore_database asks the target for its pre-deploy backup.
        self.env["release.run"]._cron_automatic_rollbacks()
        self.env.invalidate_all()
        rollback = environment.deployment_ids.filtered("is_rollback")
        self.assertEqual(len(rollback), 1)
        self.assertEqual((rollback.rollback_of_id, rollback.automatic_rollback), (deployment, True))
        self.assertEqual(rollback.version, "1.0.0")
        self.assertEqual(rollback.outcome, "error", "the target does not answer: the restore could not be done")
        self.assertIn("does not answer", rollback.error)
        self.assertTrue(rollback.message_ids.filtered(lambda m: "Automatic rollback" in (m.body or "")))
        self.assertEqual(run.rollback_deployment_id, rollback)
        # A rollback that could not be done falls back to the Release Managers, told so.
        self.assertEqual(run.rollback_state, "required")
        failed = run.message_ids.filtered(lambda m: "automatic rollback of t-auto-prod failed" in (m.body or "").lower())
        self.assertTrue(failed)
        self.assertIn(self.manager.partner_id, failed.partner_ids)
        self.assertTrue(run.activity_ids.filtered(lambda a: a.user_id == self.manager and "Roll back t-auto-prod" in a.summary))
        self.assertEqual(run.api_status(run.id)["rollback"], "required")

        # Done once: the cron finds nothing more to do.
        self.env["release.run"]._cron_automatic_rollbacks()
        self.assertEqual(len(environment.deployment_ids.filtered("is_rollback")), 1)

    def test_only_production_and_only_when_the_pipeline_says_so(self):
        for code, automatic, env in (("PL-T-AUTO-OFF", "false", "t-auto-prod"), ("PL-T-AUTO-STG", "true", "t-auto-staging")):
            run, environment, _deployment = self.deployed_run(code, automatic=automatic, env=env)
            self.tick_until(lambda r=run: r.state == "failed")
            self.assertEqual(run.rollback_state, "required", code)
            self.assertFalse(environment.deployment_ids.filtered("is_rollback"), code)
