"""Runs through a real Odoo server: cron wake-up, concurrent triggers, crash recovery, two engines."""

import threading
import time

from devstack.odoo_server import Api
from devstack.repository import commit_pipeline


def push(api, origin, sha=None):
    payload = {"repository": "it-repo", "ref": "refs/heads/main", "after": sha or origin.head.commit.hexsha, "pusher": "dev"}
    return api("release.run", "api_trigger", payload)


def reload(api, repository):
    api("release.repository", "action_load_pipeline_file", [repository])


def job_ids(api, run_id):
    return api("release.job", "search", [("run_id", "=", run_id)])


def test_a_push_is_run_by_the_cron_worker_without_waiting_for_the_interval(server, repository, origin):
    api = Api()
    # Other modules share this repository: start from a known pipeline definition.
    commit_pipeline(origin, "echo start; sleep 1; echo end")
    reload(api, repository)
    started = time.monotonic()
    result = push(api, origin)
    [summary] = result["runs"]
    assert summary["pipeline"] == "PL-IT" and summary["url"].endswith(f"/action-influencegen_release.action_release_run/{summary['id']}")
    status = api.wait_run(summary["id"], timeout=50)
    # The cron interval is one minute: finishing well before it proves the trigger woke it.
    assert time.monotonic() - started < 45
    assert status["state"] == "succeeded", status
    [job] = status["stages"][0]["jobs"]
    assert (job["state"], job["exit_code"], job["attempt"]) == ("succeeded", 0, 1)
    assert api("release.job", "api_log", [job["id"]], tail=10)["text"] == "start\nend"


def test_concurrent_triggers_of_one_push_create_one_run(server, repository, origin):
    sha = commit_pipeline(origin, "echo start; sleep 1; echo end")
    reload(Api(), repository)
    results, barrier = [], threading.Barrier(4)

    def call():
        api = Api()
        barrier.wait()
        results.append(push(api, origin, sha)["runs"][0]["id"])

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and len(set(results)) == 1, results
    api = Api()
    assert api("release.run", "search_count", [("commit_sha", "=", sha)]) == 1
    assert api.wait_run(results[0])["state"] == "succeeded"


def test_a_killed_server_loses_no_job_and_runs_none_twice(server, repository, origin):
    api = Api()
    commit_pipeline(origin, "echo start; sleep 6; echo end")
    reload(api, repository)
    [summary] = push(api, origin)["runs"]
    api.wait_run(summary["id"], states=("running",))
    deadline = time.monotonic() + 30
    while api("release.job", "search_read", [("run_id", "=", summary["id"])], fields=["state"])[0]["state"] != "running":
        assert time.monotonic() < deadline, "job never started"
        time.sleep(0.2)
    server.kill()
    time.sleep(2)
    server.start()
    api = Api()
    status = api.wait_run(summary["id"], timeout=150)
    assert status["state"] == "succeeded", status
    [job] = status["stages"][0]["jobs"]
    assert job["attempt"] == 1
    assert api("release.job", "api_log", [job["id"]], tail=10)["text"] == "start\nend", "one container, adopted"


def test_two_engines_share_the_load(server, repository, origin, second_engine):
    api = Api()
    local = api("release.runner", "search", [])[0]
    api("release.runner", "write", [local], {"capacity": 1})
    second = api("release.runner", "create", {"name": "Second engine", "docker_url": second_engine["unix"], "capacity": 1})
    try:
        commit_pipeline(origin, "sleep 2; echo done", jobs=4)
        reload(api, repository)
        [summary] = push(api, origin)["runs"]
        status = api.wait_run(summary["id"], timeout=120)
        assert status["state"] == "succeeded", status
        jobs = api("release.job", "search_read", [("run_id", "=", summary["id"])], fields=["runner_id"])
        assert {job["runner_id"][0] for job in jobs} == {local, second}
    finally:
        api("release.runner", "write", [second], {"active": False})
        api("release.runner", "write", [local], {"capacity": 2})


def test_a_remote_engine_over_tcp_with_mutual_tls(server, repository, origin, second_engine):
    api = Api()
    local = api("release.runner", "search", [("active", "=", True)])[0]
    tls = second_engine["tls"]
    bad = api("release.runner", "create", {"name": "No client certificate", "docker_url": second_engine["tcp"], "capacity": 1})
    api("release.runner", "action_check", [bad])
    error = api("release.runner", "read", [bad], ["last_error"])[0]["last_error"]
    assert error.startswith(f"Docker engine {second_engine['tcp']} does not answer"), error
    api("release.runner", "write", [bad], {"active": False})
    remote = api(
        "release.runner",
        "create",
        {
            "name": "Remote engine (TLS)",
            "docker_url": second_engine["tcp"],
            "capacity": 2,
            "tls_ca_path": tls["ca"],
            "tls_cert_path": tls["cert"],
            "tls_key_path": tls["key"],
            "labels": "remote",
        },
    )
    api("release.runner", "write", [local], {"active": False})
    try:
        commit_pipeline(origin, "echo over tls", jobs=1)
        reload(api, repository)
        [summary] = push(api, origin)["runs"]
        status = api.wait_run(summary["id"], timeout=90)
        assert status["state"] == "succeeded", status["stages"][0]["jobs"][0]["reason"]
        [job] = api("release.job", "search_read", [("run_id", "=", summary["id"])], fields=["runner_id"])
        assert job["runner_id"][0] == remote
        assert api("release.job", "api_log", [status["stages"][0]["jobs"][0]["id"]], tail=5)["text"] == "over tls"
    finally:
        api("release.runner", "write", [local], {"active": True})
        api("release.runner", "write", [remote], {"active": False})
