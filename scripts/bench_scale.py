"""Part ``scale`` of scripts/bench: the scheduler and the screens with 10,000 finished runs of
10 jobs each in the database (IGR_SCALE_RUNS), timed server side in ``odoo-bin shell``
(scripts/bench_scale_probe.py), medians of IGR_SCALE_REPEAT samples, each with empty caches:

scheduler_idle_tick_ms_10k    one scheduler tick with nothing to do (goal <= 20)
scheduler_claim_100_ms_10k    the claim step of a tick that claims 100 queued jobs (goal <= 150)
api_status_ms_10k             ``release.run.api_status`` of one run, as a user (goal <= 50)
runs_list_ms_10k              the Runs list's first page: web_search_read of 80 (goal <= 300)
runs_kanban_ms_10k            the Runs menu's kanban by state: read_group + 40 per column
"""

import json
import os
import subprocess

from devstack.odoo_server import DB, ROOT, create_database, drop_database, odoo_cmd

PROBE = os.path.join(ROOT, "scripts", "bench_scale_probe.py")


def bench_scale():
    db = f"{DB}_scale"
    try:
        create_database(db)
        with open(PROBE, encoding="utf-8") as probe:
            command = odoo_cmd("--no-http", "--log-level=warn", db=db)
            command.insert(2, "shell")  # odoo-bin takes its subcommand first
            result = subprocess.run(
                command,
                stdin=probe, capture_output=True, text=True, check=False, timeout=1800,
            )
        lines = [line for line in result.stdout.splitlines() if line.startswith("SCALE ")]
        if result.returncode or not lines:
            raise RuntimeError(f"the scale probe failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
        figures = json.loads(lines[-1][len("SCALE "):])
    finally:
        drop_database(db)
    goals = {
        "scheduler_idle_tick_ms_10k": "<= 20",
        "scheduler_claim_100_ms_10k": "<= 150",
        "api_status_ms_10k": "<= 50",
        "runs_list_ms_10k": "<= 300",
    }
    return {"scale_" + key if key in ("runs", "jobs") else key: value for key, value in figures.items()}, goals
