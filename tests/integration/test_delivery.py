"""A push delivered by the control plane to a real target, through the scheduler: packaging,
versioning from Git tags, the artifact repository, a deploy to Development, the upgrade plan
shown in the production Go/No-Go and honoured by the deploy, the environment's history, and
a rollback to the previous artifact with one API call."""

import os

import pytest

from devstack.odoo_server import Api
from devstack.odoo_target import MODULES, write_modules

PIPELINE = """\
version: 1
environments:
  - {code: it-dev, name: IT Development, tier: development, kind: odoo, url: "http://127.0.0.1:%(port)s", database: %(db)s, credentials: "param:igr_it.target_key"}
  - {code: it-prod, name: IT Production, tier: production, kind: odoo, url: "http://127.0.0.1:%(port)s", database: %(db)s, credentials: "param:igr_it.target_key"}
pipeline:
  code: PL-IT-DELIVER
  name: Delivery
  kind: odoo
  triggers:
    - {event: push, branches: ['main']}
  defaults: {image: influencegen/runner-base:bookworm, timeout: 300}
  stages:
    - name: Package
      key: package
      tasks:
        - {name: Package modules, key: package, uses: artifact.package, with: {source: addons}}
        - {name: Version, key: version, uses: artifact.version}
        - {name: Publish, key: publish, uses: artifact.publish}
    - name: Deploy to Development
      key: dev
      environment: it-dev
      tasks:
        - {name: Deploy, key: dev_deploy, uses: odoo.deploy}
        - {name: Migrate, key: dev_migrate, uses: odoo.migrate}
        - {name: Smoke, key: dev_smoke, uses: odoo.smoke, with: {checks: [{path: /web/login}]}}
    - name: Deploy to Production
      key: prod
      trigger: manual
      environment: it-prod
      tasks:
        - {name: Deploy, key: prod_deploy, uses: odoo.deploy}
      approval:
        rules: [{group: release_manager}]
      gates: [{name: Go/No-Go, type: manual}]
  rollback: {strategy: redeploy_previous, restore_database: true}
"""


@pytest.fixture(scope="module")
def target(odoo_target):
    return odoo_target


@pytest.fixture(scope="module")
def delivery_repo(target, pipeline_repository):
    origin, repo_id = pipeline_repository("it-delivery", PIPELINE, "igr_it.target_key", target)
    write_modules(os.path.join(origin.working_tree_dir, "addons"), {})
    origin.git.add(A=True)
    origin.index.commit("five modules")
    origin.create_tag("v1.0.0")
    Api()("release.repository", "action_load_pipeline_file", [repo_id])
    return origin


def push(api, origin):
    payload = {"repository": "it-delivery", "ref": "refs/heads/main", "after": origin.head.commit.hexsha, "pusher": "dev"}
    [summary] = api("release.run", "api_trigger", payload)["runs"]
    return summary["id"]


def target_versions(target):
    api = Api(port=target.port, db=target.db)
    rows = api("ir.module.module", "search_read", [("name", "in", MODULES)], ["name", "state", "latest_version"])
    return {row["name"]: (row["state"], row["latest_version"]) for row in rows}


def deployments(api, code):
    return api(
        "release.deployment",
        "search_read",
        [("environment_id.code", "=", code)],
        ["version", "outcome", "is_rollback", "plan", "backup_ref", "duration_s", "downtime_s", "deployed_by_id"],
        order="id",
    )


