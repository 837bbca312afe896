"""Benchmarks of the runner, measured side by side in one run; prints one JSON object.

job_overhead_ratio            a 1 s job through the product (trigger to run finished) divided by
                              the same image and command with a bare `docker run` (goal <= 1.15)
job_overhead_ms_p50           the difference, in milliseconds
trigger_to_start_s_p50        api_trigger returning -> the job's container started (goal <= 1.5)
parallel_efficiency           8 one-second jobs at capacity 4: ideal 2 s / measured (goal >= 0.8)
log_100mb_worker_rss_growth_mb the Odoo server's RSS growth while a job prints 100 MB (goal <= 50)
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.integration.harness import (  # noqa: E402
    Api,
    Server,
    commit_pipeline,
    create_database,
    drop_database,
    init_repository,
)

IMAGE = os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm")
ROUNDS = int(os.environ.get("IGR_BENCH_ROUNDS", "5"))
BIG_LOG = "yes " + "0123456789" * 9 + "012345678 | head -c 104857600"


def utc(value):
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def bare_docker_run():
    command = ["docker", "run", "--rm", "--network", "none", "--memory", "128m", "--cpus", "0.5", IMAGE, "sh", "-c", "sleep 1"]
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - started


def push(api, repo, command, jobs=1):
    sha = commit_pipeline(repo, command, jobs=jobs)
    api("release.repository", "action_load_pipeline_file", [api.repository])
    payload = {"repository": "bench-repo", "ref": "refs/heads/main", "after": sha}
    started = time.monotonic()
    wall = time.time()
    [run] = api("release.run", "api_trigger", payload)["runs"]
    return run["id"], started, wall


def wait_job_running(api, run_id):
    """When the job is recorded running, i.e. its container was started (polled every 20 ms)."""
    while True:
        [job] = api("release.job", "search_read", [("run_id", "=", run_id)], fields=["state"])
        if job["state"] in ("running", "succeeded", "failed"):
            return time.monotonic()
        time.sleep(0.02)


def wait(api, run_id, sample=None):
    while True:
        status = api("release.run", "api_status", run_id)
        if sample:
            sample()
        if status["state"] in ("succeeded", "failed", "cancelled"):
            if status["state"] != "succeeded":
                raise RuntimeError(f"bench run {run_id} {status['state']}: {status}")
            return time.monotonic()
        time.sleep(0.05)


def main():
    workdir = tempfile.mkdtemp(prefix="igr-bench-")
    create_database()
    server = Server(workdir)
    server.start()
    try:
        api = Api()
        api("ir.config_parameter", "set_param", "influencegen_release.data_dir", os.path.join(workdir, "data"))
        repo = init_repository(os.path.join(workdir, "origin"))
        commit_pipeline(repo, "sleep 1")
        api.repository = api("release.repository", "create", {"name": "bench-repo", "url": repo.working_tree_dir})
        api("release.repository", "action_load_pipeline_file", [api.repository])
        bare_docker_run()  # warm the image cache for both sides
        bare, product, to_start = [], [], []
        for _ in range(ROUNDS):
            bare.append(bare_docker_run())
            run_id, started, _wall = push(api, repo, "sleep 1")
            to_start.append(wait_job_running(api, run_id) - started)
            product.append(wait(api, run_id) - started)

        runner = api("release.runner", "search", [("active", "=", True)])[0]
        api("release.runner", "write", [runner], {"capacity": 4})
        run_id, started, _wall = push(api, repo, "sleep 1", jobs=8)
        parallel_s = wait(api, run_id) - started

        process = psutil.Process(server.process.pid)
        baseline = process.memory_info().rss
        peak = [baseline]
        run_id, started, _wall = push(api, repo, BIG_LOG)
        wait(api, run_id, sample=lambda: peak.append(process.memory_info().rss))
        [job] = api("release.job", "search_read", [("run_id", "=", run_id)], fields=["log_size"])
        if job["log_size"] < 100 * 1024 * 1024:
            raise RuntimeError(f"the 100 MB log was stored as {job['log_size']} bytes")

        bare_p50, product_p50 = statistics.median(bare), statistics.median(product)
        result = {
            "job_overhead_ratio": round(product_p50 / bare_p50, 3),
            "job_overhead_ms_p50": round((product_p50 - bare_p50) * 1000),
            "bare_docker_run_s_p50": round(bare_p50, 3),
            "product_job_s_p50": round(product_p50, 3),
            "trigger_to_start_s_p50": round(statistics.median(to_start), 3),
            "parallel_efficiency": round(2.0 / parallel_s, 3),
            "parallel_8x1s_at_4_s": round(parallel_s, 3),
            "log_100mb_worker_rss_growth_mb": round((max(peak) - baseline) / 2**20, 1),
            "rounds": ROUNDS,
            "goals": {
                "job_overhead_ratio": "<= 1.15",
                "trigger_to_start_s_p50": "<= 1.5",
                "parallel_efficiency": ">= 0.8",
                "log_100mb_worker_rss_growth_mb": "<= 50",
            },
        }
        print(json.dumps(result, indent=2))
    finally:
        server.stop()
        drop_database()


if __name__ == "__main__":
    main()
