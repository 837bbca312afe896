"""``igr target init`` on the real Odoo 18 and PostgreSQL of this machine: each missing
precondition stops it with a message that names it and changes nothing; a fresh database then
becomes a target that a deployer reaches with the key it wrote (never printed); a second run
changes nothing and says so."""

import os
import stat

import pytest

from devstack.odoo_server import PORT, Api, databases
from devstack.odoo_target import Target, package
from influencegen_release.engine.delivery.odoo.target import OdooTarget

TARGET_PORT = PORT + 30
TARGET_DB = f"igr_init_{os.getpid()}"


@pytest.fixture(scope="module")
def target(workdir):
    target = Target(os.path.join(workdir, "init-target"), TARGET_PORT, TARGET_DB)
    target.create()  # an empty PostgreSQL database, as `createdb` leaves it
    yield target
    target.stop()


@pytest.fixture(scope="module")
def release(target):
    return package(target.folder, "0.0.0-first", {})[0]


def untouched(target):
    return not os.path.exists(target.managed) and not os.path.exists(target.key_file)


def test_each_missing_precondition_is_named_and_changes_nothing(target, release, workdir):
    fake_odoo = os.path.join(workdir, "odoo17")
    os.makedirs(fake_odoo, exist_ok=True)
    with open(os.path.join(fake_odoo, "odoo-bin"), "w", encoding="utf-8") as handle:
        handle.write('print("Odoo Server 17.0-20240101")\n')
    wrong = target.init(release, check=False, **{"odoo-src": fake_odoo})
    assert wrong.returncode == 2, wrong.stderr
    assert "is version 17.0-20240101; a deploy target needs Odoo 18.0" in wrong.stderr

    absent = target.init(release, check=False, database=f"{TARGET_DB}_absent")
    assert absent.returncode == 2
    assert f"database {TARGET_DB}_absent does not exist on PostgreSQL" in absent.stderr

    # The Odoo server runs as another user (nobody) who may not write the data folder.
    readonly = target.init(release, check=False, **{"server-user": "nobody"})
    assert readonly.returncode == 2
    assert "no write access to the data folder" in readonly.stderr and "writable by nobody" in readonly.stderr

    no_release = target.init(None, check=False)
    assert no_release.returncode == 2 and "has no release yet: give the first one with --release" in no_release.stderr
    assert untouched(target)
    assert not databases(f"{TARGET_DB}_absent")


def test_a_fresh_database_becomes_a_target_and_a_second_run_changes_nothing(target, release):
    first = target.init(release)
    assert f"Target {TARGET_DB} prepared:" in first.stdout
    for change in ("managed folder laid out", "influencegen_release installed", "deploy user created: deployer", "API key written to"):
        assert change in first.stdout, first.stdout
    for setting in (f"URL                    {target.url}", f"Database               {TARGET_DB}",
                    "Deployer login         deployer", f"Credentials reference  file:{target.key_file}",
                    f"addons_path = {target.addons}"):
        assert setting in first.stdout
    assert stat.S_IMODE(os.stat(target.key_file).st_mode) == 0o600
    with open(target.key_file, encoding="utf-8") as handle:
        key = handle.read().strip()
    assert len(key) == 40 and key not in first.stdout + first.stderr, "the key is never printed"

    # The server started on the printed addons path serves the deployer with that key.
    target.serve()
    state = OdooTarget(target.url, TARGET_DB, "deployer", key).state()
    assert state["managed_in_addons_path"] and os.path.realpath(target.managed + "/current") == state["current_release"]
    assert sorted(state["modules"]) == [f"igr_demo_{c}" for c in "abcde"]  # the first release, not installed yet
    [user] = Api(port=TARGET_PORT, db=TARGET_DB)("res.users", "search_read", [("login", "=", "deployer")], ["api_key_ids"])
    assert len(user["api_key_ids"]) == 1

    mtime = os.stat(target.key_file).st_mtime_ns
    again = target.init(release)
    assert f"Target {TARGET_DB} is already a deploy target: nothing to change." in again.stdout
    assert os.stat(target.key_file).st_mtime_ns == mtime
    [user] = Api(port=TARGET_PORT, db=TARGET_DB)("res.users", "search_read", [("login", "=", "deployer")], ["api_key_ids"])
    assert len(user["api_key_ids"]) == 1
