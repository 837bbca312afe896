"""Every key of the pipeline format acts (issue 16.9).

The vocabulary is read from the validator itself: the keys each mapping of the format accepts
(recorded while it checks the documentation's complete example and the seed pipelines), the
built-in actions (``uses``), trigger events, notification events, rollback strategies, report
formats and approval exclusions of ``engine/pipeline/schema.py``. Each must be in ``ACTS`` with
the place that acts on it: a snippet of the addon's code outside the validator and the loader
(storing a key is not acting on it), or a kind of key that needs no code (``SHOWN``: text for
people, shown on the records the loader makes; ``NESTS``: holds other keys, checked each).
A key added to the format without a place that acts on it fails here; ``PENDING`` marks the
keys other work items are making act, to be tightened when they land.
"""

import re

import pytest

from influencegen_release.engine.pipeline import check_values, spec
from influencegen_release.engine.pipeline.schema import (
    ACTIONS,
    EXCLUSIONS,
    NOTIFY_EVENTS,
    REPORT_FORMATS,
    ROLLBACK_STRATEGIES,
    TRIGGER_EVENTS,
)
from influencegen_release.engine.quality.reports import PARSERS

from .conftest import ADDON, ROOT

SHOWN = "shown"  # descriptive text and identifiers, stored on records and shown to people
NESTS = "nests"  # a list or mapping of other keys, each checked on its own


def PENDING(item):
    return ("pending", item)


NOTIFY = "models/notification/release_notification.py"
STAGES = "engine/execution/stages.py"
RUNNER = "engine/execution/docker_runner.py"
GATES = "engine/quality/gates.py"
POLICY = "engine/approval/policy.py"
APPROVAL = "models/approval/release_approval.py"
TRIGGER = "models/pipeline/release_pipeline_trigger.py"

