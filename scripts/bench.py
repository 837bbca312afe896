"""Benchmarks measured side by side in one run; prints one JSON object.

``scripts/bench [PART...]`` runs the parts named (default: all, in this order); a part that
fails is reported under ``errors`` and the others are still printed (exit code 1).

Part ``runner`` (the control-plane server and Docker):
job_overhead_ratio            a 1 s job through the product (trigger to run finished) divided by
                              the same image and command with a bare `docker run` (goal <= 1.05)
job_overhead_ms_p50           the difference, in milliseconds
trigger_to_start_s_p50        api_trigger called -> the job's command began (goal <= 0.3). The command
                              begins with an `echo`: its start is Docker's timestamp of that first
                              log line (kept by the product as the job's log cursor), so a
                              container started ahead ("warm", waiting for the job's files) counts
                              from the moment the job's own command runs, never its container's
                              start; the bare baseline stays a plain `docker run ... sleep 1`.
                              The bench's runner has warm containers switched on (off by default)
trigger_call_ms_p50           of which the api_trigger call itself (its XML-RPC round trip: the
                              push compared in the mirror, the run created and committed)
job_phases_ms_p50             where a single job's time goes: trigger -> command start (as above) ->
                              die (Docker's event of its container) -> the run seen finished by the
                              bench (api_status polled every 50 ms): die_to_run_done is the job's
                              completion latency. trigger_to_create and create_to_start are of
                              the rounds whose container was created after the trigger (the usual
                              path); warm_rounds counts the rounds run in a warm container
parallel_efficiency           8 one-second jobs at capacity 4: ideal 2 s / measured
parallel_ratio_vs_bare        the same 8 jobs as 8 bare `docker run`, 4 at a time from a shell
                              (xargs -P4): bare time / product time (goal >= 0.95)
hang_other_job_start_s        api_trigger -> command began (as above) of a 1 s job while another run's
                              deploy hangs on a target that accepts and never answers (goal <= 1)
log_100mb_worker_rss_growth_mb the Odoo server's RSS growth while a job prints 100 MB (goal <= 20)

Part ``selective_upgrade`` (a target Odoo database only, no control plane, no Docker):
selective_upgrade_ratio       median over rounds of: deploying a package of 5 modules where one
                              changed, divided by deploying one where all 5 changed, on the same
                              target (goal <= 0.35). Each is the wall time of ``deploy_package``:
                              plan, backup, ``-u`` subprocess, restart and verification.
selective_upgrade_s_p50, full_upgrade_s_p50  the two deploy times
*_odoo_u_s_p50, deploy_phases_s_p50  where that time goes: the agent's `odoo-bin -u` run alone
                              (first to last line of its log), and deploy_package's steps (plan,
                              agent = backup + code switch + -u + restart, health, verify)
Part ``scale`` (a control-plane database with 10,000 finished runs, no server, no Docker
calls but the reconcile's): see scripts/bench_scale.py for its keys.

The package is built outside the timing. IGR_BENCH_DEPLOY_BUDGET_S (default 200) ends the rounds
early, never below 2, once the part (target setup included) ran that long.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# devstack first: it makes the addon's engine importable without Odoo.
from bench_odoo import bench_odoo_realistic, p50  # noqa: E402 - scripts/ is on the path: bench.py runs from it
from bench_scale import bench_scale  # noqa: E402

from devstack import hanging_target  # noqa: E402
from devstack.odoo_server import DB, PORT, Api, Server, create_database, databases, drop_database  # noqa: E402
from devstack.odoo_target import MODULES, Target, package  # noqa: E402
from devstack.repository import IMAGE, commit_pipeline, init_repository  # noqa: E402
from influencegen_release.engine.delivery.odoo.target import OdooTarget, deploy_package  # noqa: E402

ROUNDS = int(os.environ.get("IGR_BENCH_ROUNDS", "5"))
KEEP = bool(os.environ.get("IGR_BENCH_KEEP"))  # keep the temp folders (logs) for a post-mortem
# Measured rounds of the selective part stop early (never below 2) once this many seconds went by.
DEPLOY_BUDGET_S = float(os.environ.get("IGR_BENCH_DEPLOY_BUDGET_S", "200"))
TIMED = "echo igr-bench-start; sleep 1"  # its first log line marks the command's start
BIG_LOG = "yes " + "0123456789" * 9 + "012345678 | head -c 104857600"
TRIGGER_CALLS = []  # seconds each api_trigger call of push() took
ODOO_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def utc(value):
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def bare_docker_run():
    command = ["docker", "run", "--rm", "--network", "none", "--memory", "128m", "--cpus", "0.5", IMAGE, "sh", "-c", "sleep 1"]
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - started


def bare_docker_runs_in_parallel(count=8, parallel=4):
    """``count`` bare one-second `docker run` with ``parallel`` at a time, as a shell runs them."""
    command = f"docker run --rm --network none --memory 128m --cpus 0.5 {IMAGE} sh -c 'sleep 1'"
    started = time.monotonic()
    subprocess.run(["sh", "-c", f"seq {count} | xargs -P{parallel} -I{{}} {command}"], check=True, capture_output=True)
    return time.monotonic() - started


def hang_other_job_start(api, repo, workdir):
    """``(start delay of a 1 s job, seconds until the hung deploy failed)`` while another
    run's deploy waits on a target that accepts the connection and never answers."""
    hung = hanging_target.HangingServer()
    try:
        origin = hanging_target.hanging_repository(os.path.join(workdir, "hang-origin"), hung.port, 8)
        hanging_target.register(api, origin)
        hang_run = hanging_target.push(api, origin)
        deadline = time.monotonic() + 60
        while not hung.connections:  # packaged, and the deploy waits for the target now
            if time.monotonic() > deadline:
                raise RuntimeError("the deploy never reached the hung target")
            time.sleep(0.05)
        hung_at = time.monotonic()
        run_id, _started, wall = push(api, repo, TIMED)
        wait(api, run_id)
        delay = command_started(api, run_id) - wall
        while api("release.run", "api_status", hang_run)["state"] != "failed":
            if time.monotonic() > deadline + 60:
                raise RuntimeError("the hung deploy did not fail at its timeout")
            time.sleep(0.2)
        return delay, time.monotonic() - hung_at
    finally:
        hung.close()