def test_a_push_is_packaged_deployed_approved_with_its_plan_and_rolled_back(server, target, delivery_repo):
    api = Api()
    run_id = push(api, delivery_repo)
    status = api.wait_run(run_id, states=("waiting_approval", "failed"), timeout=240)
    assert status["state"] == "waiting_approval", status
    [run] = api("release.run", "read", [run_id], ["version", "artifact_ids"])
    assert run["version"] == "1.0.0"
    [artifact] = api("release.artifact", "search_read", [("run_id", "=", run_id), ("kind", "=", "odoo_modules")], ["name", "sha256", "version", "attachment_id"])
    assert artifact["name"] == "PL-IT-DELIVER-1.0.0.zip" and len(artifact["sha256"]) == 64
    assert target_versions(target) == dict.fromkeys(MODULES, ("installed", "18.0.1.0.0"))
    [dev] = deployments(api, "it-dev")
    assert (dev["version"], dev["outcome"], dev["is_rollback"]) == ("1.0.0", "deployed", False)
    assert "install: " + ", ".join(MODULES) in dev["plan"] and dev["backup_ref"].startswith(f"database:{target.db}_bk_")
    # The target restarted: how long it did not serve, measured from outside, is on the
    # deployment and on the environment board.
    assert 0 < dev["downtime_s"] < dev["duration_s"], dev
    [board_dev] = [e for kind in api("release.environment", "api_board") for e in kind["environments"] if e["code"] == "it-dev"]
    assert board_dev["last"]["downtime_s"] == round(dev["downtime_s"], 2)
    smoke = [j for s in status["stages"] for j in s["jobs"] if j["name"] == "Smoke"][0]
    assert smoke["state"] == "succeeded"

    # The Go/No-Go shows what production would change, and the deploy runs exactly that plan.
    [request] = [a for a in status["approvals"] if a["stage"] == "Deploy to Production"]
    [approval] = api("release.approval", "read", [request["id"]], ["plan", "plan_digest", "artifact_sha256"])
    assert approval["plan"].startswith("install: -\nupgrade: -\nunchanged: igr_demo_a")
    assert len(approval["plan_digest"]) == 64
    api("release.approval", "api_decide", request["id"], "approve", "Go")
    assert api.wait_run(run_id, timeout=180)["state"] == "succeeded"
    [prod] = deployments(api, "it-prod")
    assert prod["outcome"] == "unchanged"

    # A change to one module: the next push upgrades only it on Development.
    write_modules(os.path.join(delivery_repo.working_tree_dir, "addons"), {"igr_demo_c": "18.0.1.0.1"}, extra={"igr_demo_c": "colour"})
    delivery_repo.git.add(A=True)
    delivery_repo.index.commit("c gets a colour")
    second = push(api, delivery_repo)
    assert api.wait_run(second, states=("waiting_approval", "failed"), timeout=240)["state"] == "waiting_approval"
    latest = deployments(api, "it-dev")[-1]
    assert latest["version"].startswith("1.0.1-dev.1+") and "upgrade: igr_demo_c" in latest["plan"]
    assert target_versions(target)["igr_demo_c"] == ("installed", "18.0.1.0.1")
    api("release.run", "action_cancel", [second])
    target.shell('env["igr.demo.c"].create({"name": "written after 1.0.1", "colour": "red"}); env.cr.commit(); print("ok")')

    # One call rolls Development back, labelled as a rollback. The pipeline says
    # restore_database: the target puts back its pre-deploy backup with the code of 1.0.0, so
    # what was written since is gone from the live database, which is kept aside.
    summary = api("release.environment", "api_rollback", "it-dev")
    assert (summary["version"], summary["outcome"], summary["rollback"]) == ("1.0.0", "deployed", True), summary
    assert summary["plan"].startswith("restored: the code of 1.0.0 and the database backup") and f"kept as {target.db}_failed_" in summary["plan"]
    assert target_versions(target)["igr_demo_c"] == ("installed", "18.0.1.0.0")
    assert target.shell('print(env["igr.demo.c"].search_count([("name", "=", "written after 1.0.1")]))') == "0"
    history = deployments(api, "it-dev")
    assert [(d["version"][:5], d["is_rollback"]) for d in history] == [("1.0.0", False), ("1.0.1", False), ("1.0.0", True)]

    # Deploying a version by hand: a roll-forward to what ran here is allowed; a version that
    # was never published is refused.
    forward = api("release.environment", "api_deploy", "it-dev", latest["version"])
    assert (forward["version"], forward["outcome"], forward["rollback"]) == (latest["version"], "deployed", False), forward
    assert target_versions(target)["igr_demo_c"] == ("installed", "18.0.1.0.1")
    with pytest.raises(Exception, match="No published odoo_modules artifact has version '9.9.9'"):
        api("release.environment", "api_deploy", "it-prod", "9.9.9")
    again = api("release.environment", "api_rollback", "it-dev")
    assert (again["version"], again["outcome"], again["rollback"]) == ("1.0.0", "deployed", True), again

    # Parity, read live from the targets: both environments run the same modules; one that
    # does not answer is reported, not hidden.
    api("release.environment", "create", {"name": "IT Down", "code": "it-down", "kind": "odoo", "tier": "staging",
        "url": "http://127.0.0.1:9", "database": "nothing", "credentials_ref": "param:igr_it.target_key"})
    parity = api("release.parity", "api_parity", "odoo", ["it-dev", "it-prod", "it-down"])
    assert parity["environments"] == ["it-dev", "it-prod"]
    rows = {row["component"]: row for row in parity["rows"]}
    assert set(MODULES) <= set(rows) and not any(row["drift"] for row in rows.values())
    assert rows["igr_demo_c"]["values"]["it-dev"].startswith("18.0.1.0.0 · ")
    assert "does not answer" in parity["errors"]["it-down"]

    # A hotfix copied onto the target by hand: a promotion set to block on drift refuses to run.
    current = os.path.realpath(os.path.join(target.managed, "current"))
    with open(os.path.join(current, "igr_demo_c", "hotfix.py"), "w", encoding="utf-8") as handle:
        handle.write("# patched in production at 3 am\n")
    [dev_env] = api("release.environment", "search", [("code", "=", "it-dev")])
    api("release.environment", "write", [dev_env], {"block_on_drift": True})
    with open(os.path.join(delivery_repo.working_tree_dir, "NOTES.txt"), "w", encoding="utf-8") as handle:
        handle.write("a commit that changes no module\n")
    delivery_repo.git.add(A=True)
    delivery_repo.index.commit("notes")
    blocked = api.wait_run(push(api, delivery_repo), timeout=240)
    assert blocked["state"] == "failed"
    deploy_job = [j for s in blocked["stages"] for j in s["jobs"] if j["name"] == "Deploy"][0]
    assert "drifted from its last deploy" in deploy_job["reason"] and "igr_demo_c" in deploy_job["reason"], deploy_job
    assert deployments(api, "it-dev")[-1]["outcome"] == "error"
