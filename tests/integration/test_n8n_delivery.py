"""n8n workflows delivered by the control plane to a real n8n 2.8.4, through the scheduler: the
commit's workflow files validated, packaged as one immutable artifact, deployed to an n8n
environment whose API key is a ``param:`` reference; a changed workflow updates the same n8n
workflow (matched by the id the history remembers, even after a rename by hand); a broken one
stops the run at validation with every problem listed and n8n untouched; one call rolls the
environment back to the previous artifact."""

import base64
import copy
import hashlib
import json
import os
import pathlib

import pytest

from devstack.n8n_server import N8nServer, manual_workflow, missing_install_message
from devstack.odoo_server import Api
from devstack.repository import init_repository
from influencegen_release.engine.delivery.n8n.client import N8nClient
from influencegen_release.engine.delivery.n8n.workflow import normalise, version_of

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "n8n"
LEAD_SYNC, REPORT = "IT Lead sync", "IT Report"
TOKEN = "Bearer " + "tok3n" * 8  # a secret written into a workflow: refused, never repeated

PIPELINE = """\
version: 1
environments:
  - {code: it-n8n, name: IT n8n, tier: development, kind: n8n, url: "%(url)s", credentials: "param:igr_it.n8n_key"}
pipeline:
  code: PL-IT-N8N
  name: n8n delivery
  kind: n8n
  triggers:
    - {event: push, branches: ['main']}
  defaults: {image: influencegen/runner-base:bookworm, timeout: 300}
  stages:
    - name: Validate
      key: quality
      tasks:
        - {name: Validate workflows, key: n8n_schema, uses: n8n.validate, with: {source: workflows, active: ["IT Lead sync"]}}
      gates:
        - name: Validation Pass
          criteria:
            - findings: {from: [n8n_schema], severity: critical, max: 0}
    # As PL-N8N-WF: version, then publish, which packages the workflow files.
    - name: Package
      key: package
      tasks:
        - {name: Version, key: version, uses: artifact.version, with: {format: n8n-workflows}}
    - name: Register
      key: register
      tasks:
        - {name: Publish, key: publish, uses: artifact.publish, with: {format: n8n-workflows, source: workflows, active: ["IT Lead sync"]}}
    - name: Deploy to n8n
      key: deploy
      environment: it-n8n
      tasks:
        - {name: Deploy workflows, key: deploy, uses: n8n.deploy}
"""


def lead_sync(value="crm"):
    """tests/data/n8n/valid.json (schedule trigger, inactive in the file), its Set node writing ``value``."""
    data = json.loads((DATA / "valid.json").read_text())
    data["name"] = LEAD_SYNC
    data["nodes"][2]["parameters"]["assignments"]["assignments"][0]["value"] = value
    return data


def report(secret=None):
    """A manual workflow, inactive; ``secret`` is written into its Set node."""
    return manual_workflow(REPORT, "b1a4c2d3", "Stamp", "header", secret or "={{ $now.toISO() }}")


@pytest.fixture(scope="module")
def n8n(workdir):
    """(server, api key) of one throwaway n8n for this module; fails, never skips, without n8n."""
    missing = missing_install_message()
    if missing:
        pytest.fail(missing)
    server = N8nServer(os.path.join(workdir, "n8n-delivery"))
    try:
        server.start()
        yield server, server.create_api_key()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(n8n):
    server, key = n8n
    return N8nClient(server.url, key, timeout=30)


@pytest.fixture(scope="module")
def n8n_repo(server, n8n, workdir):
    n8n_server, key = n8n
    origin = init_repository(os.path.join(workdir, "n8n-origin"))
    write(origin, ".influencegen/pipeline.yml", PIPELINE % {"url": n8n_server.url})
    write(origin, "workflows/lead-sync.json", lead_sync())
    write(origin, "workflows/reports/daily.json", report())
    commit(origin, "two workflows")
    origin.create_tag("v1.0.0")
    api = Api()
    api("ir.config_parameter", "set_param", "igr_it.n8n_key", key)
    repo_id = api("release.repository", "create", {"name": "it-n8n", "url": origin.working_tree_dir})
    api("release.repository", "action_load_pipeline_file", [repo_id])
    return origin


