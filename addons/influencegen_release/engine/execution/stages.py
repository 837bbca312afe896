"""What the jobs of one stage mean, and which of them may start now.

Plain functions over job views: anything with ``state``, ``mode`` and ``allow_failure``
attributes (``release.job`` records, or ``JobView``), given in the order the stage writes its
tasks. ``release.run`` reads its stages through them; they never touch the database.
"""

from typing import NamedTuple

from ..pipeline.spec import ref_matches
from ..vocabulary import JOB_DONE_STATES as DONE_STATES

ACTIVE_STATES = ("queued", "starting", "running")  # a job the scheduler holds
DEPLOY_ACTIONS = frozenset({"odoo.deploy", "n8n.deploy", "image.deploy"})
APPLY_ACTIONS = frozenset({"iac.apply"})
PUSH_ACTIONS = frozenset({"image.push"})
PLAN_REPORTS = frozenset({"terraform-plan-json"})
PLAN_ACTIONS = frozenset({"iac.plan"})  # its plan is the stage's iac_plan artifact


class JobView(NamedTuple):
    """The part of a job these functions read."""

    state: str
    mode: str = "run"  # run (a container), uses (a built-in action) or checklist
    allow_failure: bool = False
    task_key: str = ""
    stage_key: str = ""


def job_plan(spec, ref):
    """The jobs of a run of pipeline ``spec`` (its normalised snapshot) on Git ``ref``: one per
    task, in written order, as the values they are created with, keyed by the snapshot's keys
    (``environment`` is the stage's environment code). A stage limited to other branches is
    skipped from the start."""
    jobs = []
    for stage in spec["stages"]:
        applies = not stage["branches"] or ref_matches(stage["branches"], ref)
        for task in stage["tasks"]:
            jobs.append(
                {
                    "stage_key": stage["key"],
                    "stage_sequence": stage["sequence"],
                    "environment": stage.get("environment") or False,
                    "task_key": task["key"],
                    "sequence": task["sequence"],
                    "name": task["name"],
                    "allow_failure": task["allow_failure"],
                    "mode": task["mode"],
                    "required_labels": ", ".join(task.get("labels", [])) or False,
                    "state": "pending" if applies else "skipped",
                }
            )
    return jobs


def stage_state(jobs):
    """The state of a stage from the states of its jobs.

    A failed job that may not fail fails the stage as soon as nothing runs any more: what has
    not started yet never will. A stage whose jobs are all skipped (or that has none) is
    skipped."""
    states = {job.state for job in jobs}
    if states <= {"skipped"}:
        return "skipped"
    if states & {"starting", "running"}:
        return "running"
    if "queued" in states:
        return "queued"
    if "waiting" in states:
        return "waiting"
    if any(job.state == "failed" and not job.allow_failure for job in jobs):
        return "failed"
    if "cancelled" in states:
        return "cancelled"
    if "pending" in states:
        return "pending"
    return "succeeded"


def startable(jobs):
    """The pending jobs of a stage that may start now, in written order.

    Container tasks run side by side. Checklists and built-in actions run in the order they
    are written, each after everything before it in the stage has finished, and nothing after
    them starts before they finish."""
    ready, earlier_open = [], False
    for job in jobs:
        if job.state in DONE_STATES:
            continue
        ordered = job.mode != "run"
        if job.state == "pending" and not (ordered and earlier_open):
            ready.append(job)
        earlier_open = True
        if ordered:
            break
    return ready


def need_met(job):
    """A needed job is done for its dependents: succeeded, failed where it may fail, or
    skipped (its stage does not run on this ref: there is nothing to wait for)."""
    return job is None or job.state in ("succeeded", "skipped") or (job.state == "failed" and job.allow_failure)


def ready_jobs(stages, jobs, current):
    """The pending jobs of a run that may start now, as ``[(stage, [jobs])]`` in stage order.

    ``stages`` are the run's snapshot stages (tasks with ``needs``: task keys), ``jobs`` its
    job views (``task_key``, ``stage_key``), each stage's in written order, and ``current``
    the index of the open stage: the first one not finished, whose approval (when manual) is
    given. Its startable jobs start once the tasks they need are done. A task of a later stage
    that ``needs`` tasks starts as soon as they are done, without waiting for the rest of the
    stages before it (GitLab's ``needs``), unless a manual stage lies between: it waits for
    that stage's approval, as every job of a manual stage does. Jobs with no ``needs`` keep the
    stage order.
    """
    by_task = {job.task_key: job for job in jobs}
    ready = []
    for index in range(current, len(stages)):
        stage = stages[index]
        if index > current and stage["trigger"] == "manual":
            break
        needs = {task["key"]: task.get("needs") or [] for task in stage["tasks"]}
        stage_jobs = [job for job in jobs if job.stage_key == stage["key"]]
        chosen = [
            job
            for job in startable(stage_jobs)
            if (index == current or needs.get(job.task_key)) and all(need_met(by_task.get(k)) for k in needs.get(job.task_key, []))
        ]
        if chosen:
            ready.append((stage, chosen))
    return ready


def needs_window(stage, task, mode):
    """True when a job of ``task`` in ``stage`` (spec dicts of the run's snapshot) deploys only
    inside its environment's maintenance window: the task asks for it, or the stage's approval
    does (then for every job but its checklists)."""
    if not stage.get("environment"):
        return False
    return bool(task.get("window") or ((stage.get("approval") or {}).get("window") and mode != "checklist"))


def open_stage_state(jobs, held):
    """What the run waits for while this stage is open: ``held`` says that jobs ready to start
    wait for the maintenance window."""
    states = {job.state for job in jobs}
    if states & set(ACTIVE_STATES):
        return "running"
    if held:
        return "waiting_window"
    return "waiting_checklist" if "waiting" in states else "running"


def stage_events(stage, outcome, environment_kind=False):
    """The notification events a finished ``stage`` (of a run's snapshot) gives: ``outcome``
    is 'succeeded' or 'failed', ``environment_kind`` the kind of the stage's environment.

    A stage with an environment deploys (odoo.deploy, n8n.deploy, image.deploy) or applies
    (iac.apply, or any stage on an infrastructure environment); a failed stage without an
    environment is a failed build; a failed stage on an environment that neither deploys nor
    applies failed a validation. image.push also gives push_succeeded, a Terraform plan report
    (or iac.plan) plan_ready."""
    uses = {task.get("uses") for task in stage.get("tasks", [])}
    reports = {report.get("format") for task in stage.get("tasks", []) for report in task.get("reports") or []}
    succeeded = outcome == "succeeded"
    events = []
    if stage.get("environment"):
        if uses & APPLY_ACTIONS or (environment_kind == "iac" and not uses & DEPLOY_ACTIONS):
            events.append("apply_succeeded" if succeeded else "apply_failed")
        elif uses & DEPLOY_ACTIONS:
            events.append("deploy_succeeded" if succeeded else "deploy_failed")
        elif not succeeded:
            events.append("validation_failed")
    elif not succeeded:
        events.append("build_failed")
    if succeeded and uses & PUSH_ACTIONS:
        events.append("push_succeeded")
    if succeeded and (reports & PLAN_REPORTS or uses & PLAN_ACTIONS):
        events.append("plan_ready")
    return events
