"""The upgrade rehearsal before the production Go/No-Go: the target copies a backup of its
database that is still production's, else production by pg_dump (nothing kept for the next
rehearsal), neutralizes the copy, runs exactly the planned upgrade there and reports back; the copy
is dropped and production is never touched. A failed rehearsal blocks the approval until a
Release Manager overrides it with a reason."""

import os
import subprocess
import time
import xmlrpc.client

import pytest

from devstack.odoo_server import Api
from devstack.odoo_target import MODULES, package, write_modules
from influencegen_release.engine.delivery.odoo.target import OdooTarget, deploy_package

PIPELINE = """\
version: 1
environments:
  - {code: it-rh-prod, name: IT Rehearsal Production, tier: production, kind: odoo, url: "http://127.0.0.1:%(port)s", database: %(db)s, credentials: "param:igr_it.rh_key"}
pipeline:
  code: PL-IT-REHEARSE
  name: Rehearsal
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
    - name: Deploy to Production
      key: prod
      trigger: manual
      environment: it-rh-prod
      tasks:
        - {name: Deploy, key: prod_deploy, uses: odoo.deploy}
      approval:
        rules: [{group: release_manager}, {group: qa_lead}]
        order: sequential
      gates: [{name: Go/No-Go, type: manual}]
"""


@pytest.fixture(scope="module")
def target(odoo_target, workdir):
    # Production runs 1.0.0 of the five modules.
    v1_zip, v1 = package(os.path.join(workdir, "rehearsal-packages"), "1.0.0", {})
    deploy_package(OdooTarget(odoo_target.url, odoo_target.db, "deployer", odoo_target.key), v1_zip, v1["sha256"], v1["manifest"])
    return odoo_target


@pytest.fixture(scope="module")
def rehearsal_repo(target, pipeline_repository):
    origin, repo_id = pipeline_repository("it-rehearsal", PIPELINE, "igr_it.rh_key", target)
    api = Api()
    # The second approver in order: the request stays open after the Release Manager's vote.
    qa_group = api("ir.model.data", "check_object_reference", "influencegen_release", "group_release_qa_lead")[1]
    internal = api("ir.model.data", "check_object_reference", "base", "group_user")[1]
    api("res.users", "create", {"name": "IT QA", "login": "it_rh_qa", "groups_id": [(4, internal), (4, qa_group)]})
    return origin, repo_id


def push(api, origin, repo_id, versions, message, failing=None):
    write_modules(os.path.join(origin.working_tree_dir, "addons"), versions, extra={"igr_demo_c": "colour"}, failing=failing)
    origin.git.add(A=True)
    origin.index.commit(message)
    api("release.repository", "action_load_pipeline_file", [repo_id])
    payload = {"repository": "it-rehearsal", "ref": "refs/heads/main", "after": origin.head.commit.hexsha, "pusher": "dev"}
    [summary] = api("release.run", "api_trigger", payload)["runs"]
    status = api.wait_run(summary["id"], states=("waiting_approval", "failed"), timeout=240)
    assert status["state"] == "waiting_approval", status
    [request] = [a for a in status["approvals"] if a["stage"] == "Deploy to Production"]
    return summary["id"], request["id"]


def rehearsal(api, approval_id, timeout=240):
    fields = ["state", "modules_installed", "modules_upgraded", "upgrade_s", "duration_s", "database_mb", "copied_from",
              "warnings", "errors", "error", "dropped", "override_by_id", "override_reason"]  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [found] = api("release.rehearsal", "search_read", [("approval_id", "=", approval_id)], fields) or [{"state": "none"}]
        if found["state"] in ("passed", "failed"):
            return found
        time.sleep(1)
    raise AssertionError(f"rehearsal of approval {approval_id} still {found['state']} after {timeout} s")


