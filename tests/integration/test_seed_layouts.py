"""The seed PL-ODOO-MOD, as shipped, on real pushes through the real post-receive hook, on the
ways Odoo repositories are laid out: modules at the root (OCA) and nested deeper. Lint, SAST
and the Odoo tests find the modules by their manifests; a repository without ``tests/``
reports "no unit tests" and the gate (which passes) counts the Odoo tests, whose count is Odoo's own summary
line; later tasks get the venv that "Setup Python Environment" declared as its output.

One run installs and tests real modules with Odoo in a container (the heavy part); the nested
repository runs the seed's checkout and quality stages only, as written in the seed."""

import os
import re

import pytest
import yaml

from devstack import ROOT

from .repos import Hub, failures, jobs, log

SEED = os.path.join(ROOT, "pipelines", "pl-odoo-mod.yml")
NESTED_CODE = "PL-IT-SEED-NESTED"
MODEL = '''import subprocess  # bandit B404 (low): SAST read this file

from odoo import fields, models


class Probe(models.Model):
    _name = "%(name)s.probe"
    _description = "Probe"

    name = fields.Char()
'''
PROBE_TESTS = '''from odoo.tests import TransactionCase


class TestProbe(TransactionCase):
    def test_create(self):
        self.assertTrue(self.env["%(name)s.probe"].create({"name": "x"}))

    def test_search(self):
        self.assertFalse(self.env["%(name)s.probe"].search([("name", "=", "none")]))
'''


def odoo_module(prefix, name, tests=False):
    files = {
        f"{prefix}{name}/__manifest__.py": repr({"name": name, "version": "18.0.1.0.0", "depends": ["base"], "license": "LGPL-3",
                                                 "data": ["security/ir.model.access.csv"]}) + "\n",
        f"{prefix}{name}/__init__.py": "from . import models\n",
        f"{prefix}{name}/models.py": MODEL % {"name": name},
        f"{prefix}{name}/security/ir.model.access.csv": (
            "id,name,model_id:id,group_id:id,perm_read,perm_write,perm_create,perm_unlink\n"
            f"access_{name}_probe,{name}.probe,model_{name}_probe,base.group_user,1,1,1,1\n"
        ),
    }
    if tests:
        files[f"{prefix}{name}/tests/__init__.py"] = "from . import test_probe\n"
        files[f"{prefix}{name}/tests/test_probe.py"] = PROBE_TESTS % {"name": name}
    return files


def seed_text():
    with open(SEED, encoding="utf-8") as handle:
        return handle.read()


def seed_quality_only():
    """The seed's checkout and quality stages, their tasks as written, under another code."""
    data = yaml.safe_load(seed_text())
    pipeline = data["pipeline"]
    pipeline.update(code=NESTED_CODE, name="Seed quality on a nested layout", stages=pipeline["stages"][:2])
    for key in ("on_success", "rollback", "notifications"):
        pipeline.pop(key, None)
    return yaml.safe_dump({"version": 1, "pipeline": pipeline}, sort_keys=False)


@pytest.fixture(scope="module")
def hubs(server, workdir):
    oca = Hub(workdir, "it-seed-oca", {".influencegen/pipeline.yml": seed_text()})
    nested = Hub(workdir, "it-seed-nested", {".influencegen/pipeline.yml": seed_quality_only()})
    return oca, nested


def test_the_seed_finds_the_modules_of_oca_and_nested_repositories(hubs):
    oca, nested = hubs
    api = oca.api
    # OCA: each module at the root, no tests/ folder; scripts/ is not a module.
    oca_sha = oca.commit({**odoo_module("", "igr_oca_a", tests=True), **odoo_module("", "igr_oca_b"), "scripts/tool.py": "import subprocess\n"})
    assert "PL-ODOO-MOD run #" in oca.push()
    nested_sha = nested.commit({**odoo_module("src/odoo/custom/", "igr_nest_a"), **odoo_module("src/odoo/custom/more/", "igr_nest_b")})
    nested.push()
    oca_run, nested_run = oca.pushed_run(oca_sha, "PL-ODOO-MOD"), nested.pushed_run(nested_sha, NESTED_CODE)

    # Both runs share this machine's runner with the other's jobs (the Odoo tests included).
    assert api.wait_run(nested_run, timeout=600)["state"] == "succeeded", failures(api, nested_run)
    nested_jobs = jobs(api, nested_run)
    assert "python_lint: modules /src/src/odoo/custom/igr_nest_a /src/src/odoo/custom/more/igr_nest_b" in log(api, nested_jobs["python_lint"]["id"])
    assert sast_files(api, nested_run) == {"src/odoo/custom/igr_nest_a/models.py", "src/odoo/custom/more/igr_nest_b/models.py"}

    # The whole seed on the OCA repository, up to its production stage (pushes to main), whose
    # environment (the seed's odoo-prod) is not reachable here: what comes before it is judged.
    status = api.wait_run(oca_run, states=("waiting_approval", "failed", "succeeded"), timeout=600)
    found = jobs(api, oca_run, fields=("state", "tests_total", "tests_failed", "failure_reason"))
    before_production = ("python_lint", "odoo_lint", "sast", "dependency_scan", "unit_tests", "odoo_tests", "package_modules", "version", "publish")
    assert {key: found[key]["state"] for key in before_production} == dict.fromkeys(before_production, "succeeded"), failures(api, oca_run)
    gates = {g["name"]: g["result"] for s in status["stages"] for g in s["gates"]}
    assert [gates[name] for name in ("Linting Pass", "SAST Pass", "Dependency Scan Pass", "Test Suite Pass")] == ["passed"] * 4, gates
    lint = log(api, found["python_lint"]["id"])
    assert "python_lint: modules /src/igr_oca_a /src/igr_oca_b" in lint, lint
    assert "python_lint: requirements from /workspace/venv (Setup Python Environment)" in lint, lint
    assert sast_files(api, oca_run) == {"igr_oca_a/models.py", "igr_oca_b/models.py"}
    unit = log(api, found["unit_tests"]["id"])
    assert "unit_tests: no unit tests (no test under tests/): the Odoo tests count for the gate" in unit, unit
    assert "unit_tests: requirements from /workspace/venv" in unit
    assert found["unit_tests"]["tests_total"] == 0

    # The Odoo tests: both modules installed, igr_oca_a's tests run; the count is Odoo's own.
    odoo = log(api, found["odoo_tests"]["id"], tail=100000)
    assert "odoo_tests: modules igr_oca_a,igr_oca_b in /src" in odoo, odoo[-3000:]
    assert "odoo_tests: odoo-bin exited with 0" in odoo
    [summary] = re.findall(r"odoo\.tests\.result: (\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database", odoo)
    assert (found["odoo_tests"]["tests_total"], found["odoo_tests"]["tests_failed"]) == (int(summary[2]), int(summary[0])) == (2, 0), summary
    if status["state"] == "waiting_approval":
        api("release.run", "action_cancel", [oca_run])


def sast_files(api, run_id):
    findings = api("release.finding", "search_read", [("run_id", "=", run_id), ("tool", "=", "bandit")], ["file", "rule"])
    return {f["file"] for f in findings if f["rule"] == "B404"}
