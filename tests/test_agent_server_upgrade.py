"""How the deploy agent judges an upgrade the serving server ran (agent_server_upgrade.py), on
a real PostgreSQL database with a module table: accepted only when every planned module is
installed with its row written since, none is left to upgrade or to install, Odoo's preload
succeeded and nothing ERROR or CRITICAL was logged after the agent's command line; a server
that ended before reporting is a failure, not a wait."""

import json
import os
import subprocess

import pytest

from influencegen_release.engine.delivery.odoo.agent import Agent, AgentError

pytestmark = pytest.mark.services
PG = {"PGHOST": "127.0.0.1", "PGUSER": os.environ.get("IGR_DB_USER", "odoo"), "PGPASSWORD": os.environ.get("PGPASSWORD", "odoo")}
DB = f"igr_srvup_{os.getpid()}"


def psql(sql, db=DB):
    return subprocess.run(["psql", "-w", "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                          capture_output=True, text=True, env=dict(os.environ, **PG), check=True).stdout.strip()  # fmt: skip


@pytest.fixture
def agent(tmp_path, monkeypatch):
    try:
        psql(f'CREATE DATABASE "{DB}"', "postgres")
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no PostgreSQL server to create databases on: {exc}")
    for key, value in PG.items():
        monkeypatch.setenv(key, value)
    psql("CREATE TABLE ir_module_module (name varchar, state varchar, write_date timestamp);"
         "INSERT INTO ir_module_module VALUES ('base', 'installed', now()), ('igr_demo_c', 'installed', now())")  # fmt: skip
    spec = {name: str(tmp_path / f"upgrade.{name}") for name in ("go", "start", "result", "verdict")}
    job = {"db": DB, "upgrade": ["igr_demo_c"], "install": ["igr_demo_f"], "server_pid": os.getpid(), "reexec": spec}
    (tmp_path / "job.json").write_text(json.dumps(job))
    yield Agent(str(tmp_path / "job.json"))
    psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)', "postgres")


def test_the_module_table_and_the_log_decide_whether_the_server_upgraded(agent):
    planned = ["igr_demo_c", "igr_demo_f"]
    before = agent.module_rows(planned)
    assert before["*pending"] == 0 and "igr_demo_f" not in before
    psql("UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'igr_demo_c'")
    assert agent.module_problems(before, planned) == [
        "1 modules left to upgrade or to install", "igr_demo_c is to upgrade", "igr_demo_f is missing",
    ]  # fmt: skip
    psql("UPDATE ir_module_module SET state = 'installed' WHERE name = 'igr_demo_c';"
         "INSERT INTO ir_module_module VALUES ('igr_demo_f', 'installed', now())")  # fmt: skip
    assert agent.module_problems(before, planned) == ["igr_demo_c was not written by the upgrade"]
    psql("UPDATE ir_module_module SET write_date = now() + interval '1 second' WHERE name = 'igr_demo_c'")
    assert agent.module_problems(before, planned) == []

    # Odoo's records of the upgrade follow the agent's command line in its log.
    agent.log("$ (the server re-executes) upgrade_process.py --serve, applying -u igr_demo_c -i igr_demo_f")
    with open(agent.log_path, "a", encoding="utf-8") as handle:
        handle.write(f"2026-12-01 10:00:00,000 42 ERROR {DB} odoo.modules.loading: a view failed to validate\n")
    with pytest.raises(AgentError, match="module upgrade logged errors: .*a view failed to validate"):
        agent.check_result("module upgrade", 0, check_log=True)


def test_a_server_that_ended_before_its_report_fails_the_upgrade(agent):
    with open(agent.job["reexec"]["result"], "w", encoding="utf-8") as handle:
        json.dump({"rc": -1}, handle)
    assert agent.wait_result(agent.job["reexec"]["result"], 5) == {"rc": -1}
    os.remove(agent.job["reexec"]["result"])
    agent.job["server_pid"] = 2**22 + 7  # no such process
    with pytest.raises(AgentError, match="ended during the upgrade"):
        agent.wait_result(agent.job["reexec"]["result"], 5)
