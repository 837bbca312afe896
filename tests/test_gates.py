"""Gate decisions from real parsed reports: nothing passes by default, new vs baseline."""

import os

from influencegen_release.engine.quality.gates import TaskResult, evaluate
from influencegen_release.engine.quality.reports import parse_report

from .conftest import ROOT

DATA = os.path.join(ROOT, "tests", "data", "reports")


def parsed(name, fmt):
    with open(os.path.join(DATA, name), "rb") as handle:
        return parse_report(fmt, handle.read(), f"reports/{name}")


def task_from(name, fmt, state="succeeded"):
    report = parsed(name, fmt)
    return TaskResult(
        state=state, findings=report.findings, tests=[report.tests] if report.tests else [], unknown=report.unknown
    )


SAST = {
    "check": "findings",
    "from": ["sast"],
    "severity": "high",
    "new": True,
    "max": 0,
    "tools": [],
    "rules": [],
    "unknown": "fail",
}


def bandit_file():
    return next(n for n in sorted(os.listdir(DATA)) if n.startswith("bandit") and "shifted" not in n)


def test_new_high_findings_fail_with_file_and_line_and_pass_once_in_the_baseline():
    sast = task_from(bandit_file(), "bandit-json")
    high = [f for f in sast.findings if f.severity in ("high", "critical")]
    assert high, "the sample holds a high bandit finding"
    outcome = evaluate([SAST], {"sast": sast}, baseline=None)
    assert not outcome.passed
    assert "no baseline yet, so every finding counts as new" in outcome.lines[0]
    assert f"{high[0].file}:{high[0].line} high bandit/{high[0].rule}" in outcome.explanation
    baseline = {f.fingerprint for f in sast.findings}
    assert evaluate([SAST], {"sast": sast}, baseline=baseline).passed


def test_a_missing_task_a_skipped_task_or_an_unreadable_report_never_passes():
    assert not evaluate([SAST], {}, None).passed
    assert "task sast is not part of this run" in evaluate([SAST], {}, None).explanation
    skipped = evaluate([SAST], {"sast": TaskResult(state="skipped")}, None)
    assert not skipped.passed and "did not run (skipped)" in skipped.explanation
    broken = TaskResult(state="succeeded", problems=["reports/bandit.json was not produced"])
    assert not evaluate([SAST], {"sast": broken}, set()).passed


def test_unknown_results_fail_unless_the_gate_only_warns():
    deps = TaskResult(state="succeeded", unknown=["requests 2.0: could not be audited"])
    criterion = dict(SAST, **{"from": ["deps"]})
    assert not evaluate([criterion], {"deps": deps}, set()).passed
    warned = evaluate([dict(criterion, unknown="warn")], {"deps": deps}, set())
    assert warned.passed and "warning: task deps: requests 2.0: could not be audited" in warned.explanation


def test_tests_criterion_counts_failures_and_needs_a_report():
    junit = next(n for n in sorted(os.listdir(DATA)) if n.endswith(".xml"))
    unit = task_from(junit, "junit-xml")
    criterion = {"check": "tests", "from": ["unit"], "max_failed": 0, "min_total": 1}
    outcome = evaluate([criterion], {"unit": unit}, None)
    assert not outcome.passed and outcome.lines[0].startswith("FAIL 1 of 3 tests failed")
    assert evaluate([dict(criterion, max_failed=1)], {"unit": unit}, None).passed
    no_report = evaluate([criterion], {"unit": TaskResult(state="succeeded")}, None)
    assert "task unit produced no test report" in no_report.explanation and not no_report.passed


def test_succeeded_criterion_names_the_failed_task():
    outcome = evaluate(
        [{"check": "succeeded", "from": ["lint"]}], {"lint": TaskResult(state="failed", exit_code=2)}, None
    )
    assert not outcome.passed and "task lint failed (exit code 2)" in outcome.explanation
