"""PL-IAC through a real server: the seed pipeline file (environments pointed at folders) runs
ansible-lint, checkov, a real ``ansible-playbook --check --diff`` plan and apply in the runner-iac
image against local target folders. Proves: the plan is an immutable artifact shown, with its
summary and digest, in the Plan Review approval; the apply after approval applies exactly that
plan; a plan that changed after approval (the infrastructure was edited by hand) is refused with
both digests and nothing applied; Staging's facts are compared with Production's; and one call
creates the rollback run from the last good commit, which re-applies it. Development applies
without approval."""

import base64
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess

from devstack import ROOT
from devstack.odoo_server import DB, Api
from devstack.repository import init_repository

from .repos import make_user
from .test_cli import igr

PROJECT = pathlib.Path(ROOT) / "tests" / "data" / "iac" / "project"
SEED = pathlib.Path(ROOT) / "pipelines" / "pl-iac.yml"
HOSTS = ("web1", "db1")


def pipeline_text(folders):
    """The seed PL-IAC, its environments renamed and pointed at ``folders``, without notifications."""
    text = SEED.read_text().split("\n  notifications:")[0] + "\n"
    text = text.replace("code: PL-IAC", "code: PL-IT-IAC").replace("    calendar: Production maintenance window\n", "")
    for tier, code in (("dev", "infra-dev"), ("staging", "infra-staging"), ("prod", "infra-prod")):
        text = re.sub(rf"    credentials: env:IGR_IAC_{tier.upper()}_CREDENTIALS", f"    url: file://{folders[tier]}", text)
        text = text.replace(code, f"it-iac-{tier}")
    return text


