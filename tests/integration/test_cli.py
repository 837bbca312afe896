"""``scripts/igr`` run as a user runs it (a subprocess, its own shebang) against a real server:
trigger and wait, the status table, logs, and the exit codes scripts rely on."""

import json
import os
import subprocess
import time

import pytest

from devstack import ROOT
from devstack.odoo_server import DB, PORT, Api
from devstack.repository import commit_pipeline, commit_pipeline_text, gated_pipeline

IGR = os.path.join(ROOT, "scripts", "igr")
URL = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("igr-cli") / "key"
    path.write_text("admin\n", encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def igr(*args, key_file, url=URL, timeout=180):
    env = {k: v for k, v in os.environ.items() if k not in ("IGR_URL", "IGR_DB", "IGR_USER", "IGR_KEY_FILE")}
    env.update(IGR_URL=url, IGR_DB=DB, IGR_USER="admin", IGR_KEY_FILE=key_file)
    return subprocess.run([IGR, *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def new_commit(api, origin, repository, command):
    sha = commit_pipeline(origin, command)
    api("release.repository", "action_load_pipeline_file", [repository])
    return sha


def test_trigger_wait_status_and_logs(server, repository, origin, key_file):
    api = Api()
    sha = new_commit(api, origin, repository, "echo cli-start; sleep 1; echo cli-end")

    done = igr("trigger", "--repository", "it-repo", "--ref", "main", "--sha", sha, "--wait", key_file=key_file)
    assert done.returncode == 0, done.stdout + done.stderr
    [run_id] = api("release.run", "search", [("commit_sha", "=", sha)])
    header = done.stdout.splitlines()[:2]
    assert header[0].split() == ["RUN", "PIPELINE", "STATE", "URL"]
    assert header[1].split()[:2] == [str(run_id), "PL-IT"] and header[1].endswith(f"/{run_id}")
    assert f"run {run_id} PL-IT: succeeded" in done.stderr

    status = igr("status", str(run_id), key_file=key_file)
    assert status.returncode == 0, status.stderr
    [job] = api("release.run", "api_status", run_id)["stages"][0]["jobs"]
    lines = status.stdout.splitlines()
    assert lines[0].startswith(f"Run {run_id}  PL-IT  succeeded  refs/heads/main @ {sha[:12]}")
    assert lines[3].split() == ["STAGE", "/", "JOB", "STATE", "JOB", "EXIT", "DURATION", "ATTEMPT", "REASON"]
    assert lines[4].split() == ["Work", "succeeded"]
    cells = lines[5].split()
    assert cells[:6] == ["Work", "1", "succeeded", str(job["id"]), "0", f"{job['duration_s']:.1f}s"] and cells[6] == "1", lines[5]

    raw = igr("status", str(run_id), "--json", key_file=key_file)
    assert raw.returncode == 0 and json.loads(raw.stdout) == api("release.run", "api_status", run_id)

    tail = igr("logs", str(job["id"]), "--tail", "1", key_file=key_file)
    assert (tail.returncode, tail.stdout) == (0, "cli-end\n"), tail.stderr
    whole = igr("logs", str(job["id"]), "--follow", key_file=key_file)
    assert whole.returncode == 0 and whole.stdout.rstrip("\n") == "cli-start\ncli-end", whole
    assert f"job {job['id']}: succeeded" in whole.stderr


def run_of(api, sha):
    [run_id] = api("release.run", "search", [("commit_sha", "=", sha)])
    return run_id


def test_logs_follow_a_running_job_to_its_end(server, repository, origin, key_file):
    api = Api()
    sha = new_commit(api, origin, repository, "echo first; sleep 4; echo second")
    started = igr("trigger", "--repository", "it-repo", "--ref", "main", "--sha", sha, key_file=key_file)
    assert started.returncode == 0, started.stderr
    run_id = run_of(api, sha)
    assert started.stdout.splitlines()[1].split()[:3] == [str(run_id), "PL-IT", "queued"]
    deadline = time.monotonic() + 60
    while True:
        [job] = api("release.job", "search_read", [("run_id", "=", run_id)], ["state"])
        if job["state"] == "running":
            break
        assert job["state"] not in ("succeeded", "failed") and time.monotonic() < deadline, job
        time.sleep(0.2)
    follow = igr("logs", str(job["id"]), "--follow", key_file=key_file)
    assert (follow.returncode, follow.stdout) == (0, "first\nsecond\n"), follow.stderr
    assert api("release.job", "read", [job["id"]], ["state"])[0]["state"] == "succeeded"


def gated_commit(api, origin, repository, label):
    text = gated_pipeline("PL-IT", "Integration (Go/No-Go)", "{group: release_manager}")
    sha = commit_pipeline_text(origin, text, f"gated pipeline: {label}", marker=label)
    api("release.repository", "action_load_pipeline_file", [repository])
    return sha


def test_approve_and_reject_from_the_command_line(server, repository, origin, key_file):
    api = Api()
    for decision, decided_state in (("approve", "approved"), ("reject", "rejected")):
        sha = gated_commit(api, origin, repository, f"cli {decision} {time.time()}")
        assert igr("trigger", "--repository", "it-repo", "--ref", "main", "--sha", sha, key_file=key_file).returncode == 0
        run_id = run_of(api, sha)
        [request] = api.wait_run(run_id, states=("waiting_approval",), timeout=60)["approvals"]
        status = igr("status", str(run_id), key_file=key_file)
        assert status.returncode == 0, status.stderr
        assert "Approvals awaiting:" in status.stdout and "gate: Go/No-Go" in status.stdout
        awaiting = status.stdout.split("Approvals awaiting:")[1].splitlines()[2].split()
        assert awaiting[:2] == [str(request["id"]), "Production"], status.stdout
        if decision == "approve":
            decided = igr("approve", str(request["id"]), "-m", "Go", key_file=key_file)
        else:
            assert igr("reject", str(request["id"]), key_file=key_file).returncode == 2  # no comment
            decided = igr("reject", str(request["id"]), "-m", "No-Go: not today", key_file=key_file)
        assert decided.returncode == 0, decided.stderr
        assert decided.stdout.splitlines()[0] == f"Approval {request['id']}  Production  {decided_state}", decided.stdout
        # Triggering the same push again waits on the same run.
        done = igr("trigger", "--repository", "it-repo", "--ref", "main", "--sha", sha, "--wait", key_file=key_file)
        assert done.returncode == (0 if decision == "approve" else 1), done.stdout + done.stderr
        assert run_of(api, sha) == run_id
        again = igr("approve", str(request["id"]), key_file=key_file)
        assert again.returncode == 3 and f"This request is {decided_state}" in again.stderr, again.stderr
    commit_pipeline(origin, "echo start; sleep 1; echo end")
    api("release.repository", "action_load_pipeline_file", [repository])


def test_a_failed_run_exits_1_and_shows_its_exit_code(server, repository, origin, key_file):
    api = Api()
    sha = new_commit(api, origin, repository, "echo boom; exit 3")
    done = igr("trigger", "--repository", "it-repo", "--ref", "refs/heads/main", "--sha", sha, "--pipeline", "PL-IT", "--wait", key_file=key_file)
    assert done.returncode == 1, done.stdout + done.stderr
    [run_id] = api("release.run", "search", [("commit_sha", "=", sha)])
    status = igr("status", str(run_id), key_file=key_file)
    assert status.returncode == 1
    job_line = status.stdout.splitlines()[5].split()
    assert job_line[2] == "failed" and job_line[4] == "3", status.stdout
    [job] = api("release.run", "api_status", run_id)["stages"][0]["jobs"]
    follow = igr("logs", str(job["id"]), "--tail", "5", "--follow", key_file=key_file)
    # the scheduler's own line about the exit ends the log, printed once (tail, then nothing new)
    assert (follow.returncode, follow.stdout) == (1, "boom\n\n[influencegen] exit code 3\n"), follow.stderr
    assert follow.stderr == f"job {job['id']}: failed\n"


def test_a_wrong_key_is_refused_with_exit_3_and_never_printed(server, tmp_path):
    wrong = tmp_path / "key"
    wrong.write_text("s3cret-not-the-key\n", encoding="utf-8")
    result = igr("status", "1", key_file=str(wrong))
    assert result.returncode == 3, result
    assert "authentication failed for user 'admin'" in result.stderr
    assert "s3cret-not-the-key" not in result.stdout + result.stderr


def test_what_the_server_refuses_exits_3_with_its_message(server, repository, key_file):
    result = igr("status", "987654", key_file=key_file)
    assert result.returncode == 3 and result.stderr.strip() == "igr: server refused: There is no run 987654.", result.stderr
    result = igr("trigger", "--repository", "no-such-repo", "--ref", "main", "--sha", "a" * 40, key_file=key_file)
    assert result.returncode == 3 and "Unknown repository 'no-such-repo'" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = igr("rollback", "no-such-env", key_file=key_file)
    assert result.returncode == 3 and "There is no environment 'no-such-env'" in result.stderr, result.stderr
    result = igr("deploy", "no-such-env", "1.0.0", key_file=key_file)
    assert result.returncode == 3 and "There is no environment 'no-such-env'" in result.stderr, result.stderr
    result = igr("approve", "987654", "-m", "ok", key_file=key_file)
    assert result.returncode == 3 and "There is no approval request 987654" in result.stderr, result.stderr


def test_parity_without_environments(server, key_file):
    result = igr("parity", "--kind", "n8n", "no-such-env", key_file=key_file)
    assert (result.returncode, result.stdout) == (0, "No reachable n8n environment.\n"), result.stderr


def test_an_unreachable_server_exits_4(key_file):
    result = igr("status", "1", key_file=key_file, url=f"http://127.0.0.1:{PORT + 57}", timeout=60)
    assert result.returncode == 4 and "cannot reach" in result.stderr, result


def test_usage_and_configuration_errors_exit_2(key_file, tmp_path):
    assert igr("reject", "5", key_file=key_file).returncode == 2  # a reject needs -m
    assert igr("frobnicate", key_file=key_file).returncode == 2
    assert igr("status", "one", key_file=key_file).returncode == 2
    missing = igr("status", "1", key_file=str(tmp_path / "absent"))
    assert missing.returncode == 2 and "cannot read the key file" in missing.stderr
    result = subprocess.run([IGR, "status", "1"], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "missing configuration: --url (IGR_URL)" in result.stderr
    helped = subprocess.run([IGR, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "exit codes:" in helped.stdout and "4  the server is unreachable" in helped.stdout
