"""The seed's own task commands run, as written, in the runner images scripts/build-images makes."""

import json
import os
import time
import uuid

import pytest

from influencegen_release.engine.execution.docker_runner import ContainerSpec, DockerRunner
from influencegen_release.engine.execution.workspace import collect, prepare
from influencegen_release.engine.pipeline.spec import read_pipeline_file

from .conftest import ROOT

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.services]

VULNERABLE = '''import subprocess


def run(command):
    return subprocess.call(command, shell=True)
'''


def seed_task(key):
    (pipeline,) = read_pipeline_file(os.path.join(ROOT, "pipelines", "pl-odoo-mod.yml")).pipelines
    return next(t for s in pipeline["stages"] for t in s["tasks"] if t["key"] == key)


def run_task(tmp_path, task):
    runner = DockerRunner(os.environ.get("IGR_DOCKER_URL", "unix:///var/run/docker.sock"))
    name = f"igr-pytest-{uuid.uuid4().hex[:10]}"
    source, work = prepare(str(tmp_path), name)
    module = os.path.join(source, "addons", "demo_module")
    os.makedirs(module)
    with open(os.path.join(module, "tools.py"), "w", encoding="utf-8") as handle:
        handle.write(VULNERABLE)
    spec = ContainerSpec(
        name=name, image=task["image"], command=task["run"], labels={"influencegen.db": "pytest"},
        source_dir=source, workspace_dir=work, network=task["network"], cpus=task["cpus"],
        memory_mb=task["memory"], pids=task["pids"],
    )
    container_id = runner.start(spec)
    while runner.state(container_id).running:
        time.sleep(0.2)
    exit_code = runner.state(container_id).exit_code
    runner.remove(container_id)
    return exit_code, work


def test_seed_sast_task_finds_shell_injection(tmp_path):
    task = seed_task("sast")
    exit_code, work = run_task(tmp_path, task)
    assert exit_code == 0
    data, _digest = collect(work, task["reports"][0]["path"], 10**7)
    results = json.loads(data)["results"]
    assert any(r["test_id"] == "B602" and r["filename"].endswith("tools.py") for r in results), results


def test_seed_python_lint_task_writes_its_reports(tmp_path):
    task = seed_task("python_lint")
    exit_code, work = run_task(tmp_path, task)
    assert exit_code == 0
    pylint = json.loads(collect(work, "reports/pylint.json", 10**7)[0])
    assert any(m["path"].endswith("tools.py") for m in pylint)
    collect(work, "reports/flake8.txt", 10**7)
