"""Stage logic without Odoo: what a stage's job states mean, which jobs may start now."""

import pytest

from influencegen_release.engine.execution.stages import (
    JobView,
    job_plan,
    needs_window,
    open_stage_state,
    ready_jobs,
    stage_events,
    stage_state,
    startable,
)


def jobs(*states, mode="run"):
    return [JobView(state, mode) for state in states]


@pytest.mark.parametrize(
    ("views", "expected"),
    [
        ([], "skipped"),
        (jobs("skipped", "skipped"), "skipped"),
        (jobs("succeeded", "running", "failed"), "running"),
        (jobs("starting", "queued"), "running"),
        (jobs("queued", "waiting", "failed"), "queued"),
        (jobs("waiting", "failed", "pending"), "waiting"),
        (jobs("failed", "pending", "cancelled"), "failed"),
        ([JobView("failed", allow_failure=True), JobView("cancelled")], "cancelled"),
        ([JobView("failed", allow_failure=True), JobView("pending")], "pending"),
        ([JobView("failed", allow_failure=True), JobView("succeeded"), JobView("skipped")], "succeeded"),
        (jobs("succeeded", "skipped"), "succeeded"),
    ],
)
def test_stage_state(views, expected):
    assert stage_state(views) == expected


def test_containers_start_side_by_side():
    views = jobs("pending", "succeeded", "pending", "running", "pending")
    assert startable(views) == [views[0], views[2], views[4]]


def test_nothing_pending_nothing_starts():
    assert startable(jobs("succeeded", "skipped", "running")) == []
    assert startable([]) == []


def test_an_ordered_task_waits_for_everything_before_it():
    views = [JobView("running"), JobView("pending", "uses"), JobView("pending")]
    assert startable(views) == [], "the action waits for the container, the container after it for the action"
    views = [JobView("pending"), JobView("pending", "checklist")]
    assert startable(views) == [views[0]], "the checklist waits for the container queued with it"


def test_an_ordered_task_starts_alone_once_what_precedes_it_is_done():
    views = [JobView("succeeded"), JobView("skipped", "uses"), JobView("pending", "uses"), JobView("pending")]
    assert startable(views) == [views[2]]


def test_nothing_after_an_unfinished_ordered_task_starts():
    for state in ("queued", "running", "waiting"):
        views = [JobView(state, "checklist"), JobView("pending"), JobView("pending", "uses")]
        assert startable(views) == [], state


def test_containers_before_an_ordered_task_start_without_it():
    views = [JobView("pending"), JobView("pending"), JobView("pending", "uses"), JobView("pending")]
    assert startable(views) == views[:2]


def test_needs_window():
    task = {"window": True}
    assert not needs_window({"environment": False}, task, "uses"), "no environment, no window"
    assert needs_window({"environment": "odoo-prod"}, task, "checklist"), "the task asks for it"
    assert not needs_window({"environment": "odoo-prod"}, {}, "uses")
    stage = {"environment": "odoo-prod", "approval": {"window": True}}
    assert needs_window(stage, {}, "uses"), "the approval asks for it"
    assert needs_window(stage, {"window": False}, "run")
    assert not needs_window(stage, {}, "checklist"), "checklists are done outside the window"
    assert not needs_window({"environment": "odoo-prod", "approval": None}, {}, "uses")


@pytest.mark.parametrize(
    ("states", "held", "expected"),
    [
        (("queued", "pending"), True, "running"),
        (("starting",), False, "running"),
        (("running", "waiting"), False, "running"),
        (("pending", "waiting"), True, "waiting_window"),
        (("pending", "waiting"), False, "waiting_checklist"),
        (("pending", "succeeded"), False, "running"),
    ],
)
def test_open_stage_state(states, held, expected):
    assert open_stage_state(jobs(*states), held) == expected


def task(key, sequence, mode="run", **extra):
    return dict({"key": key, "sequence": sequence, "name": key.title(), "allow_failure": False, "mode": mode}, **extra)


SPEC = {
    "stages": [
        {"key": "build", "sequence": 1, "branches": [], "tasks": [task("lint", 1), task("test", 2, allow_failure=True)]},
        {
            "key": "deploy",
            "sequence": 2,
            "branches": ["main", "release/*"],
            "environment": "odoo-prod",
            "tasks": [task("deploy", 1, "uses", labels=["docker", "prod"])],
        },
    ]
}


def test_job_plan_one_job_per_task_in_written_order():
    plan = job_plan(SPEC, "refs/heads/main")
    assert [(j["stage_key"], j["task_key"]) for j in plan] == [("build", "lint"), ("build", "test"), ("deploy", "deploy")]
    assert plan[0] == {
        "stage_key": "build",
        "stage_sequence": 1,
        "environment": False,
        "task_key": "lint",
        "sequence": 1,
        "name": "Lint",
        "allow_failure": False,
        "mode": "run",
        "required_labels": False,
        "state": "pending",
    }
    assert plan[1]["allow_failure"]
    assert (plan[2]["environment"], plan[2]["mode"], plan[2]["required_labels"]) == ("odoo-prod", "uses", "docker, prod")
    assert plan[2]["stage_sequence"] == 2


def test_job_plan_skips_stages_of_other_branches():
    plan = job_plan(SPEC, "refs/heads/feature/x")
    assert [j["state"] for j in plan] == ["pending", "pending", "skipped"]
    assert job_plan(SPEC, "refs/heads/release/2.0")[2]["state"] == "pending"


