"""Stage logic without Odoo: what a stage's job states mean, which jobs may start now."""

import pytest

from influencegen_release.engine.execution.stages import (
    JobView,
    job_plan,
    needs_window,
    open_stage_state,
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
