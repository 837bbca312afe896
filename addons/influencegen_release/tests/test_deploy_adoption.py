import json
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests.common import new_test_user

from ..engine.delivery.odoo.target import OdooTarget
from .scheduler_common import IMAGE, SchedulerCase

PIPELINE = f"""\
version: 1
environments:
  - {{code: t-adopt-dev, name: T Adopt Dev, tier: development, kind: odoo, url: "http://127.0.0.1:9", database: target, credentials: "param:igr_test.adopt_key"}}
pipeline:
  code: PL-T-ADOPTDEPLOY
  name: Deploy adoption
  kind: odoo
  triggers:
    - {{event: push, branches: ["main"]}}
  defaults: {{image: {IMAGE}, timeout: 60}}
  stages:
    - name: Development
      key: dev
      environment: t-adopt-dev
      tasks:
        - {{name: Deploy, key: deploy, uses: odoo.deploy}}
"""
RECORD_METHODS = ("api_result", "api_deploy", "api_restore")


class InProcessTarget(OdooTarget):
    """The target's deploy agent (``release.target.receipt``, this addon's target side) in
    this very database, called as the deployer's technical user: the same calls
    ``OdooTarget`` sends over JSON-RPC, without the network (a test's own HTTP server would
    wait for the cursor that the scheduler's step holds)."""

    def __init__(self, env):
        super().__init__("http://in-process", env.cr.dbname, env.user.login, "-")
        self.env = env
        self.calls = []

    def call(self, method, *args):
        self.calls.append(method)
        Receipt = self.env["release.target.receipt"]
        if method in RECORD_METHODS:
            return getattr(Receipt.browse(args[0]), method)(*args[1:])
        return getattr(Receipt, method)(*args)

    def healthy(self):
        return True


class TestDeployAdoption(SchedulerCase):
    """A deploy whose worker died mid-deploy (its server was killed) is taken over by its
    lease: the next worker reads the target's agent state and records what the agent did,
    instead of deploying again."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].set_param("igr_test.adopt_key", "not-a-real-key")
        cls.deployer = new_test_user(
            cls.env, "t_adopt_deployer", groups="base.group_user,influencegen_release.group_release_deploy_target"
        )
        pipeline = cls.env["release.pipeline.loader"]._load_text(PIPELINE, "PL-T-ADOPTDEPLOY.yml")
        cls.repository.pipeline_ids |= pipeline

    def test_a_deploy_whose_worker_died_is_adopted_from_the_targets_receipt(self):
        run = self.trigger("PL-T-ADOPTDEPLOY")
        Receipt = self.env["release.target.receipt"]
        installed = Receipt._installed(["base_setup"])["base_setup"]
        artifact = self.env["release.artifact"].create(
            {"name": "modules-1.0.1.zip", "run_id": run.id, "kind": "odoo_modules", "sha256": "4" * 64, "version": "1.0.1",
             "manifest_json": json.dumps({"modules": {"base_setup": {k: installed[k] for k in ("version", "checksum")}}})}
        )  # fmt: skip
        scheduler = self.env["release.scheduler"]
        scheduler._advance_runs()
        job = self.job(run, "deploy")
        [(job_id, adopt)] = scheduler._step("_claim_builtins", "dead-host:1:gone", 10)
        self.assertEqual((job_id, adopt), (job.id, False))
        # The dead worker had sent the package and started the agent, which finished the
        # upgrade on its own: the target's receipt says so.
        receipt = Receipt.create(
            {"name": "1.0.1 (444444444444)", "version": "1.0.1", "package_sha256": artifact.sha256, "state": "upgraded",
             "plan_json": json.dumps({"install": [], "upgrade": ["base_setup"], "unchanged": []})}
        )  # fmt: skip
        self.env["release.job.lease"].search([("job_id", "=", job.id)]).expires_at = fields.Datetime.now() - timedelta(seconds=1)
        targets = []

        def target(deployer, environment):
            targets.append(InProcessTarget(deployer.env(user=self.deployer)))
            return targets[-1]

        with patch.object(type(self.env["release.deployer.odoo"]), "_target", target):
            self.tick_until(lambda: run.state in ("succeeded", "failed"))
        self.assertEqual(run.state, "succeeded", job.log_tail)
        self.assertEqual((job.state, job.attempt), ("succeeded", 1))
        self.assertTrue(run.message_ids.filtered(lambda m: "dead-host:1:gone" in (m.body or "") and "reads the target" in m.body))
        # What the agent did is recorded, and nothing was deployed a second time.
        [deployment] = job.run_id.job_ids.environment_id.deployment_ids
        self.assertEqual((deployment.outcome, deployment.target_receipt), ("deployed", receipt.id))
        self.assertIn(f"adopted receipt {receipt.id}", deployment.timeline)
        self.assertEqual([c for t in targets for c in t.calls if c.startswith("api_")], ["api_result", "api_state"])
        self.assertEqual(Receipt.search_count([("package_sha256", "=", artifact.sha256)]), 1)
        self.assertFalse(self.env["release.job.lease"].search([("job_id", "=", job.id)]))