ACTS = {
    "file": {"version": ("engine/pipeline/check_pipeline.py", "doc[\"version\"] != FORMAT_VERSION"),
             "environments": NESTS, "pipeline": NESTS, "pipelines": NESTS},
    "environment": {
        "code": ("engine/execution/stages.py", "stage.get(\"environment\")"),
        "name": SHOWN, "description": SHOWN,
        "tier": ("models/delivery/release_environment.py", "TIER_SEQUENCE[d.environment_id.tier]"),
        "kind": ("models/delivery/release_environment.py", "_deployer"),
        "url": ("models/delivery/odoo/release_deployer_odoo.py", "environment.url"),
        "database": ("models/delivery/odoo/release_deployer_odoo.py", "environment.database"),
        "credentials": ("models/delivery/odoo/release_deployer_odoo.py", "_resolve(environment.credentials_ref)"),
        "calendar": ("models/delivery/release_environment.py", "calendar = self.calendar_id"),
        "block_on_drift": ("models/delivery/odoo/release_deployer_odoo.py", "environment.block_on_drift"),
    },
    "pipeline": {
        "code": SHOWN, "name": SHOWN, "description": SHOWN, "requirements": SHOWN,
        "kind": (NOTIFY, "GATE_FAILURE_EVENT.get(run.pipeline_id.kind"),
        "triggers": NESTS, "defaults": NESTS, "stages": NESTS, "rollback": NESTS, "notifications": NESTS,
        "on_success": (TRIGGER, "run._spec().get(\"on_success\", [])"),
    },
    "defaults": {key: ("engine/pipeline/check_stages.py", f"defaults[\"{key}\"]") for key in ("timeout", "cpus", "memory", "pids", "network")}
    | {"image": ("engine/pipeline/check_stages.py", "defaults.get(\"image\")")},  # they become each task's own values
    "trigger": {
        "event": (TRIGGER, "def _start_push"),
        "branches": (TRIGGER, "patterns = self.branch_patterns if self.event == \"push\""),
        "tags": (TRIGGER, "else self.tag_patterns"),
        "paths": (TRIGGER, "push.paths_decision(t._paths(), comparison)"),
        "pipeline": (TRIGGER, "(\"source_pipeline_code\", \"=\", run.pipeline_id.code)"),
        "result": (TRIGGER, "(\"source_result\", \"in\", [run.state, \"any\"])"),
        "schedule": (TRIGGER, "parse_schedule(self.schedule).next_after(now)"),
    },
    "stage": {
        "name": SHOWN, "key": (STAGES, "\"stage_key\": stage[\"key\"]"), "description": SHOWN, "requirements": SHOWN,
        "trigger": ("models/run/release_run_advance.py", "stage[\"trigger\"] == \"manual\""),
        "branches": (STAGES, "ref_matches(stage[\"branches\"], ref)"),
        "environment": (STAGES, "\"environment\": stage.get(\"environment\")"),
        "tasks": NESTS, "gates": NESTS, "approval": NESTS,
    },
    "task": {
        "name": SHOWN, "description": SHOWN, "tool": SHOWN, "requirements": SHOWN,
        "key": (STAGES, "\"task_key\": task[\"key\"]"),
        "needs": (STAGES, "task.get(\"needs\") or []"),
        "outputs": ("models/run/release_job_files.py", "self._save_outputs(client, container_id, task[\"outputs\"])"),
        "cache": ("models/run/release_job_files.py", "self._save_cache(client, container_id, task[\"cache\"][\"paths\"])"),
        "run": ("models/run/release_scheduler_start.py", "task[\"run\"]"),
        "image": ("models/run/release_scheduler_start.py", "task[\"image\"]"),
        "uses": ("models/run/release_action.py", "\"_action_\" + task[\"uses\"]"),
        "with": ("models/delivery/docker/release_action_image.py", "task.get(\"with\")"),
        "checklist": ("models/run/release_job.py", "task[\"checklist\"]"),
        "confirm_by": ("models/run/release_job.py", "task.get(\"confirm_by\")"),
        "timeout": ("models/run/release_scheduler.py", "job.deadline_at"),
        "cpus": (RUNNER, "\"cpus\": task[\"cpus\"]"),
        "memory": (RUNNER, "task[\"memory\"]"),
        "pids": (RUNNER, "task[\"pids\"]"),
        "network": (RUNNER, "\"network\": task[\"network\"]"),
        "allow_failure": (STAGES, "\"allow_failure\": task[\"allow_failure\"]"),
        "retry": NESTS,
        "reports": NESTS,
        "artifacts": ("engine/execution/outputs.py", "task[\"artifacts\"]"),
        "secrets": ("models/run/release_job.py", "self._spec().get(\"secrets\", [])"),
        "env": ("models/run/release_scheduler_start.py", "dict(task[\"env\"]"),
        "window": (STAGES, "task.get(\"window\")"),
    },
    "task.cache": {
        "key_file": ("models/run/release_job_files.py", "cache[\"key_file\"], content, *cache[\"paths\"]"),
        "paths": ("models/run/release_job_files.py", "task[\"cache\"][\"paths\"]"),
    },
    "retry": {
        "exit_codes": ("models/run/release_scheduler.py", "exit_code in retry[\"exit_codes\"]"),
        "max": ("models/run/release_scheduler.py", "retry[\"max\"]"),
    },
    "report": {
        "format": ("engine/execution/outputs.py", "report[\"format\"]"),
        "path": ("engine/execution/outputs.py", "report[\"path\"]"),
    },
    "approval": {
        "rules": (POLICY, "policy[\"rules\"]"),
        "order": (POLICY, "policy.get(\"order\") == \"sequential\""),
        "exclude": (APPROVAL, "spec_policy.get(\"exclude\""),
        "reject_on_any": (POLICY, "policy.get(\"reject_on_any\", True)"),
        "comment_required": ("models/approval/release_approval_vote.py", "comment_required"),
        "evidence": (APPROVAL, "spec_policy.get(\"evidence\") == \"uat\""),
        "deadline": (APPROVAL, "spec_policy.get(\"deadline\""),
        "remind": (APPROVAL, "policy.get(\"remind\""),
        # Notifies the group today; deciding in place of the overdue approvers is 16.4.
        "escalate_to": ("models/approval/release_approval_escalation.py", "self._policy().get(\"escalate_to\", \"release_manager\")"),
        "window": (STAGES, "(stage.get(\"approval\") or {}).get(\"window\")"),
    },
    "approval.rule": {"group": (POLICY, "r[\"group\"]"), "quorum": (POLICY, "r[\"quorum\"]")},
    "gate": {
        "name": SHOWN, "description": SHOWN, "requirements": SHOWN,
        "key": ("models/quality/release_gate_result.py", "gate[\"key\"]"),
        "type": ("models/quality/release_gate_result.py", "gate[\"type\"] == \"manual\""),
        "criteria": ("models/quality/release_gate_result.py", "evaluate(gate[\"criteria\"]"),
        "baseline": ("models/quality/release_gate_result.py", "self._baseline_run(run, gate[\"baseline\"])"),
    },
    "criterion": {"findings": NESTS, "tests": NESTS, "succeeded": (GATES, "\"succeeded\"")},
    "criterion.findings": {
        "from": (GATES, "criterion[\"from\"]"),
        "severity": (GATES, "criterion[\"severity\"]"),
        "new": (GATES, "criterion.get(\"new\")"),
        "max": (GATES, "criterion[\"max\"]"),
        "tools": (GATES, "criterion.get(\"tools\")"),
        "rules": (GATES, "criterion.get(\"rules\")"),
        "unknown": (GATES, "criterion.get(\"unknown\") == \"warn\""),
    },
    "criterion.tests": {
        "from": (GATES, "criterion[\"from\"]"),
        "max_failed": (GATES, "criterion[\"max_failed\"]"),
        "min_total": (GATES, "criterion[\"min_total\"]"),
    },
    "rollback": {
        "strategy": ("engine/pipeline/check_pipeline.py", "ROLLBACK_STRATEGY_OF_KIND.get(kind) != strategy"),
        "restore_database": ("models/delivery/odoo/release_deployer_odoo.py", "rollback.get(\"restore_database\")"),
        "automatic": ("models/delivery/release_run_rollback.py", "(self._spec().get(\"rollback\") or {}).get(\"automatic\")"),
        "description": SHOWN,
    },
    "notification": {
        "events": (NOTIFY, "rule.get(\"events\""),
        "channels": (NOTIFY, "rule.get(\"channels\", [])"),
        "groups": (NOTIFY, "rule.get(\"groups\""),
        "slack_webhook": (NOTIFY, "slack_webhook"),
    },
}
# What emits each notification event.
EVENTS = {
    "build_failed": (STAGES, "events.append(\"build_failed\")"),
    "validation_failed": (STAGES, "events.append(\"validation_failed\")"),
    "scan_failed": (NOTIFY, "\"docker\": \"scan_failed\""),
    "plan_ready": (STAGES, "events.append(\"plan_ready\")"),
    "deploy_succeeded": (STAGES, "\"deploy_succeeded\" if succeeded"),
    "deploy_failed": (STAGES, "else \"deploy_failed\""),
    "apply_succeeded": (STAGES, "\"apply_succeeded\" if succeeded"),
    "apply_failed": (STAGES, "else \"apply_failed\""),
    "push_succeeded": (STAGES, "events.append(\"push_succeeded\")"),
    "approval_requested": ("models/approval/release_approval.py", "_enqueue(run, \"approval_requested\""),
    "run_succeeded": (NOTIFY, "f\"run_{run.state}\""),
    "run_failed": (NOTIFY, "f\"run_{run.state}\""),
}
TRIGGER_EVENT_ACTS = {
    "push": (TRIGGER, "self.event == \"push\" and ref.startswith(\"refs/tags/\")"),
    "tag": (TRIGGER, "\"tag\" if ref.startswith(\"refs/tags/\")"),
    "manual": (TRIGGER, "trigger_kind=\"manual\""),
    "schedule": (TRIGGER, "(\"event\", \"=\", \"schedule\"), (\"next_run_at\", \"<=\", now)"),
    "pipeline": (TRIGGER, "(\"event\", \"=\", \"pipeline\")"),
}
# Each strategy is what a rollback does on one kind of environment (the file is refused otherwise);
# "none" takes the run off the rollback path.
STRATEGY_ACTS = {s: ("engine/vocabulary.py", f'"{s}"') for s in ROLLBACK_STRATEGIES if s != "none"}
STRATEGY_ACTS["none"] = ("models/run/release_run_advance.py", "get(\"strategy\", \"none\") == \"none\"")
EXCLUSION_ACTS = {"author": (APPROVAL, "\"author\" in exclusions"), "triggerer": (APPROVAL, "\"triggerer\" in exclusions")}


