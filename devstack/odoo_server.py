"""A real Odoo 18 server for the integration tests, the benchmark and the demo.

``create_database`` installs the addon once; ``Server`` runs ``odoo-bin`` on a loopback port
and can be killed like a crash; ``Api`` talks XML-RPC to it. ``IGR_IT_PORT`` and ``IGR_IT_DB``
choose the port and database (scripts/demo and scripts/bench set their own).
"""

import os
import signal
import subprocess
import time
import xmlrpc.client

from . import ROOT

ODOO_SRC = os.environ.get("ODOO_SRC", "/opt/odoo18")
PYTHON = os.environ.get("IGR_PYTHON", "/usr/bin/python3")
PORT = int(os.environ.get("IGR_IT_PORT", "8269"))
DB = os.environ.get("IGR_IT_DB", f"igr_it_{os.getpid()}")
ADDONS = f"{ODOO_SRC}/odoo/addons,{ODOO_SRC}/addons,{ROOT}/addons"
DB_USER = os.environ.get("IGR_DB_USER", "odoo")
# PostgreSQL's clients never prompt here (-w): without scripts/lib.sh's PGPASSWORD they would
# wait on the terminal for a password forever.
os.environ.setdefault("PGPASSWORD", os.environ.get("IGR_DB_PASSWORD", "odoo"))


def odoo_cmd(*args, db=DB, addons=ADDONS):
    return [PYTHON, f"{ODOO_SRC}/odoo-bin", "-c", f"{ROOT}/odoo.conf", f"--addons-path={addons}", "-d", db, *args]


class Server:
    """``odoo-bin`` serving one database; several can run side by side (control plane, targets)."""

    def __init__(self, logdir, port=PORT, db=DB, addons=ADDONS, env=None, name="odoo"):
        self.logdir = logdir
        self.port, self.db, self.addons, self.env, self.name = port, db, addons, env, name
        self.process = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.logdir, f"{self.name}-{self.starts}.log"), "w")  # noqa: SIM115 - kept by the process
        self.process = subprocess.Popen(
            odoo_cmd(
                f"--http-port={self.port}",
                f"--gevent-port={self.port + 3}",
                "--max-cron-threads=1",
                f"--db-filter=^{self.db}$",
                db=self.db,
                addons=self.addons,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Odoo re-executes itself by name on restart (SIGHUP): ``python3`` on PATH must be
            # the interpreter that has Odoo's packages.
            env=dict(os.environ, PATH=f"{os.path.dirname(PYTHON)}:{os.environ.get('PATH', '')}", **(self.env or {})),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self.port}/xmlrpc/2/common").version()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("Odoo did not start; see " + log.name)

    def kill(self):
        """SIGKILL the whole server: no cleanup, exactly like a crash."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)


class Api:
    def __init__(self, login="admin", password="admin", port=PORT, db=DB):
        common = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/xmlrpc/2/common")
        self.db = db
        self.uid = common.authenticate(db, login, password, {})
        self.password = password
        self.models = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/xmlrpc/2/object", allow_none=True)

    def __call__(self, model, method, *args, **kwargs):
        return self.models.execute_kw(self.db, self.uid, self.password, model, method, list(args), kwargs)

    def wait_run(self, run_id, states=("succeeded", "failed", "cancelled"), timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self("release.run", "api_status", run_id)
            if status["state"] in states:
                return status
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} still {status['state']} after {timeout} s: {status}")


def create_database(db=DB, addons=ADDONS):
    subprocess.run(["dropdb", "-w", "-h", "127.0.0.1", "-U", DB_USER, "--if-exists", db], check=True, stdin=subprocess.DEVNULL)
    subprocess.run(
        odoo_cmd("-i", "influencegen_release", "--without-demo=all", "--stop-after-init", "--log-level=warn", db=db, addons=addons),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )


def drop_database(db=DB):
    subprocess.run(["dropdb", "-w", "-h", "127.0.0.1", "-U", DB_USER, "--if-exists", db], stdin=subprocess.DEVNULL)


def databases(prefix):
    """The databases whose name starts with ``prefix``: what deploys leave beside a target
    (``<db>_failed_<time>`` kept after a restore, ``<db>_restore_*``)."""
    result = subprocess.run(
        ["psql", "-w", "-h", "127.0.0.1", "-U", DB_USER, "-d", "postgres", "-tAc", "SELECT datname FROM pg_database"],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )
    return [name for name in result.stdout.split() if name.startswith(prefix)]
