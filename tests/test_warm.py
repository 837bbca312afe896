"""Warm containers (engine/execution/warm.py): the pure parts, and warm containers on the real
engine released by the job's files written to their stdin (``DockerRunner.feed``)."""

import io
import os
import tarfile
import time
import uuid

import pytest

from influencegen_release.engine.execution import job_files, warm
from influencegen_release.engine.execution.docker_runner import ContainerSpec, DockerRunner, LogCursor

IMAGE = os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm")
DOCKER_URL = os.environ.get("IGR_DOCKER_URL", "unix:///var/run/docker.sock")
TASK = {"image": IMAGE, "network": "none", "cpus": 0.5, "memory": 128, "pids": 64, "env": {"A": "1"}, "secrets": ["TOKEN"]}


def test_warm_key_is_image_and_limits():
    assert warm.warm_key(TASK) == f"{IMAGE}|cpus=0.5|memory=128|pids=64"
    assert warm.warm_key(dict(TASK, env={"B": "2"})) == warm.warm_key(TASK)  # variables come with the job
    assert warm.warm_key(dict(TASK, memory=256)) != warm.warm_key(TASK)


@pytest.mark.parametrize(
    "change",
    [{"network": "bridge"}, {"uses": "odoo.deploy"}, {"image": None}, {"env": {"NOT-A-NAME": "x"}}],
    ids=["network", "builtin", "no-image", "odd-variable"],
)
def test_a_task_a_warm_container_cannot_run_gets_no_key(change):
    assert warm.warm_key(dict(TASK, **change)) is None


def test_env_file_quotes_every_value_as_one_word():
    text = warm.env_file({"A": "it's $HOME `x`\nline 2", "B": ""}).decode()
    assert text == "export A='it'\\''s $HOME `x`\nline 2'\nexport B=''\n"
    with pytest.raises(ValueError, match="'A B' is not a variable name"):
        warm.env_file({"A B": "x"})


def test_job_members_end_with_the_marker_and_keep_the_env_private():
    members = warm.job_members({"A": "1"}, "echo hi", 1000)
    assert [m.name for m, _d in members] == ["job", "job/env", "job/command", "job/go"]
    assert {(m.uid, m.gid) for m, _d in members} == {(1000, 1000)}
    assert members[1][0].mode == 0o400 and members[0][0].isdir()


def warm_container(runner, image=IMAGE):
    name = f"igr-pytest-w{uuid.uuid4().hex[:10]}"
    labels = {"influencegen.db": "pytest", "influencegen.name": name, "influencegen.warm": "x"}
    spec = ContainerSpec(name=name, image=image, command=warm.WAIT_SCRIPT, labels=labels, memory_mb=128, pids=64, stdin=True)
    return name, runner.create_container(spec, inputs=(warm.skeleton(job_files.JOB_UID),))


@pytest.mark.services
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_warm_container_runs_the_job_its_files_release():
    runner = DockerRunner(DOCKER_URL)
    name, container_id = warm_container(runner)
    try:
        runner.start_created(container_id, name, volume=name)
        time.sleep(0.3)
        assert runner.state(container_id).running  # waiting, silent
        env = {"GREETING": "it's me", "TOKEN": "s3cret-value", "HOME": "/workspace/.home"}
        command = 'cat /src/README; echo "$GREETING"; test -e /.igr/job/env || echo env-gone; read x || echo stdin-closed; exit 3'
        source = io.BytesIO()
        with tarfile.open(fileobj=source, mode="w") as tar:
            info = tarfile.TarInfo("src/README")
            info.size = 6
            tar.addfile(info, io.BytesIO(b"hello\n"))
        source.seek(0)
        archive = io.BytesIO()
        job_files.workspace_archive(archive, source=source, extra=warm.job_members(env, command, job_files.JOB_UID))
        archive.seek(0)
        released = time.monotonic()
        runner.feed(container_id, archive)
        assert time.monotonic() - released < 1
        state, timed_out = runner.wait_exit(container_id, timeout=20)
        assert not timed_out and state.exit_code == 3 and not state.oom_killed
        out = []
        runner.copy_logs(container_id, LogCursor(), out.append)
        assert b"".join(out) == b"hello\nit's me\nenv-gone\nstdin-closed\n"
        config = runner.client.api.inspect_container(container_id)["Config"]
        assert not any("s3cret" in item for item in config.get("Env") or []), "secrets never in docker inspect"
        assert "s3cret" not in str(config)
    finally:
        runner.remove(container_id)
        runner.remove_volume(name)
        runner.close()


@pytest.mark.services
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_warm_container_whose_files_were_cut_short_runs_nothing():
    """A start that died while writing (half a tar, no marker): the container ends with
    UNFED_EXIT and prints nothing; the scheduler's recovery then requeues its job."""
    runner = DockerRunner(DOCKER_URL)
    name, container_id = warm_container(runner)
    try:
        runner.start_created(container_id, name, volume=name)
        archive = io.BytesIO()
        job_files.workspace_archive(archive, extra=warm.job_members({}, "echo ran", job_files.JOB_UID))
        runner.feed(container_id, io.BytesIO(archive.getvalue()[:700]))
        state, timed_out = runner.wait_exit(container_id, timeout=20)
        assert not timed_out and state.exit_code == warm.UNFED_EXIT
        out = []
        runner.copy_logs(container_id, LogCursor(), out.append)
        assert b"".join(out) == b""
        assert runner.get_archive(container_id, warm.MARKER) is None
    finally:
        runner.remove(container_id)
        runner.remove_volume(name)
        runner.close()