def sections_of_the_format():
    """``{section: allowed keys}``, recorded from the validator's ``mapping`` calls while it
    checks the documentation's complete example and the seed pipelines."""
    seen = {}
    original = check_values.ValueChecker.mapping

    def record(self, value, path, line, allowed, required=()):
        seen.setdefault(_section(path), set()).update(allowed)
        return original(self, value, path, line, allowed, required)

    check_values.ValueChecker.mapping = record
    try:
        doc = (ROOT / "docs" / "pipeline-format.md").read_text(encoding="utf-8")
        example = re.search(r"## Complete example\n\n```yaml\n(.*?)```", doc, re.S).group(1)
        spec.load_pipeline_file(example, "docs/pipeline-format.md")
        for path in sorted((ADDON / "data" / "pipelines").glob("*.yml")):
            spec.read_pipeline_file(path)
    finally:
        check_values.ValueChecker.mapping = original
    return seen


def _section(path):
    path = re.sub(r"\[\d+\]", "[]", path).replace("pipelines[]", "pipeline")
    names = {
        "(file)": "file", "environments[]": "environment", "pipeline": "pipeline", "pipeline.defaults": "defaults",
        "pipeline.triggers[]": "trigger", "pipeline.stages[]": "stage", "pipeline.stages[].tasks[]": "task",
        "pipeline.stages[].tasks[].retry": "retry", "pipeline.stages[].tasks[].reports[]": "report",
        "pipeline.stages[].approval": "approval", "pipeline.stages[].approval.rules[]": "approval.rule",
        "pipeline.stages[].gates[]": "gate", "pipeline.stages[].gates[].criteria[]": "criterion",
        "pipeline.stages[].gates[].criteria[].findings": "criterion.findings",
        "pipeline.stages[].gates[].criteria[].tests": "criterion.tests", "pipeline.rollback": "rollback",
        "pipeline.notifications[]": "notification", "pipeline.stages[].tasks[].cache": "task.cache",
    }
    return names.get(path, path)