def push(api, repo, command, jobs=1):
    sha = commit_pipeline(repo, command, jobs=jobs)
    api("release.repository", "action_load_pipeline_file", [api.repository])
    payload = {"repository": "bench-repo", "ref": "refs/heads/main", "after": sha}
    started = time.monotonic()
    wall = time.time()
    [run] = api("release.run", "api_trigger", payload)["runs"]
    TRIGGER_CALLS.append(time.monotonic() - started)
    return run["id"], started, wall


def command_started(api, run_id):
    """Wall time when the finished run's job logged its first line (Docker's timestamp, which
    the product keeps as the job's log cursor): the moment its command began."""
    [job] = api("release.job", "search_read", [("run_id", "=", run_id)], fields=["log_cursor_ns"])
    if not job["log_cursor_ns"]:
        raise RuntimeError(f"bench run {run_id}: its job logged nothing")
    return int(job["log_cursor_ns"]) / 1e9


def container_of(api, run_id):
    [job] = api("release.job", "search_read", [("run_id", "=", run_id)], fields=["container_id"])
    return job["container_id"]


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


class DockerEvents:
    """Docker's own timestamps of the bench jobs' containers (create, start, die), by
    container id, followed live: where a job's overhead goes, beside the trigger, the command's
    first log line and the run's end."""

    def __init__(self, db):
        self.process = subprocess.Popen(
            ["docker", "events", "--filter", "type=container", "--filter", f"label=influencegen.db={db}",
             "--format", "{{.TimeNano}} {{.Action}} {{.Actor.ID}}"],
            stdout=subprocess.PIPE, text=True,
        )
        time.sleep(0.3)

    def phases(self, rounds):
        """Median milliseconds of trigger → command start → die → run seen done, and of
        trigger → create → start for the rounds whose container was created after the trigger.
        ``rounds``: ``(container id, trigger wall time, command start, run done)``."""
        time.sleep(0.5)
        self.process.terminate()
        seen = {}
        for line in self.process.communicate(timeout=10)[0].splitlines():
            stamp, action, container = (line.split() + ["", "", ""])[:3]
            seen.setdefault(container, {}).setdefault(action, int(stamp) / 1e9)
        spans, warm = {}, 0
        for container, triggered, command, finished in rounds:
            at = seen.get(container, {})
            if "die" not in at:
                continue
            spans.setdefault("trigger_to_command_start", []).append(command - triggered)
            spans.setdefault("command_start_to_die", []).append(at["die"] - command)
            spans.setdefault("die_to_run_done", []).append(finished - at["die"])
            if "create" in at and "start" in at and at["create"] > triggered:
                spans.setdefault("trigger_to_create", []).append(at["create"] - triggered)
                spans.setdefault("create_to_start", []).append(at["start"] - at["create"])
            else:  # created and started before the trigger
                warm += 1
        result = {name: round(statistics.median(values) * 1000) for name, values in spans.items()}
        return dict(result, warm_rounds=warm)


