"""Fixtures: a real Odoo 18 server with the addon and its cron worker, a Git repository that
carries its own pipeline file, and a second Docker engine standing in for a second runner host.
"""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from devstack.demo.stack import DemoFailure, ci_database_password
from devstack.odoo_server import PORT, Api, Server, create_database, drop_database
from devstack.odoo_target import Target
from devstack.repository import commit_pipeline, init_repository

SECOND_ENGINE = "/var/run/igr-docker2.sock"


@pytest.fixture(scope="session")
def workdir():
    path = tempfile.mkdtemp(prefix="igr-it-")
    yield path
    if not os.environ.get("IGR_IT_KEEP"):  # keep logs and folders for a post-mortem
        shutil.rmtree(path, ignore_errors=True)


def ci_database_env():
    """PL-ODOO-MOD's Odoo tests log in to PostgreSQL as igr_ci (made by scripts/setup), whose
    password reaches the task as its declared secret IGR_TEST_DB_PASSWORD (without it, the
    task fails saying that the secret is unset)."""
    try:
        return {"IGR_TEST_DB_PASSWORD": ci_database_password()}
    except DemoFailure:
        return {}


@pytest.fixture(scope="session")
def server(workdir):
    create_database()
    server = Server(workdir, env=ci_database_env())
    server.start()
    Api()("ir.config_parameter", "set_param", "influencegen_release.data_dir", os.path.join(workdir, "data"))
    yield server
    server.stop()
    drop_database()


@pytest.fixture(scope="session")
def origin(workdir):
    repo = init_repository(os.path.join(workdir, "origin"))
    commit_pipeline(repo, "echo start; sleep 1; echo end")
    return repo


@pytest.fixture(scope="session")
def repository(server, origin):
    api = Api()
    repo_id = api("release.repository", "create", {"name": "it-repo", "url": origin.working_tree_dir})
    api("release.repository", "action_load_pipeline_file", [repo_id])
    return repo_id


@pytest.fixture(scope="session")
def odoo_target(workdir):
    """One Odoo target (``igr target init`` on a fresh database, its own server) shared by the
    delivery and rehearsal tests: preparing one costs a module install and a server start."""
    target = Target(os.path.join(workdir, "odoo-target"), PORT + 35, f"igr_it_target_{os.getpid()}")
    target.start()
    yield target
    target.stop()


@pytest.fixture(scope="session")
def pipeline_repository(server, workdir):
    """``make(name, pipeline, key_param, target)``: a Git repository carrying ``pipeline`` (with
    the target's port and database) as its pipeline file, registered on the control plane, and
    the target's API key in the parameter its environments name: ``(origin, repository id)``."""
    return lambda *args: _pipeline_repository(workdir, *args)


def _pipeline_repository(workdir, name, pipeline, key_param, target):
    origin = init_repository(os.path.join(workdir, f"{name}-origin"))
    path = os.path.join(origin.working_tree_dir, ".influencegen", "pipeline.yml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(pipeline % {"port": target.port, "db": target.db})
    api = Api()
    api("ir.config_parameter", "set_param", key_param, target.key)
    return origin, api("release.repository", "create", {"name": name, "url": origin.working_tree_dir})


TLS_PORT = 23761


def make_certificates(folder):
    """A CA, a server certificate for 127.0.0.1 and a client certificate (docker's TLS setup)."""
    os.makedirs(folder, exist_ok=True)

    def ssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=igr-test-ca")
    with open(os.path.join(folder, "server.ext"), "w", encoding="utf-8") as handle:
        handle.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    with open(os.path.join(folder, "client.ext"), "w", encoding="utf-8") as handle:
        handle.write("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return {"ca": f"{folder}/ca.pem", "cert": f"{folder}/client.pem", "key": f"{folder}/client-key.pem"}


@pytest.fixture(scope="session")
def second_engine(workdir):
    """A second Docker engine on this machine (its own data and exec roots), listening on a
    unix socket and on tcp://127.0.0.1 with mutual TLS, standing in for a remote runner host.

    It runs in a mount namespace of its own where the control plane's data folder (the
    integration server's, and this machine's Docker volumes, where a control plane in a
    container keeps it) is an empty tmpfs: a job there gets its files through the Docker API
    or not at all. Mounts of the host still reach it (slave propagation), none of its own
    leave it."""
    tls = make_certificates(os.path.join(workdir, "tls"))
    hidden = os.path.join(workdir, "data")
    os.makedirs(hidden, exist_ok=True)
    log = open(os.path.join(workdir, "dockerd2.log"), "w")  # noqa: SIM115 - kept by the process
    hide = 'for p in "$1" /var/lib/docker; do mount -t tmpfs -o size=1m,mode=0755 igr-hidden "$p" || exit 1; done; shift; exec "$@"'
    process = subprocess.Popen(
        [
            "unshare", "--mount", "--propagation", "slave", "sh", "-c", hide, "sh", hidden,
            "dockerd",
            "--data-root=/var/lib/igr-docker2",
            "--exec-root=/var/run/igr-docker2",
            f"--host=unix://{SECOND_ENGINE}",
            "--pidfile=/var/run/igr-docker2.pid",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            f"--host=tcp://127.0.0.1:{TLS_PORT}",
            "--tlsverify",
            f"--tlscacert={tls['ca']}",
            f"--tlscert={os.path.dirname(tls['ca'])}/server.pem",
            f"--tlskey={os.path.dirname(tls['ca'])}/server-key.pem",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    docker2 = ["docker", "-H", f"unix://{SECOND_ENGINE}"]
    deadline = time.monotonic() + 30
    while subprocess.run([*docker2, "info"], capture_output=True).returncode:
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"second dockerd did not start: see {log.name}")
        time.sleep(0.5)
    load_image(docker2, os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm"))
    yield {"unix": f"unix://{SECOND_ENGINE}", "tcp": f"tcp://127.0.0.1:{TLS_PORT}", "tls": tls, "docker": docker2, "hidden": hidden}
    process.terminate()
    process.wait(30)


def load_image(docker2, image):
    """Copy ``image`` from this machine's engine to the second one, once (its data root stays)."""
    if subprocess.run([*docker2, "image", "inspect", image], capture_output=True).returncode:
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        subprocess.run([*docker2, "load"], stdin=save.stdout, check=True, capture_output=True)
        save.wait()
