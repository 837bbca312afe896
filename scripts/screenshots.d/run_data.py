# Fed to `odoo-bin shell` by scripts/screenshots: real runs of a small pipeline, their jobs run
# by the scheduler in Docker, from three commits of one repository:
#   1. lint finds two things, 72 tests pass: QA approves staging, the run succeeds (the baseline);
#   2. lint: one fixed, one still there (moved), one new; 8 of 72 tests fail: the gate fails;
#   3. the tests pass again: the run waits for the QA Lead's decision on staging.
# Prints "RUN <waiting run> <pipeline> <state> <failed run>" for the screenshot driver.
# (`env` is the shell's.)
# ruff: noqa: F821
import json
import os
import subprocess
import time

work = os.environ["IGR_SHOTS_WORK"]
PIPELINE = """\
version: 1
environments:
  - {code: odoo-staging, name: Odoo Staging, tier: staging, kind: odoo}
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
    - name: Deploy to Staging
      key: staging
      trigger: manual
      environment: odoo-staging
      tasks:
        - {name: Deploy, key: deploy, uses: git.checkout}
      approval:
        rules: [{group: qa_lead}]
      gates: [{name: UAT Sign-off, type: manual}]
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
COMMITS = [
    ("Demo module", lint(UNUSED, LONG), junit(72, 0)),
    ("Sync partners' VAT ids", lint(LONG_MOVED, NO_MEMBER), junit(72, 8)),
    ("Fix the VAT id tests", lint(LONG_MOVED, NO_MEMBER), junit(72, 0)),
]

origin = os.path.join(work, "origin")
os.makedirs(os.path.join(origin, "pipelines"))
git = ["git", "-C", origin, "-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
subprocess.run(["git", "init", "-q", "-b", "main", origin], check=True)
env["ir.config_parameter"].set_param("influencegen_release.data_dir", os.path.join(work, "data"))
# One job at a time: concurrent fetches of one mirror can race on its ref (issue 15.2).
env["release.runner"].search([]).write({"capacity": 1})
developer = env["res.users"].search([("login", "=", "developer")])
qa = env["res.users"].search([("login", "=", "qa_lead")])


def commit(message, lint_json, junit_xml):
    files = {"pipelines/demo.yml": PIPELINE, "lint.json": lint_json, "junit.xml": junit_xml}
    for path, text in files.items():
        with open(os.path.join(origin, path), "w", encoding="utf-8") as handle:
            handle.write(text)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", message], check=True)
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
for number, (message, lint_json, junit_xml) in enumerate(COMMITS):
    shas.append(commit(message, lint_json, junit_xml))
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
        deadline = time.monotonic() + 120
        while run.state not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
            env["release.scheduler"]._cron_tick(budget=10)
            env.cr.commit()
            env.invalidate_all()
            time.sleep(1)
        print("STEP", number + 1, run.display_name, run.state, flush=True)
    elif number == 1:
        failed = run
print("RUN", run.id, run.pipeline_id.id, run.state, failed.id, flush=True)
