"""Two control-plane servers on one database share the work: 40 jobs of 10 runs pushed to
both, each job's container started exactly once (counted from Docker's own events), both
servers' schedulers working at once, and no deadlock or serialization error in either log."""

import json
import os
import subprocess
import time

from devstack.odoo_server import DB, PORT, Api, Server
from devstack.repository import commit_pipeline

from .test_server import reload

SECOND_PORT = PORT + 40
DB_ERRORS = ("could not serialize", "deadlock detected", "bad query")


def log_since(path, offset):
    with open(path, encoding="utf-8", errors="replace") as handle:
        handle.seek(offset)
        return handle.read()


def test_two_servers_run_each_of_40_jobs_exactly_once(server, repository, origin, workdir):
    first_log = os.path.join(workdir, f"{server.name}-{server.starts}.log")
    offset = os.path.getsize(first_log)
    second = Server(workdir, port=SECOND_PORT, name="odoo-second")
    second.start()
    apis = [Api(), Api(port=SECOND_PORT)]
    runner = apis[0]("release.runner", "search_read", [("active", "=", True)], fields=["capacity", "warm_start"])[0]
    # Each start is counted by the job label of Docker's start event: a warm container (started
    # before any job needed it) carries none, so this host starts every job's container anew.
    apis[0]("release.runner", "write", [runner["id"]], {"capacity": 8, "warm_start": False})
    events = None
    try:
        shas = [commit_pipeline(origin, 'echo "job $IGR_JOB_ID"; sleep 1', jobs=4) for _ in range(10)]
        reload(apis[0], repository)
        # Docker keeps too few past events for --since: follow them live from before the pushes.
        events = subprocess.Popen(
            ["docker", "events", "--format", "{{json .Actor.Attributes}}", "--filter", "event=start",
             "--filter", f"label=influencegen.db={DB}"],
            stdout=subprocess.PIPE, text=True,
        )
        time.sleep(0.5)
        started = time.monotonic()
        runs = []
        for index, sha in enumerate(shas):  # pushes alternate between the two servers
            payload = {"repository": "it-repo", "ref": "refs/heads/main", "after": sha, "pusher": "dev"}
            runs.append(apis[index % 2]("release.run", "api_trigger", payload)["runs"][0]["id"])
        for run_id in runs:
            assert apis[0].wait_run(run_id, timeout=120)["state"] == "succeeded"
        elapsed = time.monotonic() - started
        jobs = apis[0]("release.job", "search_read", [("run_id", "in", runs)], fields=["attempt", "state"])
        assert len(jobs) == 40 and {(j["attempt"], j["state"]) for j in jobs} == {(1, "succeeded")}
        for job in jobs[:5]:
            assert apis[0]("release.job", "api_log", [job["id"]], tail=5)["text"] == f"job {job['id']}"

        time.sleep(1)
        events.terminate()
        lines = events.communicate(timeout=10)[0].split("\n")
        started_jobs = [json.loads(line)["influencegen.job"] for line in lines if line.strip()]
        assert sorted(started_jobs) == sorted(str(j["id"]) for j in jobs), "every job's container started exactly once"

        second_log = os.path.join(workdir, "odoo-second-1.log")
        for path, start in ((first_log, offset), (second_log, 0)):
            assert f"scheduler loop of {DB} started" in log_since(path, 0), f"{path}: this server's scheduler never ran"
            errors = [line for line in log_since(path, start).splitlines() if any(error in line for error in DB_ERRORS)]
            assert not errors, errors
        print(f"40 jobs of 10 runs on two servers in {elapsed:.1f} s")
    finally:
        if events and events.poll() is None:
            events.kill()
        apis[0]("release.runner", "write", [runner["id"]], {"capacity": runner["capacity"], "warm_start": runner["warm_start"]})
        second.stop()
