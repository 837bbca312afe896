# Fed to `odoo-bin shell` by scripts/screenshots: real runs of a small pipeline, their jobs run
# by the scheduler in Docker and deployed to a real target Odoo database (devstack's Target:
# `igr target init`, its own server), from three commits of one repository:
#   1. v1.0.0: lint finds two things, 72 tests pass; packaged, QA approves staging, the module
#      is installed on the target: the run succeeds (the baseline, the board's deployment);
#   2. lint: one fixed, one still there (moved), one new; 8 of 72 tests fail: the gate fails;
#   3. v1.1.0: the tests pass again: packaged, the run waits for the QA Lead's decision on
#      staging, with the upgrade plan read from the target.
# Prints "TARGET <process group> <database>" as soon as the target serves (the caller stops it)
# and "RUN <waiting run> <pipeline> <state> <failed run>" for the screenshot driver.
# (`env` is the shell's.)
# ruff: noqa: F821
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.environ["IGR_ROOT"])
from devstack.odoo_target import Target, write_module

work = os.environ["IGR_SHOTS_WORK"]
target = Target(os.path.join(work, "target"), int(os.environ["IGR_SHOTS_TARGET_PORT"]), os.environ["IGR_SHOTS_TARGET_DB"])
STAGING = f'{{code: demo-staging, name: Demo Staging, tier: staging, kind: odoo, url: "{target.url}", database: {target.db}, credentials: "param:igr_shots.target_key"}}'
PIPELINE = f"version: 1\nenvironments:\n  - {STAGING}\n" + """\
pipeline:
  code: PL-DEMO
  name: Demo module pipeline
  kind: odoo
  triggers:
    - {event: push, branches: [main]}
  defaults: {image: influencegen/runner-base:bookworm, timeout: 120, memory: 128m, cpus: 0.5, pids: 64}
  stages:
    - name: Build
      key: build
      tasks:
        - name: Compile
          key: compile
          run: |
            for i in $(seq 1 400); do printf '\\033[32m[build]\\033[0m compiling file %04d of 400 ... ok\\n' $i; done
            printf '\\033[1;33mWARNING\\033[0m: 2 deprecated calls\\n'
            printf '\\033[1;31mERROR\\033[0m: demo_module/models/partner.py:12 retried after a flaky import\\n'
            printf '\\033[1;32mbuild finished\\033[0m\\n'
        - name: Lint
          key: lint
          run: |
            cp /src/lint.json pylint.json
            echo "pylint found $(grep -o message-id pylint.json | wc -l) messages"
          reports: [{format: pylint-json, path: pylint.json}]
        - name: Unit tests
          key: unit
          run: |
            cp /src/junit.xml junit.xml
            grep -o 'tests="[0-9]*" failures="[0-9]*"' junit.xml
          reports: [{format: junit-xml, path: junit.xml}]
      gates:
        - name: Build passes
          criteria:
            - {succeeded: [compile]}
            - {tests: {from: [unit], max_failed: 0}}
            - {findings: {from: [lint], severity: critical, new: true, max: 0}}
    - name: Package
      key: package
      tasks:
        - {name: Package modules, key: package, uses: artifact.package}  # modules found by their manifests
        - {name: Version, key: version, uses: artifact.version}
        - {name: Publish, key: publish, uses: artifact.publish}
    - name: Deploy to Staging
      key: staging
      trigger: manual
      environment: demo-staging
      tasks:
        - {name: Deploy, key: deploy, uses: odoo.deploy}
        - {name: Smoke, key: smoke, uses: odoo.smoke, with: {checks: [{path: /web/login}]}}
      approval:
        rules: [{group: qa_lead}]
      gates: [{name: UAT Sign-off, type: manual}]
  rollback: {strategy: redeploy_previous}
"""


def lint(*messages):
    return json.dumps(
        [
            {"type": kind, "module": path[:-3].replace("/", "."), "obj": "", "line": line, "column": 0, "path": path,
             "symbol": symbol, "message": text, "message-id": rule}
            for kind, path, line, symbol, rule, text in messages
        ]  # fmt: skip
    )


def junit(total, failed):
    cases = "".join(
        f'<testcase classname="demo_module.tests.test_partner" name="test_{n:02d}">'
        + ('<failure message="assert 41 == 42">AssertionError</failure>' if n < failed else "")
        + "</testcase>"
        for n in range(total)
    )
    return f'<?xml version="1.0"?><testsuite name="demo_module" tests="{total}" failures="{failed}" errors="0">{cases}</testsuite>'


