"""Where the upgrade rehearsal copies production from, on a real PostgreSQL (small databases
with a module table): a fresh backup by pg_dump when no stamped backup is production's now,
that same backup copied again (no dump) while production's modules do not change, a fresh one
once they do; the copy's size is reported; production is only read (no stamp, no session
closed)."""

import json
import os
import subprocess

import pytest

from influencegen_release.engine.delivery.odoo.backup_stamp import read_stamp
from influencegen_release.engine.delivery.odoo.rehearsal import Rehearsal

pytestmark = pytest.mark.services
PG = {"PGHOST": "127.0.0.1", "PGUSER": os.environ.get("IGR_DB_USER", "odoo"), "PGPASSWORD": os.environ.get("PGPASSWORD", "odoo")}
DB = f"igr_rhcopy_{os.getpid()}"


def psql(sql, db="postgres"):
    return subprocess.run(["psql", "-w", "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                          capture_output=True, text=True, env=dict(os.environ, **PG), check=True).stdout.strip()  # fmt: skip


def databases():
    return psql(f"SELECT datname FROM pg_database WHERE datname LIKE '{DB}%' ORDER BY 1").split()


@pytest.fixture
def production():
    try:
        psql(f'CREATE DATABASE "{DB}"')
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no PostgreSQL server to create databases on: {exc}")
    psql("CREATE TABLE ir_module_module (name varchar, state varchar, latest_version varchar, write_date timestamp);"
         "INSERT INTO ir_module_module VALUES ('base', 'installed', '18.0.1.3', now()), ('igr_demo_c', 'installed', '18.0.1.0.0', now())", DB)  # fmt: skip
    yield DB
    for name in databases():
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def log_of(agent):
    with open(agent.log_path, encoding="utf-8") as handle:
        return handle.read()


def rehearsal(tmp_path, receipt):
    folder = tmp_path / str(receipt)
    folder.mkdir()
    (folder / "job.json").write_text(json.dumps({"db": DB, "receipt": receipt, "db_host": PG["PGHOST"], "db_user": PG["PGUSER"]}))
    return Rehearsal(str(folder / "job.json"))


def test_a_rehearsal_copies_a_backup_that_is_still_production_and_never_production_itself(production, tmp_path):
    first = rehearsal(tmp_path, 1)
    assert first._copy(f"{DB}_rehearsal_1") == f"{DB}_bk_rehearsal"
    assert "pg_dump" in log_of(first)
    assert first.database_size(f"{DB}_rehearsal_1") > 1024 * 1024, "the size reported for the rehearsal database"

    second = rehearsal(tmp_path, 2)
    assert second._copy(f"{DB}_rehearsal_2") == f"{DB}_bk_rehearsal"
    log = log_of(second)
    assert "pg_dump" not in log and f"backup {DB}_bk_rehearsal taken at" in log, log

    psql("UPDATE ir_module_module SET latest_version = '18.0.1.0.1', write_date = now() WHERE name = 'igr_demo_c'", DB)  # a deploy
    third = rehearsal(tmp_path, 3)
    assert third._copy(f"{DB}_rehearsal_3") == f"{DB}_bk_rehearsal"
    assert "its modules are not production's now" in log_of(third)
    assert psql("SELECT latest_version FROM ir_module_module WHERE name = 'igr_demo_c'", f"{DB}_rehearsal_3") == "18.0.1.0.1"

    assert read_stamp(psql(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{DB}_bk_rehearsal'"))
    assert not psql(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{DB}'"), "production carries no stamp"
    assert databases() == sorted([DB, f"{DB}_bk_rehearsal", *(f"{DB}_rehearsal_{n}" for n in (1, 2, 3))])