def addon_text(relative):
    return (ADDON / relative).read_text(encoding="utf-8")


def unresolved(registry, words, what):
    """The problems of ``registry`` for the vocabulary ``words``: a word with no entry, an
    entry whose code is gone, an entry for a word the format no longer has."""
    problems = [f"{what} '{w}': nothing acts on it (add the code that does, and its entry here)" for w in sorted(set(words) - set(registry))]
    problems += [f"{what} '{w}': in the registry but no longer in the format" for w in sorted(set(registry) - set(words))]
    for word in sorted(set(words) & set(registry)):
        entry = registry[word]
        if isinstance(entry, tuple) and entry[0] != "pending":
            path, snippet = entry
            assert not path.startswith("engine/pipeline/schema") and "release_pipeline_loader" not in path
            if snippet not in addon_text(path):
                problems.append(f"{what} '{word}': {path} no longer contains {snippet!r}")
    return problems


def test_every_key_of_every_mapping_acts():
    sections = sections_of_the_format()
    assert set(sections) == set(ACTS), f"sections seen by the validator: {sorted(sections)}"
    problems = []
    for section, allowed in sorted(sections.items()):
        problems += unresolved(ACTS[section], allowed, section)
    assert not problems, "\n".join(problems)


def test_every_action_has_its_handler():
    """Each ``uses`` value is carried out by ``_action_<name>`` of the built-in actions."""
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ADDON / "models").rglob("*.py"))
    missing = [name for name in ACTIONS if f"def _action_{name.replace('.', '_')}(self, job, task)" not in sources]
    assert not missing, f"actions without a handler: {missing}"


@pytest.mark.parametrize(
    ("registry", "words", "what"),
    [
        (EVENTS, NOTIFY_EVENTS, "notification event"),
        (TRIGGER_EVENT_ACTS, TRIGGER_EVENTS, "trigger event"),
        (STRATEGY_ACTS, ROLLBACK_STRATEGIES, "rollback strategy"),
        (EXCLUSION_ACTS, EXCLUSIONS, "approval exclusion"),
    ],
)
def test_every_value_acts(registry, words, what):
    problems = unresolved(registry, words, what)
    assert not problems, "\n".join(problems)


def test_every_report_format_has_a_parser():
    assert set(REPORT_FORMATS) == set(PARSERS)


def test_pending_keys_are_the_ones_in_progress():
    """What is pending today; the lead removes an entry when its work item lands."""
    pending = {
        f"{section}.{key}": entry[1]
        for section, keys in ACTS.items()
        for key, entry in keys.items()
        if isinstance(entry, tuple) and entry[0] == "pending"
    }
    pending |= {f"event.{k}": v[1] for k, v in EVENTS.items() if v[0] == "pending"}
    assert sorted(pending) == []

