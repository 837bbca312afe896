import os
import shutil
import tempfile

import git

from odoo.exceptions import UserError
from odoo.tools.misc import file_path

from .common import ReleaseCase

SEED = "influencegen_release/data/pipelines/pl-odoo-mod.yml"

SMALL = """\
version: 1
pipeline:
  code: PL-DEMO
  name: Demo pipeline
  kind: odoo
  triggers:
    - {event: push, branches: [main]}
  defaults: {image: influencegen/runner-base:bookworm}
  stages:
    - name: Lint
      tasks:
        - {name: Flake8, key: flake8, run: flake8 /src, timeout: %(timeout)s}
"""


class TestPipelineSync(ReleaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="igr-test-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.env["ir.config_parameter"].set_param("influencegen_release.data_dir", cls.tmp)
        with open(file_path(SEED), encoding="utf-8") as handle:
            cls.seed_text = handle.read()

    def snapshot(self, pipeline):
        self.env.flush_all()
        records = [pipeline, pipeline.stage_ids, pipeline.stage_ids.task_ids, pipeline.stage_ids.gate_ids]
        dates = {(r._name, r.id): r.write_date for recordset in records for r in recordset}
        return dates, len(pipeline.message_ids)

    def test_loading_the_same_file_twice_changes_nothing(self):
        pipeline = self.pipeline("PL-ODOO-MOD")
        before = self.snapshot(pipeline)
        self.Loader._load_text(self.seed_text, SEED)
        self.Loader._load_seed_pipelines()
        self.assertEqual(self.snapshot(pipeline), before)

    def test_changed_file_updates_in_place_and_is_tracked(self):
        pipeline = self.pipeline("PL-ODOO-MOD")
        sast = pipeline.stage_ids.task_ids.filtered(lambda t: t.key == "sast")
        stage_ids = pipeline.stage_ids.ids
        old_checksum = pipeline.source_checksum
        text = self.seed_text.replace(
            "description: Identify common Python vulnerabilities (supports REQ-SEC-WVULN-001)\n",
            "description: Identify common Python vulnerabilities (supports REQ-SEC-WVULN-001)\n          timeout: 7m\n",
        )
        text = text.replace(
            "        - name: Run Database Migrations (if any)\n          key: dev_migrate\n          tool: Odoo CLI\n"
            "          description: Apply schema changes\n          uses: odoo.migrate\n",
            "",
        )
        self.Loader._load_text(text, SEED)
        self.env.flush_all()
        self.assertEqual(pipeline.stage_ids.ids, stage_ids, "stages are updated in place")
        self.assertEqual(sast.timeout, 420)
        self.assertNotEqual(pipeline.source_checksum, old_checksum)
        migrate = (
            self.env["release.task"]
            .with_context(active_test=False)
            .search([("pipeline_id", "=", pipeline.id), ("key", "=", "dev_migrate")])
        )
        self.assertTrue(migrate.exists())
        self.assertFalse(migrate.active, "a task removed from the file is archived, not deleted")
        change = pipeline.message_ids.filtered(lambda m: "Pipeline definition changed" in (m.body or ""))[:1]
        self.assertIn("task 'Static Application Security Testing (SAST) - Python': Timeout (s): 900 → 420", change.body)
        self.assertIn("removed (archived)", change.body)
        # Loading the original again restores the task and the timeout, on the same records.
        self.Loader._load_text(self.seed_text, SEED)
        self.assertTrue(migrate.active)
        self.assertEqual(sast.timeout, 900)

    def test_invalid_file_is_refused_with_file_line_and_key_and_changes_nothing(self):
        pipeline = self.pipeline("PL-ODOO-MOD")
        before = self.snapshot(pipeline)
        text = self.seed_text.replace("          tool: Bandit\n", "          tool: Bandit\n          imagee: x\n", 1)
        with self.assertRaises(UserError) as caught:
            self.Loader._load_text(text, SEED)
        line = text.splitlines().index("          imagee: x") + 1
        self.assertIn(f"{SEED}:{line}: pipeline.stages[1].tasks[2].imagee: unknown key 'imagee'", str(caught.exception))
        self.assertEqual(self.snapshot(pipeline), before)

    def test_repository_pipeline_file_loaded_from_git(self):
        workdir = os.path.join(self.tmp, "demo-repo")
        repo = git.Repo.init(workdir, initial_branch="main")
        with repo.config_writer() as config:
            config.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
        os.makedirs(os.path.join(workdir, ".influencegen"))
        path = os.path.join(workdir, ".influencegen", "pipeline.yml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(SMALL % {"timeout": 60})
        repo.index.add([path])
        first = repo.index.commit("pipeline").hexsha
        repository = (
            self.env["release.repository"]
            .with_user(self.manager)
            .create({"name": "demo", "url": workdir, "default_branch": "main"})
        )
        repository.action_load_pipeline_file()
        pipeline = self.pipeline("PL-DEMO")
        self.assertEqual(pipeline.repository_id, repository)
        self.assertEqual(repository.last_loaded_sha, first)
        self.assertEqual(pipeline.stage_ids.task_ids.timeout, 60)

        with open(path, "w", encoding="utf-8") as handle:
            handle.write(SMALL % {"timeout": 120})
        repo.index.add([path])
        second = repo.index.commit("longer lint").hexsha
        pipeline.with_user(self.manager).action_reload()
        self.assertEqual(repository.last_loaded_sha, second)
        self.assertEqual(pipeline.stage_ids.task_ids.timeout, 120)

        repository.default_branch = "does-not-exist"
        with self.assertRaisesRegex(UserError, "unknown ref 'does-not-exist'"):
            repository.action_load_pipeline_file()
        repository.default_branch = "main"
        repository.pipeline_file = "missing.yml"
        with self.assertRaisesRegex(UserError, "'missing.yml' does not exist at main"):
            repository.action_load_pipeline_file()

    def test_a_pipeline_owned_by_a_repository_is_not_taken_back(self):
        workdir = os.path.join(self.tmp, "owner-repo")
        repo = git.Repo.init(workdir, initial_branch="main")
        with repo.config_writer() as config:
            config.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
        path = os.path.join(workdir, "pipeline.yml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.seed_text)
        repo.index.add([path])
        repo.index.commit("own pipeline file")
        Repository = self.env["release.repository"]
        repository = Repository.create({"name": "self", "url": workdir, "pipeline_file": "pipeline.yml"})
        repository.action_load_pipeline_file()
        pipeline = self.pipeline("PL-ODOO-MOD")
        self.assertEqual(pipeline.repository_id, repository)
        self.Loader._load_seed_pipelines()
        self.assertEqual(pipeline.repository_id, repository, "an addon update leaves it with its repository")
        other = Repository.create({"name": "other", "url": workdir, "pipeline_file": "pipeline.yml"})
        with self.assertRaisesRegex(UserError, "pipeline PL-ODOO-MOD is defined by repository self"):
            other.action_load_pipeline_file()