def stage(environment=False, *uses, reports=()):
    tasks = [{"uses": u} for u in uses] + [{"uses": None, "reports": [{"format": f} for f in reports]}]
    return {"key": "s", "environment": environment, "tasks": tasks}


@pytest.mark.parametrize(
    ("spec", "outcome", "kind", "expected"),
    [
        (stage(False, "git.checkout"), "failed", False, ["build_failed"]),
        (stage(False, "git.checkout"), "succeeded", False, []),
        (stage("odoo-dev", "odoo.deploy", "odoo.migrate"), "succeeded", "odoo", ["deploy_succeeded"]),
        (stage("n8n-prod", "n8n.deploy"), "failed", "n8n", ["deploy_failed"]),
        (stage("svc", "image.deploy"), "failed", "docker", ["deploy_failed"]),
        (stage("odoo-dev", "iac.apply"), "succeeded", "odoo", ["apply_succeeded"]),
        (stage("infra-dev"), "failed", "iac", ["apply_failed"]),
        (stage("infra-dev", "image.deploy"), "succeeded", "iac", ["deploy_succeeded"]),
        (stage("odoo-staging", "odoo.smoke"), "failed", "odoo", ["validation_failed"]),
        (stage("odoo-staging", "odoo.smoke"), "succeeded", "odoo", []),
        (stage("registry", "image.tag", "image.push"), "succeeded", "docker", ["push_succeeded"]),
        (stage(False, reports=["terraform-plan-json"]), "succeeded", False, ["plan_ready"]),
        (stage(False, reports=["terraform-plan-json"]), "failed", False, ["build_failed"]),
        (stage("infra-dev", "iac.plan"), "succeeded", "iac", ["apply_succeeded", "plan_ready"]),
        ({"key": "empty"}, "failed", False, ["build_failed"]),
    ],
)
def test_stage_events(spec, outcome, kind, expected):
    assert stage_events(spec, outcome, kind) == expected


# -- needs: a task starts as soon as the tasks it needs are done --------------------------------

NEEDS_STAGES = [
    {"key": "build", "trigger": "auto", "tasks": [{"key": "lint"}, {"key": "compile"}]},
    {"key": "test", "trigger": "auto", "tasks": [{"key": "unit", "needs": ["compile"]}, {"key": "e2e"}]},
    {"key": "package", "trigger": "auto", "tasks": [{"key": "zip", "needs": ["compile"]}]},
    {"key": "prod", "trigger": "manual", "tasks": [{"key": "deploy", "needs": ["zip"]}]},
]


def needs_jobs(**states):
    stage_of = {t["key"]: s["key"] for s in NEEDS_STAGES for t in s["tasks"]}
    return [JobView(state, task_key=key, stage_key=stage_of[key]) for key, state in states.items()]


def ready(views, current=0):
    return {stage["key"]: [job.task_key for job in chosen] for stage, chosen in ready_jobs(NEEDS_STAGES, views, current)}


def test_a_task_that_needs_a_finished_task_starts_before_its_stage_opens():
    views = needs_jobs(lint="running", compile="succeeded", unit="pending", e2e="pending", zip="pending", deploy="pending")
    # lint still runs: e2e (no needs) waits for its stage; unit and zip need only compile.
    assert ready(views) == {"test": ["unit"], "package": ["zip"]}


def test_a_task_waits_while_what_it_needs_runs_or_failed():
    views = needs_jobs(lint="succeeded", compile="running", unit="pending", e2e="pending", zip="pending", deploy="pending")
    assert ready(views) == {}
    views = needs_jobs(lint="succeeded", compile="failed", unit="pending", e2e="pending", zip="pending", deploy="pending")
    assert ready(views) == {}
    views = [v._replace(allow_failure=True) if v.task_key == "compile" else v for v in views]
    assert ready(views) == {"test": ["unit"], "package": ["zip"]}


def test_a_task_across_a_manual_stage_waits_for_its_approval():
    # zip done while the test stage still runs: deploy (manual stage) does not start early.
    views = needs_jobs(lint="succeeded", compile="succeeded", unit="succeeded", e2e="running", zip="succeeded", deploy="pending")
    assert ready(views, current=1) == {}
    # Once the run reaches the manual stage, it is the open stage: approved, its jobs start.
    done = needs_jobs(lint="succeeded", compile="succeeded", unit="succeeded", e2e="succeeded", zip="succeeded", deploy="pending")
    assert ready(done, current=3) == {"prod": ["deploy"]}


def test_the_open_stage_keeps_its_order_and_its_own_needs():
    stages = [{"key": "s", "trigger": "auto", "tasks": [{"key": "a"}, {"key": "b", "needs": ["a"]}, {"key": "c"}]}]
    views = [JobView("pending", task_key=k, stage_key="s") for k in "abc"]
    assert [job.task_key for _stage, chosen in ready_jobs(stages, views, 0) for job in chosen] == ["a", "c"]
    views[0] = views[0]._replace(state="succeeded")
    assert [job.task_key for _stage, chosen in ready_jobs(stages, views, 0) for job in chosen] == ["b", "c"]
    # A skipped need (its stage does not run on this ref) holds nothing back.
    views[0] = views[0]._replace(state="skipped")
    assert [job.task_key for _stage, chosen in ready_jobs(stages, views, 0) for job in chosen] == ["b", "c"]
