import json

from odoo.exceptions import AccessError, UserError
from odoo.tests.common import new_test_user

from ..models.run.release_action import ActionError
from .scheduler_common import IMAGE, SchedulerCase

PIPELINE = f"""\
version: 1
environments:
  - {{code: t-infra-staging, name: T Infra Staging, tier: staging, kind: iac, url: "file:///nonexistent/t-infra-staging"}}
  - {{code: t-infra-prod, name: T Infra Production, tier: production, kind: iac}}
pipeline:
  code: PL-T-IAC
  name: IaC model logic
  kind: iac
  triggers:
    - {{event: push, branches: ["main"]}}
  defaults: {{image: {IMAGE}, timeout: 60}}
  stages:
    - name: Plan
      key: plan
      tasks:
        - {{name: Plan, key: iac_plan, uses: iac.plan}}
    - name: Staging
      key: apply_staging
      trigger: manual
      environment: t-infra-staging
      tasks:
        - {{name: Apply, key: staging_apply, uses: iac.apply}}
      approval:
        rules: [{{group: devops_lead}}]
      gates: [{{name: Plan Review, type: manual}}]
"""


def entry(digest, add=2):
    summary = {"add": add, "change": 0, "destroy": 0, "unchanged": 0, "hosts_changed": 1, "hosts_unchanged": 0}
    changes = [{"task": "Odoo configuration", "action": "ansible.builtin.copy", "kind": "add"}] * add
    return {
        "params": {"playbook": "ansible/site.yml", "inventory": "ansible/inventories/{environment}.yml"},
        "inventory": "ansible/inventories/t-infra-staging.yml",
        "plans": {"ansible": {"tool": "ansible", "hosts": {"web1": {"changes": changes}}, "summary": summary}},
        "digest": digest,
    }


