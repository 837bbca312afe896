import os
import shutil
import tempfile

import git

from odoo import Command, fields

from .common import BUILD_STAGE, pipeline_yaml, role_user

# A build whose job the tests finish by hand (no container), then a UAT sign-off by a QA Lead
# and two CAB members, in order, before deploying to an environment that runs an older commit.
PIPELINE = pipeline_yaml(
    "PL-AP",
    "Approval screens",
    BUILD_STAGE
    + """\
    - name: Staging
      key: staging
      trigger: manual
      environment: ap-staging
      tasks:
        - {name: Deploy, key: deploy, uses: git.checkout}
      approval:
        rules: [{group: qa_lead}, {group: cab_member, quorum: 2}]
        order: sequential
        evidence: uat
        deadline: 72h
      gates: [{name: UAT Sign-off, type: manual}]
""",
    [("ap-staging", "AP Staging", "staging")],
    "  rollback: {strategy: redeploy_previous, restore_database: true, automatic: true}\n",
)


class ApprovalData:
    """People by name in Brussels, a Git repository of three commits whose first one runs on
    the staging environment, and a run of the third one whose build passed 72 tests with two
    findings: it waits for the QA Lead's UAT sign-off."""

    @classmethod
    def setup_approval_data(cls):
        def user(login, name, role):
            return role_user(cls.env, login, role, name=name, tz="Europe/Brussels", email=f"{login}@example.org")

        cls.qa = user("ap_qa", "Jane Doe", "qa_lead")
        cls.cab1 = user("ap_cab1", "Carl Abbot", "cab_member")
        cls.cab2 = user("ap_cab2", "Cleo Banks", "cab_member")
        cls.manager = user("ap_rm", "Rita Manners", "release_manager")
        cls.tmp = tempfile.mkdtemp(prefix="igr-approval-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.env["ir.config_parameter"].set_param("influencegen_release.data_dir", cls.tmp)
        repo = git.Repo.init(os.path.join(cls.tmp, "origin"), initial_branch="main")
        with repo.config_writer() as config:
            config.set_value("user", "name", "Dev Eloper").set_value("user", "email", "dev@example.com")
        cls.shas = []
        for n, subject in enumerate(["First release", "Fix the invoice total", "Add a smoke check"]):
            path = os.path.join(repo.working_tree_dir, "module.txt")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(f"version {n}\n")
            repo.index.add([path])
            cls.shas.append(repo.index.commit(subject).hexsha)
        cls.repository = cls.env["release.repository"].create({"name": "ap-repo", "url": repo.working_tree_dir})
        cls.pipeline = cls.env["release.pipeline.loader"]._load_text(PIPELINE, "ap.yml")
        cls.environment = cls.env["release.environment"].search([("code", "=", "ap-staging")])
        # What the environment runs now: version 1.0.0, the first commit.
        old_run = cls.pipeline._create_run(cls.repository, {"ref": "refs/heads/main", "sha": cls.shas[0]}, "ap-old")
        artifact = cls.env["release.artifact"].create(
            {"name": "ap-1.0.0.zip", "kind": "odoo_modules", "version": "1.0.0", "sha256": "1" * 64, "commit_sha": cls.shas[0], "run_id": old_run.id}
        )
        cls.env["release.deployment"].create(
            {"environment_id": cls.environment.id, "artifact_id": artifact.id, "run_id": old_run.id}
        )._finish("deployed", plan="upgrade: ap_module")
        cls.ap_run = cls.pipeline._create_run(cls.repository, {"ref": "refs/heads/main", "sha": cls.shas[2]}, "ap-run")
        cls.ap_run._advance()

    @classmethod
    def pass_the_build(cls, env=None):
        """The build's container exits 0 with 72 tests passed and two findings."""
        job = cls.ap_run.job_ids.filtered(lambda j: j.task_key == "compile").with_env(env or cls.env)
        for n, (severity, rule) in enumerate([("high", "sql-injection"), ("low", "line-too-long")]):
            job.env["release.finding"].create(
                {"job_id": job.id, "tool": "pylint", "rule": rule, "severity": severity, "file": "models/x.py", "line": 10 + n,
                 "message": f"{rule} here", "fingerprint": f"fp-{rule}"}
            )
        now = fields.Datetime.now()
        job.write({"state": "succeeded", "exit_code": 0, "started_at": now, "finished_at": now, "tests_total": 72})
        job.run_id._advance()
        return job.run_id.approval_ids

    @classmethod
    def uat_evidence(cls, user, result="pass"):
        session = cls.env["release.uat.session"].with_user(user).create(
            {"run_id": cls.ap_run.id, "scenario_ids": [Command.create({"name": "Invoice a sales order", "result": result})]}
        )
        session.action_submit()
        return session
