"""Deploys to a real target: a second Odoo 18 database, served by its own odoo-bin on another
loopback port, running this addon. Five small modules; only what changed is upgraded; a failing
migration restores code and database; a path-traversal package is refused."""

import hashlib
import os
import zipfile

import pytest

from devstack.odoo_server import PORT, Api, databases, drop_database
from devstack.odoo_target import MODULES, package
from influencegen_release.engine.delivery.odoo.target import OdooTarget, TargetError, deploy_package

from .repos import target_fixture

TARGET_PORT = PORT + 20
TARGET_DB = f"igr_target_{os.getpid()}"


target = target_fixture("deploy-target", TARGET_PORT, TARGET_DB)


def admin_api():
    return Api(port=TARGET_PORT, db=TARGET_DB)


def module_versions(api):
    rows = api("ir.module.module", "search_read", [("name", "in", MODULES)], ["name", "state", "latest_version"])
    return {row["name"]: (row["state"], row["latest_version"]) for row in rows}


def test_deploy_upgrade_only_what_changed_refuse_bad_packages_and_restore_a_failed_migration(target, workdir):
    client = OdooTarget(target.url, TARGET_DB, "deployer", target.key)
    api = admin_api()

    # First deploy: all five modules are installed.
    v1_zip, v1 = package(workdir, "1.0.0", {})
    first = deploy_package(client, v1_zip, v1["sha256"], v1["manifest"])
    assert first.plan["install"] == MODULES and not first.plan["upgrade"]
    assert module_versions(api) == dict.fromkeys(MODULES, ("installed", "18.0.1.0.0"))
    # The backup is a copy of the database on its server, taken while the upgrade waited.
    assert first.backup_path == f"database:{TARGET_DB}_bk_{first.receipt}"
    assert databases(f"{TARGET_DB}_bk_{first.receipt}")
    assert first.downtime_s > 0, "the target restarted: it was unavailable for a moment"

    # Second: only c changed; only c is upgraded, the others are untouched on the target.
    v2_zip, v2 = package(workdir, "1.0.1", {"igr_demo_c": "18.0.1.0.1"}, extra={"igr_demo_c": "colour"})
    before = {r["name"]: r["write_date"] for r in api("ir.module.module", "search_read", [("name", "in", MODULES)], ["name", "write_date"])}
    second = deploy_package(client, v2_zip, v2["sha256"], v2["manifest"])
    assert (second.plan["upgrade"], second.plan["install"]) == (["igr_demo_c"], [])
    assert second.plan["unchanged"] == [m for m in MODULES if m != "igr_demo_c"]
    versions = module_versions(api)
    assert versions["igr_demo_c"] == ("installed", "18.0.1.0.1")
    assert all(versions[m] == ("installed", "18.0.1.0.0") for m in MODULES if m != "igr_demo_c")
    after = {r["name"]: r["write_date"] for r in api("ir.module.module", "search_read", [("name", "in", MODULES)], ["name", "write_date"])}
    assert [m for m in MODULES if after[m] != before[m]] == ["igr_demo_c"]
    assert "colour" in api("ir.model.fields", "search_read", [("model", "=", "igr.demo.c")], ["name"]).__repr__()
    with open(os.path.join(target.managed, "deploys", str(second.receipt), "agent.log"), encoding="utf-8") as handle:
        agent_log = handle.read()
    assert "-u igr_demo_c" in agent_log and "-i " not in agent_log

    # A package with a path that leaves the folder is refused before anything happens.
    evil = os.path.join(workdir, "evil.zip")
    with zipfile.ZipFile(v2_zip) as good, zipfile.ZipFile(evil, "w") as archive:
        for member in good.infolist():
            archive.writestr(member, good.read(member))
        archive.writestr("../evil.py", "print('owned')\n")
    with open(evil, "rb") as handle:
        sha = hashlib.sha256(handle.read()).hexdigest()
    with pytest.raises(TargetError, match=r"\.\./evil\.py"):
        client.plan(evil, sha)
    # A plan the approvers did not see is refused.
    with pytest.raises(TargetError, match="plan changed since it was approved"):
        deploy_package(client, v2_zip, v2["sha256"], v2["manifest"], approved_digest="0" * 64)

    # Third: c upgrades fine, d's migration fails: code and database come back to 1.0.1.
    current_before = os.path.realpath(os.path.join(target.managed, "current"))
    v3_zip, v3 = package(
        workdir,
        "1.0.2",
        {"igr_demo_c": "18.0.1.0.2", "igr_demo_d": "18.0.1.0.2"},
        extra={"igr_demo_c": "size"},
        failing={"igr_demo_d": "migration boom"},
    )
    with pytest.raises(TargetError, match="upgrade failed and code and database were restored.*migration boom"):
        deploy_package(client, v3_zip, v3["sha256"], v3["manifest"])
    api = admin_api()
    versions = module_versions(api)
    assert versions["igr_demo_c"] == ("installed", "18.0.1.0.1"), "c's upgrade was rolled back with the database"
    assert versions["igr_demo_d"] == ("installed", "18.0.1.0.0")
    assert os.path.realpath(os.path.join(target.managed, "current")) == current_before
    [receipt] = api("release.target.receipt", "search_read", [("version", "=", "1.0.2")], ["state", "failed_database", "error"])
    assert receipt["state"] == "restored" and receipt["failed_database"].startswith(f"{TARGET_DB}_failed_")
    assert databases(receipt["failed_database"]), "the failed database is kept, never dropped"
    drop_database(receipt["failed_database"])