def write(origin, path, content):
    full = os.path.join(origin.working_tree_dir, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as handle:
        handle.write(content if isinstance(content, str) else json.dumps(content, indent=2))


def commit(origin, message):
    origin.git.add(A=True)
    origin.index.commit(message)


def push(api, origin):
    payload = {"repository": "it-n8n", "ref": "refs/heads/main", "after": origin.head.commit.hexsha, "pusher": "dev"}
    [summary] = api("release.run", "api_trigger", payload)["runs"]
    return summary["id"]


def deployments(api):
    return api(
        "release.deployment",
        "search_read",
        [("environment_id.code", "=", "it-n8n")],
        ["version", "outcome", "is_rollback", "plan", "error", "timeline", "n8n_workflows_json", "artifact_id"],
        order="id",
    )


def job(status, name):
    return next(j for s in status["stages"] for j in s["jobs"] if j["name"] == name)


def assert_runs(client, workflow_id, expected, active):
    """n8n holds ``expected`` under ``workflow_id`` and, when active, runs exactly that version."""
    remote = client.get(workflow_id)
    assert normalise(remote) == normalise(expected)
    assert remote["active"] is active
    if active:
        published = normalise({**expected, "nodes": remote["activeVersion"]["nodes"]})
        assert published["nodes"] == normalise(expected)["nodes"]


def test_workflows_are_validated_packaged_deployed_updated_by_id_refused_and_rolled_back(server, n8n, client, n8n_repo):
    api = Api()
    key = n8n[1]

    # First push: both workflows created, Lead sync activated (with.active), Report inactive.
    first = push(api, n8n_repo)
    status = api.wait_run(first, timeout=240)
    assert status["state"] == "succeeded", status
    [artifact] = api(
        "release.artifact", "search_read", [("run_id", "=", first)], ["name", "kind", "version", "sha256", "size", "manifest_json", "attachment_id"]
    )
    assert (artifact["name"], artifact["kind"], artifact["version"]) == ("PL-IT-N8N-1.0.0.json", "n8n_workflows", "1.0.0")
    [attachment] = api("ir.attachment", "read", [artifact["attachment_id"][0]], ["datas"])
    content = base64.b64decode(attachment["datas"])
    assert hashlib.sha256(content).hexdigest() == artifact["sha256"] and len(content) == artifact["size"]
    document = json.loads(content)
    v1 = version_of(normalise(lead_sync()))
    assert (document["format"], document["version"], document["commit"]) == (1, "1.0.0", n8n_repo.head.commit.hexsha)
    assert document["workflows"][LEAD_SYNC] == {
        "file": "workflows/lead-sync.json", "active": True, "version": v1, "workflow": normalise(lead_sync()),
    }  # fmt: skip
    assert document["workflows"][REPORT]["file"] == "workflows/reports/daily.json"
    manifest = json.loads(artifact["manifest_json"])
    assert manifest["workflows"][REPORT] == {"file": "workflows/reports/daily.json", "active": False, "version": version_of(normalise(report()))}

    [deployment] = deployments(api)
    assert (deployment["version"], deployment["outcome"], deployment["is_rollback"]) == ("1.0.0", "deployed", False)
    assert deployment["plan"].startswith(f"created: {LEAD_SYNC}, {REPORT}\nupdated: -\nunchanged: -")
    ids = {name: record["id"] for name, record in json.loads(deployment["n8n_workflows_json"]).items()}
    assert_runs(client, ids[LEAD_SYNC], lead_sync(), active=True)
    assert_runs(client, ids[REPORT], report(), active=False)
    [lead] = client.find_by_name(LEAD_SYNC)
    assert lead["id"] == ids[LEAD_SYNC]

    # Someone renames Lead sync in n8n: the next deploy still finds it by its remembered id.
    edited = {**normalise(client.get(ids[LEAD_SYNC])), "name": "Lead sync (edited by hand)"}
    client.update(ids[LEAD_SYNC], edited)
    write(n8n_repo, "workflows/lead-sync.json", lead_sync("crm-v2"))
    commit(n8n_repo, "lead sync tags crm-v2")
    second = push(api, n8n_repo)
    status = api.wait_run(second, timeout=240)
    assert status["state"] == "succeeded", status
    latest = deployments(api)[-1]
    assert latest["version"].startswith("1.0.1-dev.1+") and latest["outcome"] == "deployed"
    assert latest["plan"].startswith(f"created: -\nupdated: {LEAD_SYNC}\nunchanged: {REPORT}")
    assert f"was {version_of(normalise(edited))[:12]}" in latest["plan"]  # what it replaced: the edit by hand
    assert {n: r["id"] for n, r in json.loads(latest["n8n_workflows_json"]).items()} == ids
    assert_runs(client, ids[LEAD_SYNC], lead_sync("crm-v2"), active=True)
    assert client.find_by_name("Lead sync (edited by hand)") == []
    deploy_log = api("release.job", "api_log", [job(status, "Deploy workflows")["id"]], tail=200)["text"]
    assert "deploy 1.0.1-dev.1+" in deploy_log and key not in deploy_log

    # A broken push: duplicate node names and a secret; validation lists every problem, the
    # run stops there, n8n and the history are untouched.
    before = {name: client.get(workflow_id)["updatedAt"] for name, workflow_id in ids.items()}
    broken = lead_sync("crm-v3")
    broken["nodes"][2]["name"] = "Fetch leads"
    write(n8n_repo, "workflows/lead-sync.json", broken)
    write(n8n_repo, "workflows/reports/daily.json", report(secret=TOKEN))
    commit(n8n_repo, "broken workflows")
    third = push(api, n8n_repo)
    status = api.wait_run(third, timeout=240)
    assert status["state"] == "failed"
    validation = job(status, "Validate workflows")
    assert validation["state"] == "failed"
    reason = validation["reason"]
    assert "workflows not valid: 3 problem(s) in 2 file(s)" in reason
    assert "workflows/lead-sync.json: nodes[2].name: duplicate node name 'Fetch leads' (also nodes[1])" in reason
    assert "workflows/lead-sync.json: connections['Fetch leads'].main[0][0].node: connection from 'Fetch leads' to 'Tag source', which is not a node" in reason
    assert "workflows/reports/daily.json: node 'Stamp': parameters.assignments.assignments[0].value: a bearer token" in reason
    log = api("release.job", "api_log", [validation["id"]], tail=200)["text"]
    assert "tok3n" not in reason + log
    findings = api("release.finding", "search_read", [("job_id", "=", validation["id"])], ["tool", "rule", "severity", "file", "message"])
    assert sorted((f["rule"], f["file"]) for f in findings) == [
        ("dangling-connection", "workflows/lead-sync.json"),
        ("duplicate-node-name", "workflows/lead-sync.json"),
        ("secret", "workflows/reports/daily.json"),
    ]
    assert {f["tool"] for f in findings} == {"n8n-validate"} and "tok3n" not in str(findings)
    assert all(j["state"] == "skipped" for name in ("Version", "Publish", "Deploy workflows") for j in [job(status, name)])
    assert api("release.artifact", "search_count", [("run_id", "=", third)]) == 0
    assert len(deployments(api)) == 2
    assert {name: client.get(workflow_id)["updatedAt"] for name, workflow_id in ids.items()} == before

    # One call rolls the environment back to the first artifact, labelled as a rollback.
    summary = api("release.environment", "api_rollback", "it-n8n")
    assert (summary["version"], summary["outcome"], summary["rollback"]) == ("1.0.0", "deployed", True), summary
    assert summary["plan"].startswith(f"created: -\nupdated: {LEAD_SYNC}\nunchanged: {REPORT}")
    assert_runs(client, ids[LEAD_SYNC], lead_sync(), active=True)
    assert_runs(client, ids[REPORT], report(), active=False)
    history = deployments(api)
    assert [(d["version"][:5], d["outcome"], d["is_rollback"]) for d in history] == [
        ("1.0.0", "deployed", False), ("1.0.1", "deployed", False), ("1.0.0", "deployed", True),
    ]  # fmt: skip
    assert history[-1]["artifact_id"] == history[0]["artifact_id"]
    assert not any(key in str(d) for d in history)
    # The previous successful artifact (1.0.1) was undone by that rollback: nothing earlier is left.
    with pytest.raises(Exception, match="no earlier successful deployment to roll back to"):
        api("release.environment", "api_rollback", "it-n8n")


def test_a_rollback_deletes_the_workflows_created_since_and_a_failed_deploy_puts_everything_back(server, n8n, client, n8n_repo):
    """Runs after the first test: the environment runs 1.0.0 again (Lead sync, Report)."""
    api = Api()
    ids = {name: record["id"] for name, record in json.loads(deployments(api)[-1]["n8n_workflows_json"]).items()}

    # A release adding a workflow, then its rollback: the added workflow is deleted.
    extra = copy.deepcopy(report())
    extra["name"] = "IT Extra"
    write(n8n_repo, "workflows/lead-sync.json", lead_sync("crm-v4"))
    write(n8n_repo, "workflows/reports/daily.json", report())
    write(n8n_repo, "workflows/extra.json", extra)
    commit(n8n_repo, "fixed, and one more workflow")
    run = push(api, n8n_repo)
    assert api.wait_run(run, timeout=240)["state"] == "succeeded"
    [added] = client.find_by_name("IT Extra")
    summary = api("release.environment", "api_rollback", "it-n8n")
    assert (summary["version"], summary["outcome"], summary["rollback"]) == ("1.0.0", "deployed", True), summary
    assert "deleted: IT Extra" in summary["plan"]
    assert client.find_by_name("IT Extra") == []
    assert_runs(client, ids[LEAD_SYNC], lead_sync(), active=True)

    # A release whose second workflow n8n refuses to activate (an unknown node type passes
    # validation; the file asks for it active): the first, already updated, is put back too,
    # and the job fails with n8n's reason.
    unknown = report()
    unknown["nodes"][0].update(type="n8n-nodes-base.scheduleTrigger", typeVersion=1.2,
                               parameters={"rule": {"interval": [{"field": "hours", "hoursInterval": 6}]}})  # fmt: skip
    unknown["nodes"][1]["type"] = "n8n-nodes-base.doesNotExist"
    unknown["active"] = True
    os.remove(os.path.join(n8n_repo.working_tree_dir, "workflows/extra.json"))
    write(n8n_repo, "workflows/lead-sync.json", lead_sync("crm-v5"))
    write(n8n_repo, "workflows/reports/daily.json", unknown)
    commit(n8n_repo, "an unknown node type")
    run = push(api, n8n_repo)
    status = api.wait_run(run, timeout=240)
    assert status["state"] == "failed"
    reason = job(status, "Deploy workflows")["reason"]
    assert reason.startswith("deploy to it-n8n failed, restored: deploy of 'IT Report'")
    assert "Unrecognized node type: n8n-nodes-base.doesNotExist" in reason
    assert f"Put back as they were: {LEAD_SYNC}." in reason
    latest = deployments(api)[-1]
    assert latest["outcome"] == "failed" and f"failed: {REPORT}\nundone: {LEAD_SYNC}" in latest["plan"]
    assert_runs(client, ids[LEAD_SYNC], lead_sync(), active=True)
    assert_runs(client, ids[REPORT], report(), active=False)
    assert api("release.run", "read", [run], ["rollback_state"])[0]["rollback_state"] is False


PLAN_PIPELINE = """\
version: 1
environments:
  - {code: it-n8n-plan, name: IT n8n plan, tier: production, kind: n8n, url: "%(url)s", credentials: "param:igr_it.n8n_key"}
pipeline:
  code: PL-IT-N8N-PLAN
  name: n8n plan
  kind: n8n
  triggers:
    - {event: push, branches: ['main']}
  defaults: {image: influencegen/runner-base:bookworm, timeout: 300}
  stages:
    - name: Package
      key: package
      tasks:
        - {name: Version, key: version, uses: artifact.version, with: {format: n8n-workflows}}
    - name: Register
      key: register
      tasks:
        - {name: Publish, key: publish, uses: artifact.publish, with: {format: n8n-workflows, source: workflows}}
    - name: Deploy to n8n
      key: deploy
      trigger: manual
      environment: it-n8n-plan
      tasks:
        - {name: Deploy workflows, key: deploy, uses: n8n.deploy}
      approval:
        rules: [{group: release_manager}]
      gates: [{name: Go/No-Go, type: manual}]
"""


def test_the_approval_shows_the_live_n8n_plan_and_binds_the_deploy_to_it(server, n8n, client, workdir):
    """Before the manual stage is approved, the approval lists what the deploy will do on the
    instance (read live): one workflow created, one updated with its node changes. A change made
    in n8n after the approval makes the deploy refuse the plan nobody approved."""
    api = Api()
    n8n_server, key = n8n
    api("ir.config_parameter", "set_param", "igr_it.n8n_key", key)
    # The instance already runs an older "IT Plan sync": no "Tag source" node, another URL.
    live = lead_sync()
    live["name"] = "IT Plan sync"
    live["nodes"] = live["nodes"][:2]
    live["nodes"][1]["parameters"]["url"] = "https://old-crm.example.com/api/leads"
    live["connections"] = {"Every 6 hours": live["connections"]["Every 6 hours"]}
    live_id = client.create(normalise(live))["id"]
    wanted = {**lead_sync(), "name": "IT Plan sync"}

    origin = init_repository(os.path.join(workdir, "n8n-plan-origin"))
    write(origin, ".influencegen/pipeline.yml", PLAN_PIPELINE % {"url": n8n_server.url})
    write(origin, "workflows/sync.json", wanted)
    write(origin, "workflows/report.json", manual_workflow("IT Plan report", "c2d3e4f5", "Stamp", "header", "={{ $now.toISO() }}"))
    commit(origin, "sync and report")
    origin.create_tag("v1.0.0")
    repo_id = api("release.repository", "create", {"name": "it-n8n-plan", "url": origin.working_tree_dir})
    api("release.repository", "action_load_pipeline_file", [repo_id])
    payload = {"repository": "it-n8n-plan", "ref": "refs/heads/main", "after": origin.head.commit.hexsha, "pusher": "dev"}
    [summary] = api("release.run", "api_trigger", payload)["runs"]
    status = api.wait_run(summary["id"], states=("waiting_approval", "failed"), timeout=180)
    assert status["state"] == "waiting_approval", status
    [approval] = api("release.approval", "search_read", [("run_id", "=", summary["id"])], ["plan", "plan_digest"])
    plan = approval["plan"]
    assert plan.startswith("create: IT Plan report\nupdate: IT Plan sync\nunchanged: -"), plan
    assert f"IT Plan sync (id {live_id}): update to " in plan
    assert "  nodes added: Tag source" in plan and "  nodes changed: Fetch leads" in plan and "  connections changed" in plan
    assert approval["plan_digest"] and client.find_by_name("IT Plan report") == [], "planning changes nothing"

    # Someone edits the workflow in n8n after the plan was read: the approved plan is refused.
    client.update(live_id, {**normalise(live), "nodes": normalise(live)["nodes"][:1], "connections": {}})
    api("release.approval", "api_decide", approval["id"], "approve", "plan read")
    status = api.wait_run(summary["id"], timeout=120)
    assert status["state"] == "failed", status
    reason = job(status, "Deploy workflows")["reason"]
    assert "the plan changed since it was approved" in reason, reason
    assert client.find_by_name("IT Plan report") == [], "nothing was deployed"