def bench_runner():
    workdir = tempfile.mkdtemp(prefix="igr-bench-")
    server = Server(workdir)
    try:
        create_database()
        server.start()
        api = Api()
        api("ir.config_parameter", "set_param", "influencegen_release.data_dir", os.path.join(workdir, "data"))
        repo = init_repository(os.path.join(workdir, "origin"))
        commit_pipeline(repo, "sleep 1")
        api.repository = api("release.repository", "create", {"name": "bench-repo", "url": repo.working_tree_dir})
        api("release.repository", "action_load_pipeline_file", [api.repository])
        runner = api("release.runner", "search", [("active", "=", True)])[0]
        # Capacity 4 from the start (the parallel part's), as a team's runner keeps it: its warm
        # containers are then ready for a whole wave, as they are in steady state.
        api("release.runner", "write", [runner], {"capacity": 4, "warm_start": True})
        bare_docker_run()  # warm the image cache for both sides
        run_id, _started, _wall = push(api, repo, TIMED)  # the runner learns what to keep warm
        wait(api, run_id)
        bare, product, to_start, rounds = [], [], [], []
        events = DockerEvents(DB)
        TRIGGER_CALLS.clear()
        for _ in range(ROUNDS):
            bare.append(bare_docker_run())
            run_id, started, wall = push(api, repo, TIMED)
            done = wait(api, run_id) - started
            command = command_started(api, run_id)
            to_start.append(command - wall)
            product.append(done)
            rounds.append((container_of(api, run_id), wall, command, wall + done))
        phases = events.phases(rounds)
        trigger_calls = list(TRIGGER_CALLS)

        run_id, started, _wall = push(api, repo, "sleep 1", jobs=8)
        parallel_s = wait(api, run_id) - started
        bare_parallel_s = bare_docker_runs_in_parallel()
        hang_start_s, hang_failed_s = hang_other_job_start(api, repo, workdir)

        process = psutil.Process(server.process.pid)
        baseline = process.memory_info().rss
        peak = [baseline]
        run_id, started, _wall = push(api, repo, BIG_LOG)
        wait(api, run_id, sample=lambda: peak.append(process.memory_info().rss))
        [job] = api("release.job", "search_read", [("run_id", "=", run_id)], fields=["log_size"])
        if job["log_size"] < 100 * 1024 * 1024:
            raise RuntimeError(f"the 100 MB log was stored as {job['log_size']} bytes")

        bare_p50, product_p50 = statistics.median(bare), statistics.median(product)
        metrics = {
            "job_overhead_ratio": round(product_p50 / bare_p50, 3),
            "job_overhead_ms_p50": round((product_p50 - bare_p50) * 1000),
            "bare_docker_run_s_p50": round(bare_p50, 3),
            "product_job_s_p50": round(product_p50, 3),
            "trigger_to_start_s_p50": round(statistics.median(to_start), 3),
            "trigger_call_ms_p50": round(statistics.median(trigger_calls) * 1000),
            "job_phases_ms_p50": phases,
            "parallel_efficiency": round(2.0 / parallel_s, 3),
            "parallel_8x1s_at_4_s": round(parallel_s, 3),
            "parallel_ratio_vs_bare": round(bare_parallel_s / parallel_s, 3),
            "bare_parallel_8x1s_at_4_s": round(bare_parallel_s, 3),
            "hang_other_job_start_s": round(hang_start_s, 3),
            "hang_deploy_failed_after_s": round(hang_failed_s, 1),
            "log_100mb_worker_rss_growth_mb": round((max(peak) - baseline) / 2**20, 1),
        }
        goals = {
            "job_overhead_ratio": "<= 1.05",
            "trigger_to_start_s_p50": "<= 0.3",
            "parallel_ratio_vs_bare": ">= 0.95",
            "hang_other_job_start_s": "<= 1",
            "log_100mb_worker_rss_growth_mb": "<= 20",
        }
        return metrics, goals
    finally:
        server.stop()
        drop_database()
        # Its warm containers (started ahead, idle) go with its database.
        remove = f"docker ps -aq --filter label=influencegen.db={DB} | xargs -r docker rm -f; " \
            f"docker volume ls -q --filter label=influencegen.db={DB} | xargs -r docker volume rm -f"
        subprocess.run(["sh", "-c", remove], check=False, capture_output=True)
        if not KEEP:
            shutil.rmtree(workdir, ignore_errors=True)


