import os
import shutil
import tempfile
import time

import git

from odoo.tests.common import TransactionCase, new_test_user, tagged

IMAGE = os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm")

PIPELINE = """\
version: 1
pipeline:
  code: %(code)s
  name: Runner test
  kind: odoo
  triggers:
    - {event: push, branches: ["main", "feature/*"]}
  defaults: {image: %(image)s, timeout: 60, memory: 128m, cpus: 0.5, pids: 64}
  stages:
%(stages)s
"""


# "services": these tests need this machine's Docker engine; pipelines running the suite in a
# hermetic container exclude the tag (--test-tags=...,-services), scripts/test runs them.
@tagged("services")
class SchedulerCase(TransactionCase):
    """Real Docker, real Git; the scheduler's own transactions run inside the test's one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The scheduler opens cursors of its own; in test mode they share this transaction.
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)
        cls.tmp = tempfile.mkdtemp(prefix="igr-sched-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.env["ir.config_parameter"].set_param("influencegen_release.data_dir", cls.tmp)
        cls.runner = cls.env.ref("influencegen_release.runner_local")
        cls.developer = new_test_user(
            cls.env, "s_developer", groups="base.group_user,influencegen_release.group_release_developer"
        )
        cls.git_repo, cls.sha = cls._make_repo()
        cls.repository = cls.env["release.repository"].create({"name": "sched-repo", "url": cls.git_repo.working_tree_dir})

    @classmethod
    def _make_repo(cls):
        repo = git.Repo.init(os.path.join(cls.tmp, "origin"), initial_branch="main")
        with repo.config_writer() as config:
            config.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
        path = os.path.join(repo.working_tree_dir, "hello.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("hello from the commit\n")
        repo.index.add([path])
        return repo, repo.index.commit("hello").hexsha

    def make_pipeline(self, code, stages):
        text = PIPELINE % {"code": code, "image": IMAGE, "stages": stages}
        pipeline = self.env["release.pipeline.loader"]._load_text(text, f"{code}.yml")
        self.repository.pipeline_ids |= pipeline
        return pipeline

    def trigger(self, code=None, ref="refs/heads/main", sha=None, user=None):
        payload = {"repository": "sched-repo", "ref": ref, "after": sha or self.sha, "pusher": "dev"}
        if code:
            payload["pipeline"] = code
        Run = self.env["release.run"].with_user(user or self.developer)
        result = Run.api_trigger(payload)
        return self.env["release.run"].browse(result["runs"][0]["id"]) if result["runs"] else None

    def tick_until(self, predicate, timeout=60):
        scheduler = self.env["release.scheduler"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            scheduler._tick_once()
            self.env.invalidate_all()
            if predicate():
                return
            time.sleep(0.2)
        self.fail(f"condition not reached within {timeout} s")

    def containers(self, run):
        return self.runner._client().find({"influencegen.db": self.env.cr.dbname, "influencegen.run": str(run.id)})

    def job(self, run, key):
        return run.job_ids.filtered(lambda j: j.task_key == key)