def write(origin, path, content):
    full = os.path.join(origin.working_tree_dir, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as handle:
        handle.write(content)


def commit(origin, message):
    origin.git.add(A=True)
    return origin.index.commit(message).hexsha


def inventory(tier, web_workers):
    return (PROJECT / "ansible" / "inventories" / "infra-staging.yml").read_text().replace("tier: staging", f"tier: {tier}").replace(
        "odoo_workers: 4", f"odoo_workers: {web_workers}"
    )


def push(api, origin, branch):
    payload = {"repository": "it-iac", "ref": f"refs/heads/{branch}", "after": origin.head.commit.hexsha, "pusher": "dev"}
    [summary] = api("release.run", "api_trigger", payload)["runs"]
    return summary["id"]


def job(api, run_id, key):
    [found] = api("release.job", "search_read", [("run_id", "=", run_id), ("task_key", "=", key)], ["state", "failure_reason"])
    return found


def log(api, run_id, key):
    return api("release.job", "api_log", [job(api, run_id, key)["id"]], tail=40)["text"]


def plan_document(api, run_id):
    [artifact] = api("release.artifact", "search_read", [("run_id", "=", run_id), ("kind", "=", "iac_plan")], ["sha256", "attachment_id", "plan"])
    [attachment] = api("ir.attachment", "read", [artifact["attachment_id"][0]], ["datas"])
    content = base64.b64decode(attachment["datas"])
    assert hashlib.sha256(content).hexdigest() == artifact["sha256"]
    return artifact, json.loads(content)


def approval_of(api, run_id, stage):
    return api("release.approval", "search_read", [("run_id", "=", run_id), ("stage_key", "=", stage)], ["state", "plan", "plan_digest", "summary"])


def deployments(api, code):
    return api(
        "release.deployment", "search_read", [("environment_id.code", "=", code)],
        ["outcome", "is_rollback", "rollback_of_id", "commit_sha", "plan", "error", "run_id"], order="id",
    )  # fmt: skip


def read_target(folder):
    return {
        os.path.relpath(os.path.join(root, name), folder): pathlib.Path(root, name).read_text()
        for root, _dirs, names in os.walk(folder)
        for name in names
    }


def test_plan_review_apply_refusal_parity_and_rollback(server, workdir):
    api = Api()
    folders = {tier: os.path.join(workdir, "infra", tier) for tier in ("dev", "staging", "prod")}
    for folder in folders.values():
        for host in HOSTS:
            os.makedirs(os.path.join(folder, host))
    # Production as it runs today: its facts say so (written by an earlier apply).
    for host, facts in (("web1", {"odoo_workers": 2, "role": "web", "tier": "production"}), ("db1", {"odoo_workers": 0, "role": "db", "tier": "production"})):
        os.makedirs(os.path.join(folders["prod"], host, "facts.d"))
        pathlib.Path(folders["prod"], host, "facts.d", "hosting.fact").write_text(json.dumps(facts))
    for folder in folders.values():
        for root, dirs, files in os.walk(folder):
            for name in [*dirs, *files]:
                shutil.chown(os.path.join(root, name), 1000, 1000)  # the runner's user applies

    origin = init_repository(os.path.join(workdir, "iac-origin"))
    write(origin, ".influencegen/pipeline.yml", pipeline_text(folders))
    write(origin, "ansible/site.yml", (PROJECT / "ansible" / "site.yml").read_text())
    write(origin, "ansible/inventories/it-iac-staging.yml", inventory("staging", 4))
    write(origin, "ansible/inventories/it-iac-prod.yml", inventory("production", 2))
    write(origin, "ansible/inventories/it-iac-dev.yml", inventory("dev", 1))
    good = commit(origin, "hosting: Odoo and n8n folders")
    origin.git.branch("staging")
    origin.git.checkout("staging")
    repo_id = api("release.repository", "create", {"name": "it-iac", "url": origin.working_tree_dir})
    api("release.repository", "action_load_pipeline_file", [repo_id])
    devops = make_user(api, "it_devops", "devops_lead")

    # 1. Plan: lint and checkov run for real, the plan waits in the Plan Review approval.
    first = push(api, origin, "staging")
    status = api.wait_run(first, states=("waiting_approval", "failed"), timeout=300)
    assert status["state"] == "waiting_approval", status
    assert job(api, first, "iac_lint")["state"] == job(api, first, "iac_security")["state"] == "succeeded"
    assert "no terraform/ folder: terraform fmt -check and validate skipped" in log(api, first, "iac_lint")
    artifact, document = plan_document(api, first)
    staging_plan = document["environments"]["it-iac-staging"]
    assert set(document["environments"]) == {"it-iac-staging"} and document["commit"] == good
    assert staging_plan["plans"]["ansible"]["summary"] == {"add": 8, "change": 0, "destroy": 0, "unchanged": 0, "hosts_changed": 2, "hosts_unchanged": 0}
    [request] = approval_of(api, first, "apply_staging")
    assert request["state"] == "pending" and request["plan_digest"] == staging_plan["digest"]
    assert f"it-iac-staging: plan digest {staging_plan['digest']}" in request["plan"]
    assert "ansible: 8 to add, 0 to change, 0 to destroy on 2 host(s); 0 host(s) unchanged" in request["plan"]
    assert "web1: add Configuration folder; add Odoo configuration" in request["summary"]
    assert not read_target(folders["staging"])  # planning changed nothing

    # 2. Approved: the apply plans again, finds the same digest and applies that plan.
    devops("release.approval", "api_decide", request["id"], "approve", "plan reviewed")
    status = api.wait_run(first, timeout=300)
    assert status["state"] == "succeeded", status
    planned_conf = next(c for c in staging_plan["plans"]["ansible"]["hosts"]["web1"]["changes"] if c["task"] == "Odoo configuration")
    assert read_target(folders["staging"])["web1/etc/odoo.conf"] == planned_conf["diff"][0]["after"] == "[options]\nworkers = 4\n# staging\n"
    [applied] = deployments(api, "it-iac-staging")
    assert (applied["outcome"], applied["commit_sha"], applied["is_rollback"]) == ("deployed", good, False)
    apply_log = log(api, first, "staging_apply")
    assert f"approved plan {staging_plan['digest']}" in apply_log and f"plan at apply time is the same: {staging_plan['digest']}" in apply_log

    # 3. Staging's facts compared with Production's: every difference is a finding.
    findings = api("release.finding", "search_read", [("run_id", "=", first), ("tool", "=", "iac-parity")], ["file", "message", "severity"], order="file, message")
    assert [f["message"] for f in findings] == [
        'db1: hosting.tier: it-iac-staging "staging", it-iac-prod "production"',
        'web1: hosting.odoo_workers: it-iac-staging 4, it-iac-prod 2',
        'web1: hosting.tier: it-iac-staging "staging", it-iac-prod "production"',
    ]
    assert {g["name"]: g["result"] for s in status["stages"] for g in s["gates"]}["Staging Infra Validation"] == "passed"

    # 4. A new commit, approved, then somebody edits Staging by hand: the apply refuses.
    write(origin, "ansible/inventories/it-iac-staging.yml", inventory("staging", 6))
    bad = commit(origin, "staging: 6 workers")
    second = push(api, origin, "staging")
    api.wait_run(second, states=("waiting_approval",), timeout=300)
    [request] = approval_of(api, second, "apply_staging")
    assert "ansible: 0 to add, 2 to change, 0 to destroy on 1 host(s); 1 host(s) unchanged" in request["plan"]
    conf = os.path.join(folders["staging"], "web1", "etc", "odoo.conf")
    pathlib.Path(conf).write_text("[options]\nworkers = 12\n# hotfix by hand\n")
    devops("release.approval", "api_decide", request["id"], "approve", "ok")
    status = api.wait_run(second, timeout=300)
    assert status["state"] == "failed"
    reason = job(api, second, "staging_apply")["failure_reason"]
    assert reason.startswith(f"refused: the plan of it-iac-staging changed since it was approved: approved digest {request['plan_digest']}, plan now "), reason
    now = reason.split("plan now ")[1][:64]
    assert re.fullmatch("[0-9a-f]{64}", now) and now != request["plan_digest"]
    assert pathlib.Path(conf).read_text() == "[options]\nworkers = 12\n# hotfix by hand\n"  # nothing applied
    refused = deployments(api, "it-iac-staging")[-1]
    assert (refused["outcome"], refused["commit_sha"]) == ("error", bad) and "Nothing was applied" in refused["error"]

    # 5. Rollback: one call creates the revert run from the last good commit; approved, it re-applies it.
    key_file = os.path.join(workdir, "iac-admin-key")
    pathlib.Path(key_file).write_text("admin\n")
    os.chmod(key_file, 0o600)
    cli = igr("rollback", "it-iac-staging", key_file=key_file)
    assert cli.returncode == 0, cli.stderr
    revert_id = int(re.match(r"Rollback of it-iac-staging: revert run (\d+) queued at " + good[:12], cli.stdout).group(1))
    rollback = api("release.run", "api_status", revert_id)
    assert (rollback["sha"], rollback["ref"], rollback["rollback_of"]) == (good, "refs/heads/staging", refused["id"])
    [run] = api("release.run", "read", [rollback["id"]], ["is_rollback", "pipeline_id"])
    assert run["is_rollback"] and "PL-IT-IAC" in run["pipeline_id"][1]
    api.wait_run(rollback["id"], states=("waiting_approval",), timeout=300)
    [request] = approval_of(api, rollback["id"], "apply_staging")
    assert "0 to add, 1 to change, 0 to destroy on 1 host(s)" in request["plan"]  # the hand edit is what it reverts
    devops("release.approval", "api_decide", request["id"], "approve", "roll back")
    status = api.wait_run(rollback["id"], timeout=300)
    assert status["state"] == "succeeded", status
    assert pathlib.Path(conf).read_text() == "[options]\nworkers = 4\n# staging\n"
    last = deployments(api, "it-iac-staging")[-1]
    assert (last["outcome"], last["is_rollback"], last["rollback_of_id"][0], last["commit_sha"]) == ("deployed", True, refused["id"], good)
    again = igr("rollback", "it-iac-staging", key_file=key_file)  # good is running again: nothing older to go back to
    assert again.returncode == 3 and "has no earlier successful apply of another commit" in again.stderr, again

    # 6. Development applies automatically: no approval asked.
    origin.git.checkout("-b", "develop", good)
    dev_run = push(api, origin, "develop")
    status = api.wait_run(dev_run, timeout=300)
    assert status["state"] == "succeeded", status
    assert not approval_of(api, dev_run, "apply_dev")
    [dev] = deployments(api, "it-iac-dev")
    assert (dev["outcome"], dev["commit_sha"], dev["is_rollback"]) == ("deployed", good, False)
    assert read_target(folders["dev"])["web1/etc/odoo.conf"] == "[options]\nworkers = 1\n# dev\n"
    # Ansible saw its files through its job volume only (put_archive/get_archive): each tool
    # run's volume went with its container.
    volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"label=influencegen.iac={DB}"], capture_output=True, text=True, check=True)
    assert not volumes.stdout.split(), volumes.stdout
