"""Where the upgrade rehearsal copies production from, on a real PostgreSQL (small databases
with a module table): a deploy's stamped backup while it is still production's (no dump), else
a pg_dump of production restored straight into the rehearsal database, once production's
modules changed too; no other copy of production is kept (the one earlier versions kept is
dropped); two rehearsals at once both get their copy; the copy's size is reported; production
is only read (no stamp, no session closed)."""

import json
import os
import subprocess
import threading
import time

import pytest

from influencegen_release.engine.delivery.odoo.agent_backup import ident, literal
from influencegen_release.engine.delivery.odoo.backup_stamp import FINGERPRINT, stamp_sql
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
    psql(f'CREATE DATABASE "{DB}_bk_rehearsal" TEMPLATE "{DB}"')  # what an earlier version kept
    first = rehearsal(tmp_path, 1)
    assert first._copy(f"{DB}_rehearsal_1") == f"{DB} (pg_dump)"
    assert "pg_dump" in log_of(first) and f"{DB}_bk_rehearsal dropped" in log_of(first)
    assert first.database_size(f"{DB}_rehearsal_1") > 1024 * 1024, "the size reported for the rehearsal database"

    # A deploy's backup, stamped by its agent, while production's modules are still the same.
    psql(f'CREATE DATABASE "{DB}_bk_7" TEMPLATE "{DB}"')
    psql(stamp_sql(ident, literal, f"{DB}_bk_7", time.time(), psql(FINGERPRINT, DB)))
    second = rehearsal(tmp_path, 2)
    assert second._copy(f"{DB}_rehearsal_2") == f"{DB}_bk_7"
    log = log_of(second)
    assert "pg_dump" not in log and f"backup {DB}_bk_7 taken at" in log, log

    psql("UPDATE ir_module_module SET latest_version = '18.0.1.0.1', write_date = now() WHERE name = 'igr_demo_c'", DB)  # a deploy
    third, fourth = rehearsal(tmp_path, 3), rehearsal(tmp_path, 4)
    copies = {}
    both = [threading.Thread(target=lambda r=r, n=n: copies.update({n: r._copy(f"{DB}_rehearsal_{n}")})) for r, n in ((third, 3), (fourth, 4))]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join()
    assert copies == {3: f"{DB} (pg_dump)", 4: f"{DB} (pg_dump)"}, "two rehearsals at once, each its own copy"
    assert "its modules are not production's now" in log_of(third)
    assert psql("SELECT latest_version FROM ir_module_module WHERE name = 'igr_demo_c'", f"{DB}_rehearsal_3") == "18.0.1.0.1"

    assert not psql(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{DB}'"), "production carries no stamp"
    assert databases() == sorted([DB, f"{DB}_bk_7", *(f"{DB}_rehearsal_{n}" for n in (1, 2, 3, 4))]), "no other copy kept"
    assert not os.path.exists(tmp_path / "3" / "production.dump"), "the dump is removed once restored"