class DemoRelease:
    """The five demo modules as last deployed; each release changes some of them (a version
    bump and a new field replacing the previous one: a schema change on upgrade)."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.versions, self.extra = {}, {}
        self.count = 0

    def package(self, changed):
        self.count += 1
        for name in changed:
            self.versions[name] = f"18.0.1.0.{self.count}"
            self.extra[name] = f"field_{self.count}"
        path, built = package(self.workdir, f"1.0.{self.count}", dict(self.versions), extra=dict(self.extra))
        return path, built


def deploy_timed(client, release, changed, expected_plan):
    path, built = release.package(changed)
    started = time.monotonic()
    result = deploy_package(client, path, built["sha256"], built["manifest"])
    elapsed = time.monotonic() - started
    got = {key: result.plan.get(key) or [] for key in expected_plan}
    if got != expected_plan:
        raise RuntimeError(f"release {built['manifest']['version']}: plan {result.plan}, expected {expected_plan}")
    return elapsed, result


def phases(result):
    """Seconds per step of ``deploy_package``, from its timeline: upload and plan; the agent
    (backup, code switch, ``-u``, restart; polled every second); health; verification."""
    marks = {step.split(":")[0]: t for t, step in result.timeline}
    done = next(t for step, t in marks.items() if step.startswith("agent ") and step != "agent started")
    return {
        "plan": marks["planned"],
        "agent": done - marks["planned"],
        "health": marks["healthy"] - done,
        "verify": marks["verified"] - marks["healthy"],
    }


def upgrade_log_span(target, receipt):
    """First to last timestamped Odoo line of the agent's ``odoo-bin -u`` run, in seconds."""
    path = os.path.join(target.managed, "deploys", str(receipt), "agent.log")
    with open(path, encoding="utf-8", errors="replace") as handle:
        stamps = [m.group(1) for m in map(ODOO_LOG_TIME.match, handle) if m]
    if len(stamps) < 2:
        return None
    first, last = (datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f") for s in (stamps[0], stamps[-1]))
    return (last - first).total_seconds()


def bench_selective_upgrade():
    started_part = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="igr-bench-deploy-")
    target = Target(os.path.join(workdir, "target"), PORT + 40, f"{DB}_deploy")
    ok = False
    try:
        target.start()
        client = OdooTarget(target.url, target.db, "deployer", target.key)
        release = DemoRelease(workdir)
        setup_s = time.monotonic() - started_part
        first_s, _ = deploy_timed(client, release, MODULES, {"install": MODULES, "upgrade": []})
        full, selective, ratios = [], [], []
        spans, steps_s = {"full": [], "selective": []}, {"full": [], "selective": []}
        for index in range(ROUNDS):
            round_started = time.monotonic()
            one = MODULES[(index + 2) % len(MODULES)]
            steps = [("full", MODULES, {"install": [], "upgrade": MODULES}), ("selective", [one], {"install": [], "upgrade": [one]})]
            if index % 2:
                steps.reverse()  # alternate the order: neither kind always runs on a warmer target
            times = {}
            for kind, changed, plan in steps:
                times[kind], result = deploy_timed(client, release, changed, plan)
                spans[kind].append(upgrade_log_span(target, result.receipt))
                steps_s[kind].append(phases(result))
            full.append(times["full"])
            selective.append(times["selective"])
            ratios.append(times["selective"] / times["full"])
            elapsed = time.monotonic() - started_part
            if len(ratios) >= 2 and elapsed + (time.monotonic() - round_started) > DEPLOY_BUDGET_S:
                break
        ok = True
        metrics = {
            "selective_upgrade_ratio": round(statistics.median(ratios), 3),
            "selective_upgrade_s_p50": p50(selective),
            "full_upgrade_s_p50": p50(full),
            "selective_upgrade_ratio_per_round": [round(r, 3) for r in ratios],
            # where the time goes: the `odoo-bin -u` run alone (from its log), and the steps
            "selective_upgrade_odoo_u_s_p50": p50(spans["selective"]),
            "full_upgrade_odoo_u_s_p50": p50(spans["full"]),
            "deploy_phases_s_p50": {
                kind: {phase: p50([row[phase] for row in rows]) for phase in rows[0]} for kind, rows in steps_s.items()
            },
            "selective_upgrade_rounds": len(ratios),
            "selective_upgrade_setup_s": round(setup_s, 1),
            "selective_upgrade_first_install_s": round(first_s, 1),
        }
        return metrics, {"selective_upgrade_ratio": "<= 0.35"}
    finally:
        target.stop()
        for name in databases(f"{target.db}_"):  # what a failed deploy leaves: <db>_failed_*, <db>_restore_*
            drop_database(name)
        if ok and not KEEP:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not ok:
            print(f"selective_upgrade: logs kept in {workdir}", file=sys.stderr)


PARTS = {"runner": bench_runner, "selective_upgrade": bench_selective_upgrade, "scale": bench_scale, "odoo_realistic": bench_odoo_realistic}


def main(argv):
    names = argv or list(PARTS)
    unknown = [name for name in names if name not in PARTS]
    if unknown:
        sys.stderr.write(f"usage: scripts/bench [{'|'.join(PARTS)}]...  (unknown: {', '.join(unknown)})\n")
        return 64
    result, goals, errors, part_s = {}, {}, {}, {}
    for name in names:
        started = time.monotonic()
        try:
            metrics, part_goals = PARTS[name]()
            result.update(metrics)
            goals.update(part_goals)
        except Exception as exc:  # one part failing must not hide the others' numbers
            traceback.print_exc()
            errors[name] = f"{type(exc).__name__}: {exc}"
        part_s[name] = round(time.monotonic() - started, 1)
    result.update(rounds=ROUNDS, goals=goals, part_s=part_s)
    if errors:
        result["errors"] = errors
    print(json.dumps(result, indent=2))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
