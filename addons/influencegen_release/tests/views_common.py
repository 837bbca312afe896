import shutil
import tempfile
from unittest.mock import patch

from odoo import fields
from odoo.addons.bus.websocket import WebsocketConnectionHandler
from odoo.tests import HttpCase

from ..engine.execution.log_store import LogStore
from .common import BUILD_STAGE, pipeline_yaml, role_user

# A build stage whose job the tests put in the running state by hand (no container), then a
# staging stage that waits for a QA Lead's decision before deploying to an environment.
STAGING_STAGE = """\
    - name: Staging
      key: staging
      trigger: manual
      environment: views-staging
      tasks:
        - {name: Deploy, key: deploy, uses: git.checkout}
      approval:
        rules: [{group: qa_lead}]
      gates: [{name: UAT Sign-off, type: manual}]
"""
VIEWS_PIPELINE = pipeline_yaml("PL-VIEWS", "Views pipeline", BUILD_STAGE + STAGING_STAGE, [("views-staging", "Views Staging", "staging")])
ERROR_LINE = "\x1b[1;31mERROR: module views_demo failed to install\x1b[0m"


def log_lines(start, count):
    return "".join(f"\x1b[32mstep {n:07d}\x1b[0m compiling module views_demo ... ok\n" for n in range(start, start + count))


class ViewsData:
    """A run with a job running and a log of ~600 kB (more than two viewer pages) whose only
    error sits near its start; users of the roles the screens are made for."""

    @classmethod
    def setup_views_data(cls):
        cls.qa = role_user(cls.env, "views_qa", "qa_lead", email="qa@example.org")
        cls.viewer = role_user(cls.env, "views_viewer", "user")
        cls.developer = role_user(cls.env, "views_dev", "developer")
        cls.pipeline = cls.env["release.pipeline.loader"]._load_text(VIEWS_PIPELINE, "views.yml")
        params = {"ref": "refs/heads/main", "sha": "2" * 40}
        cls.views_run = cls.pipeline._create_run(cls.env["release.repository"], params, "views-run")
        cls.views_run._advance()
        cls.job = cls.views_run.job_ids.filtered(lambda j: j.task_key == "compile")
        cls.store = LogStore(tempfile.mkdtemp(prefix="igr-views-log-"))
        cls.addClassCleanup(shutil.rmtree, cls.store.directory, True)
        cls.store.append((log_lines(0, 100) + ERROR_LINE + "\n" + log_lines(100, 12000)).encode())
        cls.job.write(
            {"state": "running", "started_at": fields.Datetime.now(), "log_dir": cls.store.directory, "log_size": cls.store.size()}
        )
        cls.environment = cls.env["release.environment"].search([("code", "=", "views-staging")])

    @classmethod
    def finish_build(cls, env):
        """What the scheduler does when the build's container exits 0: its last log line,
        the job's end, and the run moving on to ask for the staging approval."""
        job = cls.job.with_env(env)
        LogStore(job.log_dir).append(b"\x1b[32mbuild finished\x1b[0m\n")
        job.write({"state": "succeeded", "exit_code": 0, "finished_at": fields.Datetime.now(), "log_size": cls.store.size()})
        job.run_id._advance()

    @classmethod
    def deployments(cls, count=2):
        """``count`` successful deployments of versions 1.0.0, 1.0.1, ... to the staging environment."""
        Deployment = cls.env["release.deployment"]
        for n in range(count):
            artifact = cls.env["release.artifact"].create(
                {"name": f"views-{n}.zip", "kind": "odoo_modules", "version": f"1.0.{n}", "sha256": f"{n}" * 64, "run_id": cls.views_run.id,
                 "commit_sha": cls.views_run.commit_sha}
            )
            deployment = Deployment.create({"environment_id": cls.environment.id, "artifact_id": artifact.id, "run_id": cls.views_run.id})
            deployment._finish("deployed", plan="upgrade: views_demo")


class ViewsTourCase(ViewsData, HttpCase):
    """The browser tours' shared setup: the views' data and, with ``websocket = True``, the
    bus's websocket (Odoo refuses it during tests by default) for tours that watch the bus."""

    websocket = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.websocket:
            cls.startClassPatcher(patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=True))
        cls.setup_views_data()