class TestIac(SchedulerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, "i_manager", groups="base.group_user,influencegen_release.group_release_release_manager")
        pipeline = cls.env["release.pipeline.loader"]._load_text(PIPELINE, "PL-T-IAC.yml")
        cls.repository.pipeline_ids |= pipeline
        cls.staging = cls.env["release.environment"].search([("code", "=", "t-infra-staging")])
        cls.Action = cls.env["release.action.iac"]

    def plan_of(self, run, stage_key):
        """What the approval of ``stage_key`` shows: the plan of its environment's deployer."""
        environment = run.job_ids.filtered(lambda j: j.stage_key == stage_key).environment_id
        return environment._deployer()._plan(environment, run)

    def planned_run(self, digest, sha=None):
        run = self.trigger("PL-T-IAC", sha=sha)
        job = self.job(run, "iac_plan")
        self.Action._iac_store_plan(job, {}, {"t-infra-staging": entry(digest)})
        return run

    def test_the_approval_shows_and_binds_to_the_environments_plan(self):
        run = self.planned_run("d" * 64)
        stage = next(s for s in run._spec()["stages"] if s["key"] == "apply_staging")
        text, digest = self.plan_of(run, "apply_staging")
        self.assertEqual(digest, "d" * 64)
        self.assertIn(f"t-infra-staging: plan digest {'d' * 64}", text)
        self.assertIn("ansible: 2 to add, 0 to change, 0 to destroy on 1 host(s); 0 host(s) unchanged", text)
        Approval = self.env["release.approval"]
        approval = Approval._request(run, stage, self.job(run, "staging_apply").stage_id, Approval._release_checksum(run))
        self.assertEqual((approval.plan_digest, approval.plan), (digest, text))
        self.assertIn("web1: add Odoo configuration", approval.summary)
        artifact = run.artifact_ids
        self.assertEqual(artifact.kind, "iac_plan")
        self.assertEqual(json.loads(artifact.manifest_json)["t-infra-staging"]["digest"], "d" * 64)
        # A second plan is a new artifact: the request bound to the first checksum is voided and asked again.
        self.Action._iac_store_plan(self.job(run, "iac_plan"), {}, {"t-infra-staging": entry("e" * 64, add=3)})
        self.assertNotEqual(approval.artifact_sha256, Approval._release_checksum(run))

    def test_no_plan_or_a_changed_plan_file_is_said_so(self):
        run = self.trigger("PL-T-IAC")
        text, digest = self.plan_of(run, "apply_staging")
        self.assertFalse(digest)
        self.assertIn("Plan unavailable: no infrastructure plan in this run", text)
        run = self.planned_run("d" * 64, sha=self.git_repo.index.commit("other").hexsha)
        run.artifact_ids.attachment_id.raw = b'{"format": 1, "environments": {}}'
        with self.assertRaisesRegex(ActionError, "does not match its recorded sha256"):
            self.Action._iac_document(run.artifact_ids)
        with self.assertRaisesRegex(ValueError, "t-infra-staging: the folder /nonexistent/t-infra-staging does not exist"):
            self.staging._deployer()._folder(self.staging)
        prod = self.env["release.environment"].search([("code", "=", "t-infra-prod")])
        with self.assertRaisesRegex(ValueError, "URL must be file:///absolute/folder"):
            prod._deployer()._folder(prod)

    def test_rollback_creates_the_revert_run_from_the_last_good_commit(self):
        good = self.planned_run("a" * 64)
        bad_sha = self.git_repo.index.commit("bad change").hexsha
        bad = self.planned_run("b" * 64, sha=bad_sha)
        Deployment = self.env["release.deployment"]
        applied = Deployment.create({"environment_id": self.staging.id, "artifact_id": good.artifact_ids.id, "run_id": good.id, "outcome": "deployed"})
        failed = Deployment.create({"environment_id": self.staging.id, "artifact_id": bad.artifact_ids.id, "run_id": bad.id, "outcome": "error"})
        with self.assertRaises(AccessError):
            self.staging.with_user(self.developer).api_rollback("t-infra-staging")

        status = self.staging.with_user(self.manager).api_rollback("t-infra-staging")
        revert = self.env["release.run"].browse(status["id"])
        self.assertEqual((status["sha"], status["ref"], status["rollback_of"]), (self.sha, "refs/heads/main", failed.id))
        self.assertTrue(revert.is_rollback)
        self.assertEqual(revert.pipeline_id, good.pipeline_id)
        self.assertIn("Rollback of t-infra-staging: reverts to commit", revert.message_ids[0].body)
        # Asked again: another revert run, never the same one.
        again = self.env["release.run"].browse(self.staging.with_user(self.manager)._rollback()["run"])
        self.assertNotEqual(again, revert)
        self.assertEqual(self.staging._new_deployment(good.artifact_ids, again, self.job(again, "staging_apply"), again.rollback_of_deployment_id).rollback_of_id, failed)

        # When the latest apply succeeded, the previous good commit is the target.
        Deployment.create({"environment_id": self.staging.id, "artifact_id": bad.artifact_ids.id, "run_id": bad.id, "outcome": "deployed"})
        status = self.staging.with_user(self.manager).api_rollback("t-infra-staging")
        self.assertEqual(status["sha"], self.sha)
        self.assertEqual(applied.commit_sha, self.sha)

    def test_nothing_to_roll_back_to(self):
        with self.assertRaisesRegex(UserError, "has no successful apply"):
            self.staging.with_user(self.manager)._rollback()

    def test_bad_parameters_are_named(self):
        params = self.Action._iac_params({"name": "Plan", "with": {"inventory": "infra/{environment}.ini"}})
        self.assertEqual((params["playbook"], params["inventory"], params["environments"]), ("ansible/site.yml", "infra/{environment}.ini", None))
        with self.assertRaisesRegex(ActionError, r"task Plan: with.playbook: '../etc/site.yml' must be a relative path inside the repository"):
            self.Action._iac_params({"name": "Plan", "with": {"playbook": "../etc/site.yml"}})
        with self.assertRaisesRegex(ActionError, r"task Plan: with.playbook: expected a non-empty string, got 3"):
            self.Action._iac_params({"name": "Plan", "with": {"playbook": 3}})
        with self.assertRaisesRegex(ActionError, r"task Plan: with.environments: expected a list of environment codes"):
            self.Action._iac_params({"name": "Plan", "with": {"environments": "t-infra-staging"}})

    def test_a_plan_stage_announces_plan_ready(self):
        events = self.env["release.notification"]._events_for_stage({"tasks": [{"uses": "iac.plan"}], "environment": False}, "succeeded")
        self.assertEqual(events, ["plan_ready"])