UNUSED = ("warning", "demo_module/models/partner.py", 3, "unused-import", "W0611", "Unused import os")
LONG = ("convention", "demo_module/models/invoice.py", 9, "line-too-long", "C0301", "Line too long (131/120)")
LONG_MOVED = LONG[:2] + (14,) + LONG[3:]
NO_MEMBER = ("error", "demo_module/models/sync.py", 40, "no-member", "E1101", "Instance of 'Partner' has no 'vat_id' member")
# (subject, lint report, test report, the module's version and new field, release tag)
COMMITS = [
    ("Demo module", lint(UNUSED, LONG), junit(72, 0), ("18.0.1.0.0", None), "v1.0.0"),
    ("Sync partners' VAT ids", lint(LONG_MOVED, NO_MEMBER), junit(72, 8), ("18.0.1.1.0", "vat_id"), None),
    ("Fix the VAT id tests", lint(LONG_MOVED, NO_MEMBER), junit(72, 0), ("18.0.1.1.0", "vat_id"), "v1.1.0"),
]

origin = os.path.join(work, "origin")
os.makedirs(os.path.join(origin, "pipelines"))
git = ["git", "-C", origin, "-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
subprocess.run(["git", "init", "-q", "-b", "main", origin], check=True)
env["ir.config_parameter"].set_param("influencegen_release.data_dir", os.path.join(work, "data"))
target.start()
print("TARGET", target.server.process.pid, target.db, flush=True)
env["ir.config_parameter"].set_param("igr_shots.target_key", target.key)
# One job at a time: concurrent fetches of one mirror can race on its ref (issue 15.2).
env["release.runner"].search([]).write({"capacity": 1})
developer = env["res.users"].search([("login", "=", "developer")])
qa = env["res.users"].search([("login", "=", "qa_lead")])


def commit(message, lint_json, junit_xml, module, tag):
    files = {"pipelines/demo.yml": PIPELINE, "lint.json": lint_json, "junit.xml": junit_xml}
    for path, text in files.items():
        with open(os.path.join(origin, path), "w", encoding="utf-8") as handle:
            handle.write(text)
    write_module(os.path.join(origin, "addons"), "igr_shop", *module)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", message], check=True)
    if tag:
        subprocess.run([*git, "tag", tag], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def run_until_it_stops(sha, before):
    """Push ``sha`` as the developer and let the scheduler run it until it ends or waits."""
    payload = {"repository": "demo-module", "ref": "refs/heads/main", "after": sha, "before": before, "pusher": "developer"}
    result = env["release.run"].with_user(developer).api_trigger(payload)
    env.cr.commit()
    run = env["release.run"].browse(result["runs"][0]["id"])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        env["release.scheduler"]._cron_tick(budget=10)
        env.cr.commit()
        env.invalidate_all()
        if run.state not in ("queued", "running"):
            break
        time.sleep(1)
    return run


shas = []
for number, change in enumerate(COMMITS):
    shas.append(commit(*change))
    if number == 0:
        repository = env["release.repository"].create(
            {"name": "demo-module", "url": origin, "default_branch": "main", "pipeline_file": "pipelines/demo.yml"}
        )
        repository.action_load_pipeline_file()
        repository.pipeline_ids |= env["release.pipeline"].search([("code", "=", "PL-DEMO")])
        env.cr.commit()
    run = run_until_it_stops(shas[-1], shas[-2] if len(shas) > 1 else False)
    print("STEP", number + 1, run.display_name, run.state, flush=True)
    for why in run.gate_result_ids.filtered(lambda g: g.result == "failed").mapped("explanation") + run.job_ids.mapped("failure_reason"):
        if why:
            print("STEP", number + 1, "  ", why.replace("\n", " | "), flush=True)
    if number == 0:  # the QA Lead approves staging: the run deploys and becomes the baseline
        approval = run.approval_ids.filtered(lambda a: a.state == "pending")
        env["release.approval"].with_user(qa).api_decide(approval.id, "approve", "Staging checked")
        env.cr.commit()
        deadline = time.monotonic() + 300  # a backup, an install and a restart of the target
        while run.state not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
            env["release.scheduler"]._cron_tick(budget=10)
            env.cr.commit()
            env.invalidate_all()
            time.sleep(1)
        print("STEP", number + 1, run.display_name, run.state, flush=True)
    elif number == 1:
        failed = run
print("RUN", run.id, run.pipeline_id.id, run.state, failed.id, flush=True)
