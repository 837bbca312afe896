# Fed to `odoo-bin shell` by scripts/screenshots: a real run of a small pipeline, its jobs run
# by the scheduler in Docker, until its staging stage waits for the QA Lead's decision.
# Prints "RUN <id> <pipeline id>" for the screenshot driver.  (`env` is the shell's.)
# ruff: noqa: F821
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
        - name: Unit tests
          key: unit
          run: |
            for t in test_partner test_invoice test_sync; do printf '%s ... \\033[32mok\\033[0m\\n' $t; done
            echo "Ran 3 tests: 3 passed, 0 failed"
      gates:
        - name: Build passes
          criteria: [{succeeded: [compile, unit]}]
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

origin = os.path.join(work, "origin")
os.makedirs(os.path.join(origin, "pipelines"))
with open(os.path.join(origin, "pipelines", "demo.yml"), "w", encoding="utf-8") as handle:
    handle.write(PIPELINE)
git = ["git", "-C", origin, "-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
subprocess.run(["git", "init", "-q", "-b", "main", origin], check=True)
subprocess.run([*git, "add", "."], check=True)
subprocess.run([*git, "commit", "-qm", "Demo module"], check=True)
sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()

env["ir.config_parameter"].set_param("influencegen_release.data_dir", os.path.join(work, "data"))
repository = env["release.repository"].create(
    {"name": "demo-module", "url": origin, "default_branch": "main", "pipeline_file": "pipelines/demo.yml"}
)
repository.action_load_pipeline_file()
repository.pipeline_ids |= env["release.pipeline"].search([("code", "=", "PL-DEMO")])
env.cr.commit()
result = env["release.run"].api_trigger({"repository": "demo-module", "ref": "refs/heads/main", "after": sha, "pusher": "developer"})
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
print("RUN", run.id, run.pipeline_id.id, run.state, flush=True)
