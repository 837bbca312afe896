"""``rollback.automatic`` and escalation acting on real pushes through the real post-receive
hook, against a real target Odoo: the Go/No-Go of a production deploy is decided, after its
deadline, by a member of the escalation group (the person who triggered the run, excluded by
segregation of duties, is refused); the new version's health check fails after the deploy, and
the environment rolls back by itself (code and database), labelled automatic and notified."""

import datetime
import os
import time
import urllib.error
import urllib.request

import pytest

from devstack.odoo_server import PORT

from .repos import Hub, failures, jobs, log, make_user, target_fixture

TARGET_PORT = PORT + 50
TARGET_DB = f"igr_ar_target_{os.getpid()}"
CODE = "PL-IT-AUTOROLL"
PIPELINE = f"""\
version: 1
environments:
  - {{code: it-ar-prod, name: IT AR Production, tier: production, kind: odoo, url: "http://127.0.0.1:{TARGET_PORT}", database: {TARGET_DB}, credentials: "param:igr_it.ar_key"}}
pipeline:
  code: {CODE}
  name: Automatic rollback
  kind: odoo
  triggers:
    - {{event: push, branches: ["main"]}}
  defaults: {{image: influencegen/runner-base:bookworm, timeout: 300}}
  stages:
    - name: Package
      key: package
      tasks:
        - {{name: Package modules, key: package, uses: artifact.package, with: {{source: addons}}}}
        - {{name: Version, key: version, uses: artifact.version}}
        - {{name: Publish, key: publish, uses: artifact.publish}}
    - name: Deploy to Production
      key: prod
      trigger: manual
      environment: it-ar-prod
      tasks:
        - {{name: Deploy, key: prod_deploy, uses: odoo.deploy}}
        - {{name: Smoke, key: prod_smoke, uses: odoo.smoke, with: {{checks: [{{path: /igr-ar/health}}]}}}}
      approval:
        rules: [{{group: cab_member, quorum: 1}}]
        deadline: 30s
        remind: 10s
        escalate_to: release_manager
        exclude: [author, triggerer]
      gates: [{{name: Go/No-Go, type: manual}}]
  rollback: {{strategy: redeploy_previous, restore_database: true, automatic: true}}
  notifications:
    - {{events: [deploy_failed], channels: [email], groups: [release_manager]}}
"""
HEALTH = """\
from odoo import http


class Health(http.Controller):
    @http.route("/igr-ar/health", type="http", auth="public")
    def health(self):
        return %s
"""


def module(version, health):
    return {
        "addons/igr_ar/__manifest__.py": repr({"name": "igr_ar", "version": version, "depends": ["web"], "license": "LGPL-3"}) + "\n",
        "addons/igr_ar/__init__.py": "from . import controllers\n",
        "addons/igr_ar/controllers/__init__.py": "from . import main\n",
        "addons/igr_ar/controllers/main.py": HEALTH % health,
    }


target = target_fixture("autoroll-target", TARGET_PORT, TARGET_DB)


@pytest.fixture(scope="module")
def hub(server, target, workdir):
    hub = Hub(workdir, "it-autoroll", {".influencegen/pipeline.yml": PIPELINE})
    hub.api("ir.config_parameter", "set_param", "igr_it.ar_key", target.key)
    return hub


