"""Infrastructure plans from real tool output: Ansible --check --diff JSON, terraform show -json,
their counts and digests, facts parity, and a real plan and apply through the runner image."""

import copy
import json
import os
import pathlib
import shutil
import uuid

import pytest

from influencegen_release.engine.delivery.iac import plan as iac_plan
from influencegen_release.engine.delivery.iac.ansible_runner import (
    IacCall,
    facts_command,
    playbook_command,
    run,
    terraform_command,
)
from influencegen_release.engine.execution.docker_runner import DockerRunner

DATA = pathlib.Path(__file__).resolve().parent / "data"
IAC = DATA / "iac"
IMAGE = os.environ.get("IGR_IAC_IMAGE", "influencegen/runner-iac:bookworm")
DOCKER_URL = os.environ.get("IGR_DOCKER_URL", "unix:///var/run/docker.sock")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def load(name):
    return json.loads((IAC / name).read_text())


def test_a_new_environment_plans_additions_and_the_retired_file_to_destroy():
    plan = iac_plan.ansible_plan(load("ansible-check-new.json"))
    # web1/etc existed (holding legacy.conf) with another mode: a change, not an addition.
    assert plan["summary"] == {"add": 7, "change": 1, "destroy": 1, "unchanged": 0, "hosts_changed": 2, "hosts_unchanged": 0}
    web1 = [(c["task"], c["kind"]) for c in plan["hosts"]["web1"]["changes"]]
    assert web1 == [
        ("Configuration folder", "change"),
        ("Odoo configuration", "add"),
        ("Local facts folder", "add"),
        ("Local facts", "add"),
        ("Retired configuration", "destroy"),
    ]
    assert iac_plan.summary_line(plan) == "7 to add, 1 to change, 1 to destroy on 2 host(s); 0 host(s) unchanged"
    assert iac_plan.describe(plan)[1] == "  db1: add Configuration folder; add Odoo configuration; add Local facts folder; add Local facts"


def test_the_apply_reports_what_the_check_planned():
    planned = iac_plan.ansible_plan(load("ansible-check-new.json"))
    # The apply ran after a failed first attempt that had already configured db1.
    applied = iac_plan.ansible_plan(load("ansible-apply.json"))
    assert applied["hosts"]["web1"] == planned["hosts"]["web1"]
    assert applied["hosts"]["db1"] == {"changes": []}
    assert applied["summary"] == {"add": 3, "change": 1, "destroy": 1, "unchanged": 1, "hosts_changed": 1, "hosts_unchanged": 1}


def test_a_changed_inventory_plans_changes_and_an_applied_one_nothing():
    changed = iac_plan.ansible_plan(load("ansible-check-change.json"))
    assert changed["summary"] == {"add": 0, "change": 4, "destroy": 0, "unchanged": 0, "hosts_changed": 2, "hosts_unchanged": 0}
    [conf, _facts] = changed["hosts"]["web1"]["changes"]
    assert conf["task"] == "Odoo configuration"
    assert conf["diff"] == [{"before": "[options]\nworkers = 4\n# staging\n", "after": "[options]\nworkers = 2\n# dev\n",
                             "before_header": "/target/web1/etc/odoo.conf"}]  # fmt: skip
    noop = iac_plan.ansible_plan(load("ansible-check-noop.json"))
    assert noop["summary"] == {"add": 0, "change": 0, "destroy": 0, "unchanged": 2, "hosts_changed": 0, "hosts_unchanged": 2}
    assert iac_plan.describe(noop) == ["ansible: 0 to add, 0 to change, 0 to destroy on 0 host(s); 2 host(s) unchanged"]
    digests = {iac_plan.digest(p) for p in (changed, noop, iac_plan.ansible_plan(load("ansible-check-new.json")))}
    assert len(digests) == 3


def test_the_digest_ignores_what_changes_from_run_to_run():
    doc = load("ansible-check-new.json")
    again = copy.deepcopy(doc)
    for play in again["plays"]:
        play["play"]["duration"] = {"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T00:00:09Z"}
        play["play"]["id"] = "other"
        for task in play["tasks"]:
            for result in task["hosts"].values():
                for diff in result.get("diff") if isinstance(result.get("diff"), list) else []:
                    if "after_header" in diff:
                        diff["after_header"] = "/tmp/.ansible/ansible-local-99zz/tmpother"
    assert iac_plan.digest(iac_plan.ansible_plan(again)) == iac_plan.digest(iac_plan.ansible_plan(doc))
    # ...but not what the plan would do.
    again["plays"][0]["tasks"][1]["hosts"]["web1"]["diff"][0]["after"] = "[options]\nworkers = 9\n"
    assert iac_plan.digest(iac_plan.ansible_plan(again)) != iac_plan.digest(iac_plan.ansible_plan(doc))


def test_a_failed_run_is_no_plan():
    with pytest.raises(iac_plan.PlanError, match=r"^staging: the plan failed on 1 task\(s\): web1: Configuration folder: MODULE FAILURE"):
        iac_plan.ansible_plan(load("ansible-failed.json"), "staging")
    with pytest.raises(iac_plan.PlanError, match="not the output of the ansible.posix.json callback"):
        iac_plan.ansible_plan({"plays": []}, "x")


