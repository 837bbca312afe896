"""No folder shared between the control plane and its runner hosts (issue 15.3): sources go
into a job and reports come back through the Docker API only.

- A second Docker engine whose mount namespace hides the control plane's data folder runs the
  seed PL-ODOO-MOD's lint and SAST tasks, as written, and their reports become findings.
- A warm container on that engine, reached over mutual TLS, takes its job's files on stdin.
- The control plane in a container, laid out as docker-compose.yml does (data folder in a named
  volume, the Docker socket mounted, host network to reach PostgreSQL), runs a job that sees
  its sources and hands back a declared artifact.

Both use one repository served by ``git daemon`` (a URL the containerised control plane
reaches as well as the host does).
"""

import io
import os
import subprocess
import time

import pytest
import yaml

from devstack.odoo_server import DB, DB_USER, PORT, Api
from devstack.repository import commit_pipeline_text, init_repository, pipeline_text
from influencegen_release.engine.execution import job_files, warm
from influencegen_release.engine.execution.docker_runner import ContainerSpec, DockerRunner, LogCursor

from .conftest import load_image

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = os.path.join(ROOT, "addons", "influencegen_release", "data", "pipelines", "pl-odoo-mod.yml")
GIT_PORT = PORT + 7
CONTROL_PLANE_IMAGE = os.environ.get("IGR_ODOO_IMAGE", "influencegen/runner-odoo:18.0")
VULNERABLE = "import subprocess\n\n\ndef run(command):\n    return subprocess.call(command, shell=True)\n"


