"""A target Odoo database for the deploy tests, the benchmark and the demo: its own odoo-bin
on a loopback port, prepared by ``igr target init`` (this addon installed, a managed addons
folder, a deployer user with an API key in a 0600 file). Also small generated modules,
packaged the way ``artifact.package`` does."""

import os
import shutil
import subprocess
import textwrap

from influencegen_release.engine.delivery.odoo import packaging

from . import ROOT
from .odoo_server import ADDONS, DB_USER, ODOO_SRC, PYTHON, Server, databases, drop_database

MODULES = [f"igr_demo_{letter}" for letter in "abcde"]
IGR = os.path.join(ROOT, "scripts", "igr")


def write_module(addons, name, version, extra_field=None, failing_migration=None):
    folder = os.path.join(addons, name)
    model = name.replace("_", ".")
    fields = "    name = fields.Char()\n" + (f"    {extra_field} = fields.Char()\n" if extra_field else "")
    files = {
        "__manifest__.py": f'{{"name": "{name}", "version": "{version}", "depends": ["base"], "license": "LGPL-3"}}\n',
        "__init__.py": "from . import models\n",
        "models/__init__.py": "from . import thing\n",
        "models/thing.py": f'from odoo import fields, models\n\n\nclass Thing(models.Model):\n    _name = "{model}"\n    _description = "{name}"\n\n{fields}',
    }
    if failing_migration:
        files[f"migrations/{version}/pre-migrate.py"] = f'def migrate(cr, version):\n    raise Exception("{failing_migration}")\n'
    for path, text in files.items():
        full = os.path.join(folder, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as handle:
            handle.write(text)


def write_modules(addons, versions, extra=None, failing=None, modules=MODULES):
    for name in modules:
        write_module(addons, name, versions.get(name, "18.0.1.0.0"), (extra or {}).get(name), (failing or {}).get(name))


def package(workdir, label, versions, extra=None, failing=None, modules=MODULES):
    """Write the modules at ``versions`` and package them; ``(zip path, build result)``."""
    addons = os.path.join(workdir, "src", label)
    shutil.rmtree(addons, ignore_errors=True)
    write_modules(addons, versions, extra, failing, modules)
    path = os.path.join(workdir, f"{label}.zip")
    return path, packaging.build_package(addons, modules, label, "0" * 40, path)


class Target:
    """``base_addons`` plus the managed folder make the addons path. A self-delivery target
    (scripts/demo) gets Odoo's addons only and ``bootstrap``, a package of this addon: what
    the control plane deploys then replaces the very code the target runs."""

    def __init__(self, folder, port, db, base_addons=ADDONS, bootstrap=None):
        self.folder, self.port, self.db = folder, port, db
        self.data_dir = os.path.join(folder, "data")
        self.managed = os.path.join(self.data_dir, "managed", db)
        self.addons = f"{base_addons},{self.managed}/current"
        self.url = f"http://127.0.0.1:{port}"
        self.bootstrap = bootstrap
        self.key = None
        self.server = None

    def start(self, template=None):
        """A new database (empty, or a copy of ``template``) made a target by ``igr target
        init``, as an administrator would, then its server."""
        self.create(template)
        # Odoo refuses an addons path without a module: a first release bootstraps the folder.
        self.init(self.bootstrap or package(self.folder, "0.0.0-bootstrap", {})[0])
        self.serve()

    def create(self, template=None):
        os.makedirs(self.folder, exist_ok=True)
        drop_database(self.db)
        createdb = ["createdb", "-w", "-h", "127.0.0.1", "-U", DB_USER, *(["-T", template] if template else []), self.db]
        subprocess.run(createdb, check=True, stdin=subprocess.DEVNULL)

    def serve(self):
        with open(self.key_file, encoding="utf-8") as handle:
            self.key = handle.read().strip()
        self.server = Server(self.folder, port=self.port, db=self.db, addons=self.addons, name="target")
        self.server.start()

    @property
    def key_file(self):
        return os.path.join(self.folder, "deployer.key")

    def init(self, release=None, check=True, **options):
        """``scripts/igr target init`` for this target; ``options`` override its arguments."""
        args = {"database": self.db, "config": f"{ROOT}/odoo.conf", "odoo-src": ODOO_SRC, "python": PYTHON,
                "addons-path": self.addons.rsplit(",", 1)[0], "data-dir": self.data_dir, "key-file": self.key_file,
                "url": self.url, "release": release, **options}
        cmd = [PYTHON, IGR, "target", "init", *(f"--{key}={value}" for key, value in args.items() if value)]
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
        if check and result.returncode:
            raise RuntimeError(f"igr target init failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def shell(self, code):
        result = subprocess.run(
            [PYTHON, f"{ODOO_SRC}/odoo-bin", "shell", "-c", f"{ROOT}/odoo.conf", f"--addons-path={self.addons}", "-d", self.db, "--no-http"],
            input=textwrap.dedent(code),
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1]

    def stop(self):
        if self.server:
            self.server.stop()
        drop_database(self.db)
        for name in databases(f"{self.db}_"):  # kept after a restore (_failed_), backups (_bk_), restores
            drop_database(name)

    def kept_databases(self):
        """The databases the agent kept aside after a restore (``<db>_failed_<time>``)."""
        return databases(f"{self.db}_failed_")
