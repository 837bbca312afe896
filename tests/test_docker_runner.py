"""The Docker runner against the real engine, with the runner's base image."""

import contextlib
import io
import os
import socket
import tarfile
import threading
import time
import uuid

import pytest

from influencegen_release.engine.execution import job_files
from influencegen_release.engine.execution.docker_runner import ContainerSpec, DockerRunner, LogCursor, RunnerError
from influencegen_release.engine.execution.log_store import LogStore
from influencegen_release.engine.execution.masking import Masker

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.services]
IMAGE = os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm")
DOCKER_URL = os.environ.get("IGR_DOCKER_URL", "unix:///var/run/docker.sock")


@pytest.fixture(scope="module")
def runner():
    runner = DockerRunner(DOCKER_URL)
    runner.ping()
    yield runner
    for container_id in runner.find({"influencegen.db": "pytest"}):
        runner.remove(container_id)
    for volume in runner.volumes({"influencegen.db": "pytest"}):
        runner.remove_volume(volume)
    runner.close()


def source_tar(files):
    """A tar of ``src/`` as ``job_files.source_archive`` writes it (root-owned members)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"src/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def run(runner, _tmp_path, command, wait=True, source=None, trees=(), **overrides):
    """Run ``command`` in a job container whose files come through the Docker API only."""
    name = f"igr-pytest-{uuid.uuid4().hex[:10]}"
    overrides.setdefault("image", IMAGE)
    spec = ContainerSpec(name=name, command=command, labels={"influencegen.db": "pytest", "influencegen.job": name}, **overrides)
    work = io.BytesIO()
    job_files.workspace_archive(work, trees, source=source_tar(source or {"README": b"hello\n"}))  # one tar, as a job's
    work.seek(0)
    container_id = runner.start(spec, [work])
    while wait and runner.state(container_id).running:
        time.sleep(0.1)
    return container_id, name


def logs_of(runner, container_id, tmp_path, masker=None, cursor=None):
    store = LogStore(str(tmp_path / f"log-{container_id[:8]}"))
    runner.copy_logs(container_id, cursor or LogCursor(), store.append, masker)
    return store


def test_success_logs_and_limits(runner, tmp_path):
    command = "id -u; cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max; echo done"
    container_id, _work = run(runner, tmp_path, command, pids=64)
    state = runner.state(container_id)
    assert (state.exit_code, state.oom_killed) == (0, False)
    assert logs_of(runner, container_id, tmp_path).tail(10).splitlines() == ["1000", "64", "done"]


def test_non_zero_exit_code_is_kept(runner, tmp_path):
    container_id, _work = run(runner, tmp_path, "echo failing >&2; exit 3")
    assert runner.state(container_id).exit_code == 3
    assert logs_of(runner, container_id, tmp_path).tail(5) == "failing"


def test_out_of_memory_is_reported(runner, tmp_path):
    container_id, _work = run(runner, tmp_path, "python3 -c \"x = bytearray(400 * 1024 * 1024)\"", memory_mb=64)
    state = runner.state(container_id)
    assert state.oom_killed is True
    assert state.exit_code == 137


def test_no_network_unless_declared(runner, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]

    def accept_until_closed():
        with contextlib.suppress(OSError):  # the test closes the listener when it is done
            while True:
                listener.accept()[0].close()

    threading.Thread(target=accept_until_closed, daemon=True).start()
    probe = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2); print('reached')\""
    closed, _ = run(runner, tmp_path, probe)
    assert runner.state(closed).exit_code != 0
    opened, _ = run(runner, tmp_path, probe, network="host")
    assert runner.state(opened).exit_code == 0
    assert logs_of(runner, opened, tmp_path).tail(1) == "reached"
    listener.close()


def test_secrets_are_masked_in_stored_logs(runner, tmp_path):
    secret = "s3cr3t-T0ken-value"
    container_id, _ = run(runner, tmp_path, 'echo "token=$API_TOKEN"; echo plain', env={"API_TOKEN": secret})
    text = logs_of(runner, container_id, tmp_path, Masker([secret])).tail(10)
    assert text == "token=***\nplain"
    assert secret not in text


def test_incremental_reads_store_every_line_exactly_once(runner, tmp_path):
    container_id, _ = run(
        runner, tmp_path, "for i in $(seq 1 3000); do echo line $i; done; sleep 1; echo last", wait=False
    )
    store = LogStore(str(tmp_path / "incremental"))
    cursor = LogCursor()
    while runner.state(container_id).running:
        runner.copy_logs(container_id, cursor, store.append)
        time.sleep(0.05)
    runner.copy_logs(container_id, cursor, store.append)
    runner.copy_logs(container_id, cursor, store.append)  # nothing new: nothing written
    lines = store.read_range(0, 10**7).decode().splitlines()
    assert lines == [f"line {i}" for i in range(1, 3001)] + ["last"]


def test_sources_in_and_reports_out_through_the_docker_api_only(runner, tmp_path):
    """/src holds the commit, read-only (a read-only mount: not even a chmod gets through);
    /workspace is the job's user's; declared files come back with get_archive."""
    command = (
        "cat /src/README; mkdir -p reports /workspace/dist && echo '{\"ok\": true}' > reports/r.json && "
        "ln -s /etc/passwd reports/link && (touch /src/x 2>&1 | grep -o 'Read-only file system'); "
        "stat -c %u /workspace /src/README; head -c 2048 /dev/zero > dist/big.bin"
    )
    container_id, name = run(runner, tmp_path, command)
    assert runner.state(container_id).exit_code == 0
    assert logs_of(runner, container_id, tmp_path).tail(4).splitlines() == [
        "hello", "Read-only file system", "1000", "0"
    ]
    assert job_files.read_file(runner, container_id, "reports/r.json", 1024) == b'{"ok": true}\n'
    for path, error in [
        ("reports/none.json", "'reports/none.json' was not produced"),
        ("reports/link", "is a symbolic link"),
        ("dist", "is a folder"),
        ("dist/big.bin", "is 2048 bytes, over the 1024-byte limit"),
        ("../src/README", "points outside the workspace"),
    ]:
        with pytest.raises(job_files.JobFileError, match=error):
            job_files.read_file(runner, container_id, path, 1024)
    assert name in runner.volumes({"influencegen.job": name})
    runner.remove(container_id)
    runner.remove_volume(name)
    assert runner.volumes({"influencegen.job": name}) == {}


def test_a_saved_tree_is_put_into_a_later_job(runner, tmp_path):
    """Outputs of one job (a folder and a nested file) are the workspace of the next one, owned
    by the job's user, where they were."""
    first, _ = run(runner, tmp_path, "mkdir -p venv/bin build/dist && echo v > venv/bin/tool && echo w > build/dist/a.whl")
    saved = tmp_path / "outputs.tar"
    with open(saved, "wb") as handle:
        assert job_files.save_tree(runner, first, ["venv", "build/dist/a.whl", "absent"], handle) == ["absent"]
    with tarfile.open(saved) as tar:
        assert sorted(tar.getnames()) == ["build/dist/a.whl", "venv", "venv/bin", "venv/bin/tool"]
    with open(saved, "rb") as handle:
        second, _ = run(runner, tmp_path, "cat venv/bin/tool build/dist/a.whl && echo x >> venv/bin/tool && echo ok", trees=[handle])
    assert logs_of(runner, second, tmp_path).tail(3).splitlines() == ["v", "w", "ok"]
    too_big = io.BytesIO()
    with pytest.raises(job_files.JobFileError, match="over the 1-byte limit"):
        job_files.save_tree(runner, first, ["venv"], too_big, max_bytes=1)


def test_labels_find_kill_and_remove(runner, tmp_path):
    container_id, _ = run(runner, tmp_path, "sleep 30", wait=False)
    assert container_id in runner.find({"influencegen.db": "pytest"})
    runner.kill(container_id)
    assert runner.state(container_id).running is False
    runner.remove(container_id)
    assert runner.state(container_id) is None


def test_missing_image_and_unreachable_engine_are_clear(runner, tmp_path):
    with pytest.raises(RunnerError, match="image 'influencegen/absent:1' is not on runner"):
        run(runner, tmp_path, "true", wait=False, image="influencegen/absent:1")
    with pytest.raises(RunnerError, match="does not answer"):
        DockerRunner("unix:///tmp/no-docker-here.sock").ping()
