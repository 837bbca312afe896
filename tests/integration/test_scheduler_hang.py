"""A deploy to a target that accepts the connection and never answers holds nobody: another
pipeline's one-second job starts at once and finishes, the deploy fails at its own timeout."""

import os
import time

from devstack import hanging_target
from devstack.odoo_server import Api
from devstack.repository import commit_pipeline

from .test_server import push, reload

DEPLOY_TIMEOUT = 10


def job_of(api, run_id, key):
    [job] = api(
        "release.job",
        "search_read",
        [("run_id", "=", run_id), ("task_key", "=", key)],
        fields=["state", "failure_reason", "started_at"],
    )
    return job


def start_delay_of_a_push(api, origin, keep_run=False):
    """Seconds from api_trigger returning to the job running, of a new commit's run."""
    commit_pipeline(origin, "echo start; sleep 1; echo end")
    started = time.monotonic()
    [run] = push(api, origin)["runs"]
    while job_of(api, run["id"], "work1")["state"] not in ("running", "succeeded", "failed"):
        assert time.monotonic() - started < 20, "the job did not start"
        time.sleep(0.05)
    delay = time.monotonic() - started
    if keep_run:
        return run["id"], delay
    api.wait_run(run["id"], timeout=30)
    return delay


def test_a_hanging_deploy_holds_no_other_run_and_fails_at_its_timeout(server, repository, origin, workdir):
    hung = hanging_target.HangingServer()
    try:
        api = Api()
        hang_origin = hanging_target.hanging_repository(os.path.join(workdir, "hang-origin"), hung.port, DEPLOY_TIMEOUT)
        hanging_target.register(api, hang_origin)
        commit_pipeline(origin, "echo start; sleep 1; echo end")
        reload(api, repository)
        baseline = start_delay_of_a_push(api, origin)  # the same job with nothing hanging, on this machine now

        hang_run = hanging_target.push(api, hang_origin)
        deadline = time.monotonic() + 60
        while job_of(api, hang_run, "deploy")["state"] != "running":
            assert time.monotonic() < deadline, job_of(api, hang_run, "deploy")
            time.sleep(0.1)
        deploy_started = time.monotonic()
        while not hung.connections:  # the deploy is waiting for the target now
            assert time.monotonic() - deploy_started < 10
            time.sleep(0.05)

        started = time.monotonic()
        other, start_delay = start_delay_of_a_push(api, origin, keep_run=True)
        status = api.wait_run(other, timeout=30)
        other_done = time.monotonic() - started
        assert status["state"] == "succeeded", status
        # ~0.5 s on an idle machine; on a loaded one, no slower than the same push without a hang.
        assert start_delay < max(1.5, 2 * baseline), f"the other job started {start_delay:.2f} s after its trigger ({baseline:.2f} s without a hang)"
        assert other_done < DEPLOY_TIMEOUT, "finished while the deploy still hangs"

        status = api.wait_run(hang_run, timeout=60)
        failed_after = time.monotonic() - deploy_started
        deploy = job_of(api, hang_run, "deploy")
        assert status["state"] == "failed"
        assert deploy["failure_reason"].startswith(f"timed out after {DEPLOY_TIMEOUT} s"), deploy
        assert DEPLOY_TIMEOUT - 1 <= failed_after <= DEPLOY_TIMEOUT + 5, failed_after
        print(
            f"other job started after {start_delay:.2f} s (without a hang {baseline:.2f} s), done after {other_done:.2f} s; deploy failed after {failed_after:.1f} s"
        )
    finally:
        hung.close()
