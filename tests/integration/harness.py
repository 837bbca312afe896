"""A real Odoo 18 server for the integration tests and the benchmark.

``create_database`` installs the addon once; ``Server`` runs ``odoo-bin`` on a loopback port
and can be killed like a crash; ``Api`` talks XML-RPC to it.
"""

import os
import signal
import subprocess
import time
import uuid
import xmlrpc.client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ODOO_SRC = os.environ.get("ODOO_SRC", "/opt/odoo18")
PYTHON = os.environ.get("IGR_PYTHON", "/usr/bin/python3")
PORT = int(os.environ.get("IGR_IT_PORT", "8269"))
DB = os.environ.get("IGR_IT_DB", f"igr_it_{os.getpid()}")
ADDONS = f"{ODOO_SRC}/odoo/addons,{ODOO_SRC}/addons,{ROOT}/addons"
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
    user = os.environ.get("IGR_DB_USER", "odoo")
    subprocess.run(["dropdb", "-w", "-h", "127.0.0.1", "-U", user, "--if-exists", db], check=True, stdin=subprocess.DEVNULL)
    subprocess.run(
        odoo_cmd("-i", "influencegen_release", "--without-demo=all", "--stop-after-init", "--log-level=warn", db=db, addons=addons),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )


def drop_database(db=DB):
    user = os.environ.get("IGR_DB_USER", "odoo")
    subprocess.run(["dropdb", "-w", "-h", "127.0.0.1", "-U", user, "--if-exists", db], stdin=subprocess.DEVNULL)


def init_repository(path):
    import git

    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    os.makedirs(os.path.join(repo.working_tree_dir, ".influencegen"))
    return repo


def commit_pipeline(repo, command, jobs=1, image=None):
    image = image or os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm")
    tasks = "".join(
        f"        - {{name: Work {i}, key: work{i}, run: '{command}'}}\n" for i in range(1, jobs + 1)
    )
    text = (
        "version: 1\npipeline:\n  code: PL-IT\n  name: Integration\n  kind: odoo\n"
        "  triggers:\n    - {event: push, branches: ['main']}\n"
        f"  defaults: {{image: {image}, timeout: 120, memory: 128m, cpus: 0.5}}\n"
        f"  stages:\n    - name: Work\n      tasks:\n{tasks}"
    )
    return commit_pipeline_text(repo, text, f"pipeline: {command} x{jobs}")


def commit_pipeline_text(repo, text, message, marker=None):
    """Commit ``text`` as the repository's pipeline file, with a marker file so that every
    call makes a new commit (and so a new run)."""
    path = os.path.join(repo.working_tree_dir, ".influencegen", "pipeline.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    marker_path = os.path.join(repo.working_tree_dir, "marker.txt")
    with open(marker_path, "w", encoding="utf-8") as handle:
        handle.write(marker or uuid.uuid4().hex)
    repo.index.add([path, marker_path])
    return repo.index.commit(message).hexsha


def gated_pipeline(code, name, rule):
    """A build stage, then a manual production stage decided by ``rule`` (a Go/No-Go)."""
    image = os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm")
    return f"""\
version: 1
pipeline:
  code: {code}
  name: {name}
  kind: odoo
  triggers:
    - {{event: push, branches: ['main']}}
  defaults: {{image: {image}, timeout: 60, memory: 128m, cpus: 0.5}}
  stages:
    - name: Build
      tasks:
        - {{name: Build, key: build, run: 'echo built'}}
    - name: Production
      key: prod
      trigger: manual
      tasks:
        - {{name: Deploy, key: deploy, run: 'echo deployed'}}
      approval:
        rules: [{rule}]
      gates: [{{name: Go/No-Go, type: manual}}]
"""


