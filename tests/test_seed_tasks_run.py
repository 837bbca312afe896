"""The seed's own task commands run, as written, in the runner images scripts/build-images makes,
on repositories laid out the three ways Odoo projects are: modules at the root (OCA), under
``addons/``, or nested deeper."""

import json
import os
import time
import uuid

import pytest

from devstack.demo.stack import ci_database_password
from influencegen_release.engine.execution.docker_runner import ContainerSpec, DockerRunner, LogCursor, task_limits
from influencegen_release.engine.execution.workspace import collect, prepare
from influencegen_release.engine.pipeline.spec import read_pipeline_file
from influencegen_release.engine.quality.reports import parse_report

from .conftest import ROOT

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.services]

VULNERABLE = '''import subprocess


def run(command):
    return subprocess.call(command, shell=True)
'''
MANIFEST = "{'name': 'Demo', 'version': '18.0.1.0.0', 'depends': ['base']}\n"
# Where each layout keeps its modules (the "" layout is OCA's: each module at the root).
LAYOUTS = {"oca": "", "addons": "addons/", "nested": "src/odoo/custom/"}


def seed_task(key):
    (pipeline,) = read_pipeline_file(os.path.join(ROOT, "pipelines", "pl-odoo-mod.yml")).pipelines
    return next(t for s in pipeline["stages"] for t in s["tasks"] if t["key"] == key)


def module_files(prefix, name="demo_module"):
    return {
        f"{prefix}{name}/__manifest__.py": MANIFEST,
        f"{prefix}{name}/__init__.py": "from . import tools\n",
        f"{prefix}{name}/tools.py": VULNERABLE,
    }