def target_state(target):
    api = Api(port=target.port, db=target.db)
    rows = api("ir.module.module", "search_read", [("name", "in", MODULES)], ["name", "latest_version"])
    databases = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "odoo", "-d", "postgres", "-tAc", "SELECT datname FROM pg_database"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    # a rehearsal's own database, or a copy of production kept for the next ones (no more)
    copies = [d for d in databases if d.startswith(f"{target.db}_rehearsal_") or d == f"{target.db}_bk_rehearsal"]
    return {row["name"]: row["latest_version"] for row in rows}, copies


def test_a_rehearsal_passes_beside_the_plan_and_leaves_production_as_it_was(server, target, rehearsal_repo):
    api = Api()
    started = time.monotonic()
    run_id, approval_id = push(api, *rehearsal_repo, {"igr_demo_c": "18.0.1.0.1"}, "c gets a colour")
    report = rehearsal(api, approval_id)
    assert report["state"] == "passed", report
    assert (report["modules_upgraded"], report["modules_installed"]) == ("igr_demo_c", False)
    assert report["upgrade_s"] > 0 and report["duration_s"] >= report["upgrade_s"] and report["database_mb"] > 1
    assert report["dropped"] and not report["errors"]
    # No deploy's backup is production now: production is read by pg_dump, never copied itself.
    assert report["copied_from"] == f"{target.db} (pg_dump)", report["copied_from"]
    versions, leftovers = target_state(target)
    assert versions == dict.fromkeys(MODULES, "18.0.1.0.0"), "production still runs 1.0.0"
    assert leftovers == [], "the rehearsal database was dropped, no copy of production kept"
    [approval] = api("release.approval", "read", [approval_id], ["plan", "state"])
    assert "upgrade: igr_demo_c" in approval["plan"] and approval["state"] == "pending"
    api("release.run", "action_cancel", [run_id])
    print(f"rehearsal passed in {time.monotonic() - started:.1f} s (report: {report['duration_s']} s)")


def test_a_broken_migration_fails_the_rehearsal_blocks_the_approval_until_overridden(server, target, rehearsal_repo):
    api = Api()
    run_id, approval_id = push(
        api, *rehearsal_repo, {"igr_demo_c": "18.0.1.0.1", "igr_demo_d": "18.0.1.0.2"}, "d's migration breaks",
        failing={"igr_demo_d": "rehearsed migration boom"},
    )  # fmt: skip
    report = rehearsal(api, approval_id)
    assert report["state"] == "failed", report
    assert "rehearsed migration boom" in report["error"] + (report["errors"] or "")
    assert report["dropped"] and report["database_mb"] > 1, "the copy's size, even when the upgrade failed"
    # Nothing was kept from the first rehearsal: production is read by pg_dump again.
    assert report["copied_from"] == f"{target.db} (pg_dump)"
    versions, leftovers = target_state(target)
    assert versions == dict.fromkeys(MODULES, "18.0.1.0.0") and leftovers == [], "production untouched, copy dropped"

    with pytest.raises(xmlrpc.client.Fault, match="upgrade rehearsal of .* failed"):
        api("release.approval", "api_decide", approval_id, "approve", "Go")
    [rehearsal_id] = api("release.rehearsal", "search", [("approval_id", "=", approval_id)])
    wizard = api("release.rehearsal.override", "create", {"rehearsal_id": rehearsal_id, "reason": "d's migration is fixed by hand in the window"})
    api("release.rehearsal.override", "action_confirm", [wizard])
    report = rehearsal(api, approval_id)
    assert report["override_by_id"] and report["override_reason"] == "d's migration is fixed by hand in the window"
    messages = api("mail.message", "search_read", [("model", "=", "release.approval"), ("res_id", "=", approval_id)], ["body"])
    assert any("Failed rehearsal overridden by" in m["body"] for m in messages)
    assert api("release.approval", "api_decide", approval_id, "approve", "Go")["state"] == "pending", "no longer blocked"
    api("release.run", "action_cancel", [run_id])