@pytest.fixture(scope="module")
def hosts_repo(server, workdir):
    """A repository with one Odoo module (at the OCA-style ``addons/`` path), served over git://."""
    repo = init_repository(os.path.join(workdir, "hosts.git-src"))
    module = os.path.join(repo.working_tree_dir, "addons", "demo_module")
    os.makedirs(module)
    for name, text in {"__init__.py": "from . import tools\n", "__manifest__.py": "{'name': 'Demo', 'version': '18.0.1.0.0'}\n", "tools.py": VULNERABLE}.items():
        with open(os.path.join(module, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    repo.index.add([os.path.join(module, n) for n in os.listdir(module)])
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={workdir}", "--listen=127.0.0.1", f"--port={GIT_PORT}", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"git://127.0.0.1:{GIT_PORT}/hosts.git-src"
    deadline = time.monotonic() + 10
    while subprocess.run(["git", "ls-remote", url], capture_output=True).returncode:
        if time.monotonic() > deadline:
            raise RuntimeError("git daemon did not start")
        time.sleep(0.2)
    repo_id = Api()("release.repository", "create", {"name": "it-hosts", "url": url})
    yield repo, repo_id
    daemon.terminate()
    daemon.wait(10)


def run_pipeline(api, repo, repo_id, text, timeout=150):
    sha = commit_pipeline_text(repo, text, "pipeline")
    api("release.repository", "action_load_pipeline_file", [repo_id])
    [summary] = api("release.run", "api_trigger", {"repository": "it-hosts", "ref": "refs/heads/main", "after": sha, "pusher": "dev"})["runs"]
    return summary["id"], api.wait_run(summary["id"], timeout=timeout)


def seed_tasks(*keys):
    """The seed's tasks, as written in its file, and its defaults."""
    with open(SEED, encoding="utf-8") as handle:
        pipeline = yaml.safe_load(handle)["pipeline"]
    tasks = {t.get("key"): t for stage in pipeline["stages"] for t in stage["tasks"]}
    return [tasks[key] for key in keys], pipeline["defaults"]


def test_an_engine_without_the_data_folder_runs_the_seed_lint_and_sast(server, hosts_repo, second_engine):
    repo, repo_id = hosts_repo
    api = Api()
    # The engine really cannot see the control plane's data folder.
    with open(os.path.join(second_engine["hidden"], "marker"), "w", encoding="utf-8") as handle:
        handle.write("visible?")
    probe = subprocess.run(
        [*second_engine["docker"], "run", "--rm", "--network=none", "-v", f"{second_engine['hidden']}:/probe:ro",
         "influencegen/runner-base:bookworm", "ls", "-A", "/probe"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout == "", probe.stdout
    tasks, defaults = seed_tasks("python_lint", "sast")
    load_image(second_engine["docker"], defaults["image"])
    text = yaml.safe_dump(
        {
            "version": 1,
            "pipeline": {
                "code": "PL-IT-HOSTS", "name": "Runner hosts", "kind": "odoo",
                "triggers": [{"event": "push", "branches": ["main"]}],
                "defaults": defaults,
                "stages": [{"name": "Quality", "key": "quality", "tasks": tasks}],
            },
        },
        sort_keys=False,
    )  # fmt: skip
    local = api("release.runner", "search", [("active", "=", True)])
    second = api("release.runner", "create", {"name": "Engine without the data folder", "docker_url": second_engine["unix"], "capacity": 2})
    api("release.runner", "write", local, {"active": False})
    try:
        run_id, status = run_pipeline(api, repo, repo_id, text)
    finally:
        api("release.runner", "write", local, {"active": True})
        api("release.runner", "write", [second], {"active": False})
    assert status["state"] == "succeeded", status
    jobs = api("release.job", "search_read", [("run_id", "=", run_id)], fields=["runner_id", "report_problems", "task_key"])
    assert {job["runner_id"][0] for job in jobs} == {second}
    assert [job["report_problems"] for job in jobs] == [False, False], jobs
    findings = api("release.finding", "search_read", [("run_id", "=", run_id)], fields=["tool", "rule", "file"])
    assert any(f["tool"] == "bandit" and f["rule"] == "B602" and f["file"].endswith("demo_module/tools.py") for f in findings), findings
    assert {f["tool"] for f in findings} >= {"bandit", "pylint"}, findings


def psql(sql):
    subprocess.run(["psql", "-w", "-h", "127.0.0.1", "-U", DB_USER, "-d", DB, "-qtAc", sql], check=True, capture_output=True)


def test_the_control_plane_in_a_container_runs_a_job_that_sees_its_sources(server, hosts_repo):
    repo, repo_id = hosts_repo
    if subprocess.run(["docker", "image", "inspect", CONTROL_PLANE_IMAGE], capture_output=True).returncode:
        pytest.fail(f"{CONTROL_PLANE_IMAGE} is missing: run scripts/build-images")
    name, volume = f"igr-it-control-plane-{DB}", f"igr-it-release-data-{DB}"
    # As docker-compose.yml: the data folder is the default one, in a named volume.
    psql("DELETE FROM ir_config_parameter WHERE key = 'influencegen_release.data_dir'")
    server.stop()
    command = [
        "docker", "run", "-d", "--name", name, "--network", "host", "--user", "0",
        "-e", f"PGPASSWORD={os.environ['PGPASSWORD']}",
        "-v", f"{volume}:/var/lib/influencegen-release",
        "-v", "/var/run/docker.sock:/var/run/docker.sock",
        "-v", f"{ROOT}/addons:/mnt/extra-addons:ro",
        CONTROL_PLANE_IMAGE, "odoo-bin",
        "--addons-path=/opt/odoo/odoo/addons,/opt/odoo/addons,/mnt/extra-addons",
        "-d", DB, f"--db-filter=^{DB}$", "--db_host=127.0.0.1", f"--db_user={DB_USER}",
        "--http-interface=127.0.0.1", f"--http-port={PORT}", f"--gevent-port={PORT + 3}",
        "--max-cron-threads=1", "--data-dir=/var/lib/odoo",
    ]  # fmt: skip
    started = time.monotonic()
    try:
        subprocess.run(command, check=True, capture_output=True)
        api = wait_for_api(name)
        text = pipeline_text(
            "PL-IT-HOSTS", "Runner hosts", """\
  stages:
    - name: Work
      tasks:
        - name: Read sources
          key: read
          run: cat /src/marker.txt; echo; grep -c shell=True /src/addons/demo_module/tools.py > found.txt
          artifacts: [found.txt]
""")  # fmt: skip
        run_id, status = run_pipeline(api, repo, repo_id, text, timeout=90)
        assert status["state"] == "succeeded", status
        [job] = api("release.job", "search_read", [("run_id", "=", run_id)], fields=["log_tail", "artifact_ids"])
        marker = repo.git.show("HEAD:marker.txt")
        assert job["log_tail"].splitlines()[0] == marker, job["log_tail"]
        [artifact] = api("release.artifact", "read", job["artifact_ids"], ["name", "size"])
        assert (artifact["name"], artifact["size"]) == ("found.txt", 2)
        mirrors = subprocess.run(
            ["docker", "exec", name, "ls", f"/var/lib/influencegen-release/git-mirrors/{DB}"], capture_output=True, text=True, check=True
        )
        assert mirrors.stdout.strip(), "the mirror lives in the control plane's volume"
        print(f"control plane in a container: {time.monotonic() - started:.1f} s")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)
        server.start()
        Api()("ir.config_parameter", "set_param", "influencegen_release.data_dir", os.path.join(server.logdir, "data"))


def wait_for_api(name, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return Api()
        except OSError:
            state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name], capture_output=True, text=True)
            if state.stdout.strip() != "true":
                logs = subprocess.run(["docker", "logs", "--tail", "30", name], capture_output=True, text=True)
                raise AssertionError(f"the control plane container stopped:\n{logs.stdout}{logs.stderr}") from None
            time.sleep(0.5)
    raise AssertionError(f"the control plane container did not answer within {timeout} s")


def test_a_warm_container_on_a_tls_engine_takes_its_files_on_stdin(second_engine):
    """A warm container's files go through one attach to its stdin: over mutual TLS to a remote
    engine as over the local socket (the half-close ends the stream on either)."""
    runner = DockerRunner(second_engine["tcp"], tls=second_engine["tls"])
    name = f"igr-it-tls-warm-{os.getpid()}"
    spec = ContainerSpec(name=name, image=os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm"),
                         command=warm.WAIT_SCRIPT, labels={"influencegen.db": DB}, memory_mb=128, pids=64, stdin=True)
    container_id = runner.create_container(spec, inputs=(warm.skeleton(job_files.JOB_UID),))
    try:
        runner.start_created(container_id, name, volume=name)
        archive = io.BytesIO()
        job_files.workspace_archive(archive, extra=warm.job_members({"WHO": "tls"}, 'echo "fed over $WHO"', job_files.JOB_UID))
        archive.seek(0)
        runner.feed(container_id, archive)
        state, timed_out = runner.wait_exit(container_id, timeout=30)
        assert not timed_out and state.exit_code == 0, state
        out = []
        runner.copy_logs(container_id, LogCursor(), out.append)
        assert b"".join(out) == b"fed over tls\n"
    finally:
        runner.remove(container_id)
        runner.remove_volume(name)
        runner.close()