def run_task(tmp_path, task, files, env=None):
    """Run ``task`` on a repository made of ``files`` ({relative path: text}); return the exit
    code, the workspace folder and the job's log."""
    runner = DockerRunner(os.environ.get("IGR_DOCKER_URL", "unix:///var/run/docker.sock"))
    name = f"igr-pytest-{uuid.uuid4().hex[:10]}"
    source, work = prepare(str(tmp_path), name)
    for relpath, text in files.items():
        path = os.path.join(source, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    spec = ContainerSpec(
        name=name, image=task["image"], command=task["run"], labels={"influencegen.db": "pytest"},
        source_dir=source, workspace_dir=work, env=env or {}, **task_limits(task),
    )
    container_id = runner.start(spec)
    try:
        while runner.state(container_id).running:
            time.sleep(0.2)
        exit_code = runner.state(container_id).exit_code
        log = []
        runner.copy_logs(container_id, LogCursor(), log.append)
    finally:
        runner.remove(container_id)
    return exit_code, work, b"".join(log).decode()


def report(work, task, index=0):
    path = task["reports"][index]
    return parse_report(path["format"], collect(work, path["path"], 10**7)[0], path["path"])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_seed_lint_and_sast_find_the_modules_of_each_layout(tmp_path, layout):
    prefix = LAYOUTS[layout]
    files = {**module_files(prefix), "README.md": "# demo\n", "scripts/tool.py": VULNERABLE}
    sast = seed_task("sast")
    exit_code, work, log = run_task(tmp_path / "sast", sast, files)
    assert exit_code == 0, log
    results = json.loads(collect(work, sast["reports"][0]["path"], 10**7)[0])["results"]
    # The module's file, and only the modules: scripts/ is not an Odoo module.
    assert {(r["test_id"], r["filename"]) for r in results if r["test_id"] == "B602"} == {
        ("B602", f"/src/{prefix}demo_module/tools.py")}, results
    assert any(f.rule == "B602" and f.file == f"{prefix}demo_module/tools.py" for f in report(work, sast).findings)

    lint = seed_task("python_lint")
    exit_code, work, log = run_task(tmp_path / "lint", lint, files)
    assert exit_code == 0, log
    assert f"python_lint: modules /src/{prefix}demo_module" in log
    pylint = report(work, lint)
    assert f"{prefix}demo_module/tools.py" in {f.file for f in pylint.findings}
    assert {f.file.rsplit("/", 1)[0] for f in pylint.findings} == {f"{prefix}demo_module".rstrip("/")}
    assert all("No such file" not in f.message for f in pylint.findings)
    report(work, lint, 1)  # flake8's report is there and readable

    odoo_lint = seed_task("odoo_lint")
    exit_code, work, log = run_task(tmp_path / "odoo_lint", odoo_lint, files)
    assert exit_code == 0, log
    # pylint-odoo judges the manifest (no author, no license), so it did read the module.
    assert {f.rule for f in report(work, odoo_lint).findings if f.file == f"{prefix}demo_module/__manifest__.py"}


def test_seed_lint_says_when_the_repository_has_no_module(tmp_path):
    exit_code, _work, log = run_task(tmp_path, seed_task("python_lint"), {"README.md": "# not Odoo\n"})
    assert exit_code == 1
    assert "python_lint: no Odoo module (no __manifest__.py) in the repository: nothing to lint" in log


def test_seed_unit_tests_without_tests_folder_report_no_unit_tests(tmp_path):
    task = seed_task("unit_tests")
    exit_code, work, log = run_task(tmp_path / "none", task, module_files(""))
    assert exit_code == 0, log
    assert "unit_tests: no unit tests (no test under tests/): the Odoo tests count for the gate" in log
    tests = report(work, task).tests
    assert (tests.total, tests.failed, tests.errors) == (0, 0, 0)
    # A failing unit test fails the task (pytest's own exit status, nothing swallows it).
    failing = {"tests/test_x.py": "def test_ok():\n    pass\n\n\ndef test_no():\n    assert False\n"}
    exit_code, work, log = run_task(tmp_path / "failing", task, failing)
    assert exit_code == 1, log
    assert (report(work, task).tests.total, report(work, task).tests.failed) == (2, 1)


PROBE_TESTS = '''from odoo.tests import TransactionCase


class TestProbe(TransactionCase):
    def test_pass(self):
        self.assertTrue(self.env["res.partner"].create({"name": "x"}))

    def test_other(self):
        self.assertEqual(1, EXPECTED)
'''


def odoo_module(prefix, name, expected):
    return {
        f"{prefix}{name}/__manifest__.py": repr({"name": name, "version": "18.0.1.0.0", "depends": ["base"], "license": "LGPL-3"}),
        f"{prefix}{name}/__init__.py": "",
        f"{prefix}{name}/tests/__init__.py": "from . import test_probe\n",
        f"{prefix}{name}/tests/test_probe.py": PROBE_TESTS.replace("EXPECTED", str(expected)),
    }


def test_seed_odoo_tests_install_every_module_and_fail_when_odoo_fails(tmp_path):
    """Two modules nested in two folders (an addons path entry each): both installed and
    tested; a failing Odoo test fails the task (odoo-bin's status survives the tee), and the
    counts are Odoo's own summary line. One Odoo run (about a minute): a passing run exits 0
    in the seed runs of tests/integration."""
    prefix = LAYOUTS["nested"]
    files = {**odoo_module(prefix, "igr_probe_a", 2), **odoo_module(prefix + "more/", "igr_probe_b", 1)}
    task = seed_task("odoo_tests")
    job_id = 9000 + os.getpid() % 900
    env = {"IGR_JOB_ID": str(job_id), "IGR_TEST_DB_PASSWORD": ci_database_password()}
    code, work, log = run_task(tmp_path, task, files, env=env)
    assert code == 1, log[-3000:]
    assert f"odoo_tests: modules igr_probe_a,igr_probe_b in /src/{prefix[:-1]},/src/{prefix}more" in log
    assert "odoo_tests: odoo-bin exited with 1" in log
    assert "1 failed, 0 error(s) of 4 tests when loading database" in log
    tests = report(work, task).tests
    assert (tests.total, tests.failed, tests.errors) == (4, 1, 0)
    assert tests.failing == ["odoo.addons.igr_probe_a.tests.test_probe.TestProbe.test_other"]