def health(target):
    try:
        with urllib.request.urlopen(f"{target.url}/igr-ar/health", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def approval_of(api, run_id):
    status = api.wait_run(run_id, states=("waiting_approval", "failed"), timeout=180)
    assert status["state"] == "waiting_approval", failures(api, run_id)
    [request] = status["approvals"]
    return request["id"]


def test_escalation_decides_after_the_deadline_and_a_failed_smoke_check_rolls_back_by_itself(hub, target):
    api = hub.api
    cab = make_user(api, "it_ar_cab", "cab_member")
    manager = make_user(api, "it_ar_rm", "release_manager")
    author = make_user(api, "it_ar_author", "release_manager", email="dev@example.com")  # the commits' author

    # 1.0.0 reaches production the ordinary way: its health check answers.
    sha = hub.commit(module("18.0.1.0.0", '"ok"'), "igr_ar with a health check")
    hub.origin.create_tag("v1.0.0")
    output = hub.push()
    first = hub.pushed_run(sha, CODE)
    assert f"{CODE} run #{first}" in output, output
    request = approval_of(api, first)
    wait_rehearsals(api, first)  # the CAB reads the upgrade's rehearsal first
    cab("release.approval", "api_decide", request, "approve", "Go")
    assert api.wait_run(first, timeout=240)["state"] == "succeeded", failures(api, first)
    assert health(target) == 200

    # 1.0.1 breaks the health check. Nobody of the CAB decides in time.
    sha = hub.commit(module("18.0.1.0.1", 'http.Response("broken", status=500)'), "health check broken")
    hub.push()
    second = hub.pushed_run(sha, CODE)
    request = approval_of(api, second)
    with pytest.raises(Exception, match="only after the deadline"):
        manager("release.approval", "api_decide_as_escalation", request, "approve", "CAB unreachable")
    # The author of the change is a Release Manager too: segregation of duties keeps them out.
    with pytest.raises(Exception, match="Segregation of duties"):
        author("release.approval", "api_decide_as_escalation", request, "approve", "I wrote it, I approve it")
    wait_rehearsals(api, second)
    [deadline] = api("release.approval", "read", [request], ["deadline"])
    time.sleep(max(0, (datetime.datetime.fromisoformat(deadline["deadline"]) - datetime.datetime.utcnow()).total_seconds() + 1))
    decided = manager("release.approval", "api_decide_as_escalation", request, "approve", "CAB unreachable, fix needed tonight")
    assert decided["state"] == "approved" and decided["overrides"] == [
        {"user": "it_ar_rm", "roles": decided["overrides"][0]["roles"], "decision": "approve", "reason": "CAB unreachable, fix needed tonight"}
    ], decided
    assert "Escalation override: it_ar_rm" in run_messages(api, second)

    # The deploy runs, the smoke check fails: the environment goes back to 1.0.0 by itself.
    status = api.wait_run(second, timeout=240)
    assert status["state"] == "failed", status
    smoke = jobs(api, second)["prod_smoke"]
    assert "/igr-ar/health answered 500" in (smoke["failure_reason"] or "") + log(api, smoke["id"]), smoke
    run = wait_rollback(api, second)
    assert run["rollback_state"] == "automatic", run
    [rollback] = api("release.deployment", "read", [run["rollback_deployment_id"][0]], ["version", "is_rollback", "automatic_rollback", "outcome"])
    assert (rollback["version"], rollback["is_rollback"], rollback["automatic_rollback"], rollback["outcome"]) == ("1.0.0", True, True, "deployed")
    assert health(target) == 200, "the code of 1.0.0 serves again"
    assert "Rolled back automatically: it-ar-prod runs 1.0.0 again" in run_messages(api, second)
    notes = api("release.notification", "search_read", [("run_id", "=", second), ("event", "=", "deploy_failed")], ["subject"])
    assert "it-ar-prod rolled back automatically" in [note["subject"] for note in notes], notes


def wait_rehearsals(api, run_id, timeout=180):
    """Until the upgrade rehearsals that the run's Go/No-Go asked the target for are over."""
    deadline = time.monotonic() + timeout
    while api("release.rehearsal", "search_count", [("approval_id.run_id", "=", run_id), ("state", "in", ("queued", "running"))]):
        assert time.monotonic() < deadline, "the rehearsal still runs"
        time.sleep(1)


def run_messages(api, run_id):
    return "\n".join(m["body"] for m in api("mail.message", "search_read", [("model", "=", "release.run"), ("res_id", "=", run_id)], ["body"]))


def wait_rollback(api, run_id, timeout=180):
    """The run once its automatic rollback (a cron job of its own) is over."""
    deadline = time.monotonic() + timeout
    while True:
        [run] = api("release.run", "read", [run_id], ["rollback_state", "rollback_deployment_id"])
        if run["rollback_state"] != "automatic_queued" or time.monotonic() > deadline:
            return run
        time.sleep(0.5)
