"""Deploys to a real target: a second Odoo 18 database, served by its own odoo-bin on another
loopback port, running this addon. Five small modules; only what changed is upgraded; a failing
migration restores code and database; a path-traversal package is refused."""

import hashlib
import os
import subprocess
import textwrap
import zipfile

import pytest

from influencegen_release.engine import packaging
from influencegen_release.engine.odoo_target import OdooTarget, TargetError, deploy_package

from .harness import ADDONS, ODOO_SRC, PORT, PYTHON, ROOT, Api, Server, create_database, drop_database

TARGET_PORT = PORT + 20
TARGET_DB = f"igr_target_{os.getpid()}"
MODULES = [f"igr_demo_{letter}" for letter in "abcde"]


def write_module(addons, name, version, extra_field=None, failing_migration=None):
    folder = os.path.join(addons, name)
    os.makedirs(os.path.join(folder, "models"), exist_ok=True)
    model = name.replace("_", ".")
    fields = "    name = fields.Char()\n" + (f"    {extra_field} = fields.Char()\n" if extra_field else "")
    files = {
        "__manifest__.py": f'{{"name": "{name}", "version": "{version}", "depends": ["base"], "license": "LGPL-3"}}\n',
        "__init__.py": "from . import models\n",
        "models/__init__.py": "from . import thing\n",
        "models/thing.py": f'from odoo import fields, models\n\n\nclass Thing(models.Model):\n    _name = "{model}"\n    _description = "{name}"\n\n{fields}',
    }
    if failing_migration:
        files[f"migrations/{version}/pre-migrate.py"] = (
            f'def migrate(cr, version):\n    raise Exception("{failing_migration}")\n'
        )
    for path, text in files.items():
        full = os.path.join(folder, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as handle:
            handle.write(text)


def package(workdir, label, versions, extra=None, failing=None):
    """Write the five modules at ``versions`` and package them like artifact.package does."""
    addons = os.path.join(workdir, "src", label)
    for name in MODULES:
        write_module(addons, name, versions.get(name, "18.0.1.0.0"), (extra or {}).get(name), (failing or {}).get(name))
    path = os.path.join(workdir, f"{label}.zip")
    built = packaging.build_package(addons, MODULES, label, "0" * 40, path)
    return path, built


def odoo_shell(db, addons, code):
    result = subprocess.run(
        [PYTHON, f"{ODOO_SRC}/odoo-bin", "shell", "-c", f"{ROOT}/odoo.conf", f"--addons-path={addons}", "-d", db, "--no-http"],
        input=code,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def target(workdir):
    """The target database with its managed addons folder, and the deployer's API key."""
    data_dir = os.path.join(workdir, "target-data")
    managed = os.path.join(data_dir, "managed", TARGET_DB)
    # The addons path must hold a module when the server starts: the first release bootstraps it.
    bootstrap_zip, _ = package(workdir, "0.0.0-bootstrap", {})
    packaging.safe_extract(bootstrap_zip, os.path.join(managed, "releases", "bootstrap"))
    os.symlink(os.path.join(managed, "releases", "bootstrap"), os.path.join(managed, "current"))
    addons = f"{ADDONS},{managed}/current"
    env = {"IGR_DATA_DIR": data_dir}
    create_database(TARGET_DB, addons)
    key = odoo_shell(
        TARGET_DB,
        addons,
        textwrap.dedent(
            """\
            import datetime
            from odoo import fields
            user = env["res.users"].create({"name": "Deployer", "login": "deployer", "email": "deployer@example.org",
                "groups_id": [(6, 0, [env.ref("base.group_user").id, env.ref("influencegen_release.group_release_deploy_target").id])]})
            expires = fields.Datetime.now() + datetime.timedelta(days=30)
            key = env["res.users.apikeys"].with_user(user).sudo()._generate("rpc", "deploys from the control plane", expires)
            env.cr.commit()
            print(key)
            """
        ),
    )
    server = Server(workdir, port=TARGET_PORT, db=TARGET_DB, addons=addons, env=env, name="target")
    server.start()
    yield {"url": f"http://127.0.0.1:{TARGET_PORT}", "key": key, "managed": managed, "server": server}
    server.stop()
    drop_database(TARGET_DB)


def admin_api():
    return Api(port=TARGET_PORT, db=TARGET_DB)


def module_versions(api):
    rows = api("ir.module.module", "search_read", [("name", "in", MODULES)], ["name", "state", "latest_version"])
    return {row["name"]: (row["state"], row["latest_version"]) for row in rows}


def test_deploy_upgrade_only_what_changed_refuse_bad_packages_and_restore_a_failed_migration(target, workdir):
    client = OdooTarget(target["url"], TARGET_DB, "deployer", target["key"])
    api = admin_api()

    # First deploy: all five modules are installed.
    v1_zip, v1 = package(workdir, "1.0.0", {})
    first = deploy_package(client, v1_zip, v1["sha256"], v1["manifest"])
    assert first.plan["install"] == MODULES and not first.plan["upgrade"]
    assert module_versions(api) == dict.fromkeys(MODULES, ("installed", "18.0.1.0.0"))
    assert os.path.exists(first.backup_path)

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
    with open(os.path.join(target["managed"], "deploys", str(second.receipt), "agent.log"), encoding="utf-8") as handle:
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
    current_before = os.path.realpath(os.path.join(target["managed"], "current"))
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
    assert os.path.realpath(os.path.join(target["managed"], "current")) == current_before
    [receipt] = api("release.target.receipt", "search_read", [("version", "=", "1.0.2")], ["state", "failed_database", "error"])
    assert receipt["state"] == "restored" and receipt["failed_database"].startswith(f"{TARGET_DB}_failed_")
    databases = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "odoo", "-d", "postgres", "-tAc", "SELECT datname FROM pg_database"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert receipt["failed_database"] in databases, "the failed database is kept, never dropped"
    drop_database(receipt["failed_database"])
