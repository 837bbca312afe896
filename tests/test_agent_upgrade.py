"""The deploy agent's log and its upgrade process, without a database: every agent line is
stamped to the millisecond, a failed command's error is read from the lines after it, and the
upgrade process started ahead (it loads this machine's Odoo 18) leaves untouched when the
agent closes its input without ``go`` (a backup that failed)."""

import json
import os
import re

import pytest

from influencegen_release.engine.delivery.odoo.agent import Agent

ODOO_BIN = "/opt/odoo18/odoo-bin"
RUNNER = os.path.join(
    os.path.dirname(__file__), "..", "addons", "influencegen_release", "models", "delivery", "odoo", "upgrade_process.py"
)


@pytest.fixture
def agent(tmp_path):
    job = {
        "db": "nowhere", "python": "/usr/bin/python3", "odoo_bin": ODOO_BIN, "upgrade_process": os.path.abspath(RUNNER),
        "addons_path": "/opt/odoo18/odoo/addons", "data_dir": str(tmp_path / "data"), "upgrade": ["igr_demo_c"], "install": [],
    }  # fmt: skip
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return Agent(str(path))


def test_agent_lines_are_stamped_and_errors_come_from_the_last_command(agent):
    agent.log("step: backup")
    agent.log("copy attempt 1: ERROR:  source database is being accessed by other users")
    agent.log("$ odoo-bin -u igr_demo_c")
    with open(agent.log_path, "a", encoding="utf-8") as handle:
        handle.write("2026-12-01 10:00:00,000 42 ERROR db odoo.modules.loading: migration boom\n")
    with open(agent.log_path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert all(re.match(r"^\[agent\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ", line) for line in lines[:3]), lines
    assert agent.last_error(since_marker=True) == "db odoo.modules.loading: migration boom"


@pytest.mark.skipif(not os.path.exists(ODOO_BIN), reason="needs Odoo 18 at /opt/odoo18")
def test_the_upgrade_process_started_ahead_exits_untouched_without_go(agent):
    cmd = agent.upgrade_cmd()
    assert cmd[1:6] == [os.path.abspath(RUNNER), ODOO_BIN, "--refresh=igr_demo_c", "--wait", "--"]
    assert "-u" in cmd and cmd[cmd.index("-u") + 1] == "igr_demo_c"
    agent.start_upgrade()
    agent.upgrade_process.stdin.close()  # what a failed backup does (then kills it after 2 s)
    assert agent.upgrade_process.wait(120) == 3
    assert not os.path.exists(agent.job["data_dir"]), "Odoo never started: nothing was written"