def test_terraform_show_json_counts_like_terraform_plan():
    doc = json.loads((DATA / "reports" / "terraform-plan.json").read_text())
    plan = iac_plan.terraform_plan(doc)
    # update cfg, create new, replace node (add + destroy), delete old, no-op same
    assert plan["summary"] == {"add": 2, "change": 1, "destroy": 2, "unchanged": 1}
    assert iac_plan.summary_line(plan) == "2 to add, 1 to change, 2 to destroy; 1 unchanged"
    assert iac_plan.describe(plan)[1:] == [
        "  terraform_data.cfg: update",
        "  terraform_data.new: create",
        "  terraform_data.node: delete/create",
        "  terraform_data.old: delete",
    ]
    later = dict(doc, timestamp="2030-01-01T00:00:00Z")
    assert iac_plan.digest(iac_plan.terraform_plan(later)) == iac_plan.digest(plan)
    changed = copy.deepcopy(doc)
    changed["resource_changes"][0]["change"]["after"]["input"] = "v3"
    assert iac_plan.digest(iac_plan.terraform_plan(changed)) != iac_plan.digest(plan)
    with pytest.raises(iac_plan.PlanError, match="format_version missing"):
        iac_plan.terraform_plan({"resource_changes": []}, "plan.json")
    with pytest.raises(iac_plan.PlanError, match=r"resource_changes\[0\]: address and change expected"):
        iac_plan.terraform_plan({"format_version": "1.2", "resource_changes": [{"change": {}}]}, "plan.json")


def test_staging_facts_compared_with_another_environment():
    staging = iac_plan.facts_of(load("ansible-facts-staging.json"))
    dev = iac_plan.facts_of(load("ansible-facts-dev.json"))
    assert staging["web1"] == {"hosting": {"odoo_workers": 4, "role": "web", "tier": "staging"}}
    differences = iac_plan.facts_parity({"infra-staging": staging, "infra-dev": dev})
    assert differences == [
        ("db1", "hosting.tier", {"infra-staging": "staging", "infra-dev": "dev"}),
        ("web1", "hosting.odoo_workers", {"infra-staging": 4, "infra-dev": 2}),
        ("web1", "hosting.tier", {"infra-staging": "staging", "infra-dev": "dev"}),
    ]
    assert iac_plan.facts_parity({"a": staging, "b": staging}) == []
    only_web = {"web1": staging["web1"]}
    assert ("db1", "hosting.odoo_workers", {"a": 0, "b": None}) in iac_plan.facts_parity({"a": staging, "b": only_web})


@pytest.fixture
def runner():
    client = DockerRunner(DOCKER_URL)
    client.ping()
    yield client
    for container_id in client.find({"influencegen.iac": "pytest"}):
        client.remove(container_id)


def call(tmp_path, command, target, writable=False):
    work = tmp_path / f"ws-{uuid.uuid4().hex[:6]}"
    work.mkdir()
    os.chmod(work, 0o777)
    return IacCall(
        name=f"igr-pytest-iac-{uuid.uuid4().hex[:10]}", image=IMAGE, command=command, source_dir=str(IAC / "project"),
        workspace_dir=str(work), target_dir=str(target), target_writable=writable, labels={"influencegen.iac": "pytest"},
        timeout=120, memory_mb=512,
    )  # fmt: skip


@pytest.mark.services
def test_plan_apply_and_facts_in_the_runner_image(runner, tmp_path):
    target = tmp_path / "target"
    for host in ("web1", "db1"):
        (target / host).mkdir(parents=True)
    shutil.chown(target / "web1", 1000, 1000)
    shutil.chown(target / "db1", 1000, 1000)
    inventory, playbook = "ansible/inventories/infra-dev.yml", "ansible/site.yml"

    code, doc, _log = run(runner, call(tmp_path, playbook_command(inventory, playbook, check=True), target))
    plan = iac_plan.ansible_plan(doc)
    assert code == 0 and plan["summary"]["add"] == 8 and plan["summary"]["destroy"] == 0
    assert not os.listdir(target / "web1")  # a plan mounts the target read-only and changes nothing

    code, doc, _log = run(runner, call(tmp_path, playbook_command(inventory, playbook, check=False), target, writable=True))
    applied = iac_plan.ansible_plan(doc)
    assert code == 0 and applied["summary"] == plan["summary"]
    assert (target / "web1" / "etc" / "odoo.conf").read_text() == "[options]\nworkers = 2\n# dev\n"

    code, doc, _log = run(runner, call(tmp_path, playbook_command(inventory, playbook, check=True), target))
    assert iac_plan.ansible_plan(doc)["summary"]["hosts_unchanged"] == 2
    code, doc, _log = run(runner, call(tmp_path, facts_command(inventory), target))
    assert iac_plan.facts_of(doc)["db1"] == {"hosting": {"odoo_workers": 0, "role": "db", "tier": "dev"}}
    assert not runner.find({"influencegen.iac": "pytest"})  # each container removed once read


@pytest.mark.services
def test_an_unreadable_inventory_is_no_plan_although_ansible_exits_0(runner, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    code, doc, log = run(runner, call(tmp_path, playbook_command("ansible/inventories/none.yml", "ansible/site.yml", check=True), target))
    assert code == 0 and "Unable to parse /src/ansible/inventories/none.yml" in log
    with pytest.raises(iac_plan.PlanError, match="infra-x: no host was planned: the inventory is empty or could not be parsed"):
        iac_plan.ansible_plan(doc, "infra-x")


@pytest.mark.services
def test_terraform_code_on_an_image_without_terraform_fails_saying_so(runner, tmp_path):
    command = terraform_command("terraform", "terraform/infra-dev.tfvars")
    assert "plan -input=false -var-file=/src/terraform/infra-dev.tfvars -out=/workspace/tfplan" in command
    code, doc, log = run(runner, call(tmp_path, command, ""))
    assert (code, doc) == (127, None)
    assert "terraform is not in this image: name an image with Terraform (with.terraform_image) to plan Terraform code" in log
