"""Decide an automatic quality gate from the results of the tasks it names.

``evaluate(criteria, results, baseline)`` returns a ``GateOutcome``: passed or not, and the
lines that explain it (each blocking finding with file and line). Nothing passes by default:
a task that did not run, a report that is missing or unreadable, or a result a tool could not
judge (``unknown``) fails the criterion, unless the criterion says ``unknown: warn``.

"New" findings are those whose fingerprint is absent from ``baseline`` (a set of fingerprints,
by default those of the last successful run of the same pipeline on the target branch). With
no baseline (``None``), every finding is new.
"""

from dataclasses import dataclass, field

from ..vocabulary import is_at_least

MAX_LISTED = 20


@dataclass
class TaskResult:
    """What one task of the run produced, as the gate sees it."""

    state: str  # succeeded, failed, skipped, ...
    exit_code: int = 0
    findings: list = field(default_factory=list)  # reports.Finding
    tests: list = field(default_factory=list)  # reports.TestResult, one per test report
    unknown: list = field(default_factory=list)  # sentences: what could not be judged
    problems: list = field(default_factory=list)  # missing or unreadable reports


@dataclass
class GateOutcome:
    passed: bool
    lines: list = field(default_factory=list)
    blocking: list = field(default_factory=list)  # the findings that failed it

    @property
    def explanation(self):
        return "\n".join(self.lines)


def evaluate(criteria, results, baseline=None, waived=frozenset()):
    """``waived``: fingerprints accepted by a waiver in force; they never block."""
    outcome = GateOutcome(passed=True)
    for criterion in criteria:
        check = {"succeeded": _succeeded, "tests": _tests, "findings": _findings}[criterion["check"]]
        ok, lines, blocking = check(criterion, results, baseline, waived)
        outcome.passed &= ok
        outcome.lines.append(("PASS " if ok else "FAIL ") + lines[0])
        outcome.lines.extend("  " + line for line in lines[1:])
        outcome.blocking.extend(blocking)
    return outcome


def _result(results, key):
    return results.get(key) or TaskResult(state="missing")


def _ran(task, key):
    """A problem line when the task produced nothing to judge, else None."""
    if task.state == "missing":
        return f"task {key} is not part of this run"
    if task.state in ("skipped", "cancelled", "pending", "queued", "running"):
        return f"task {key} did not run ({task.state})"
    return None


def _succeeded(criterion, results, _baseline, _waived):
    problems = []
    for key in criterion["from"]:
        task = _result(results, key)
        if task.state != "succeeded":
            problems.append(_ran(task, key) or f"task {key} {task.state} (exit code {task.exit_code})")
    head = f"tasks {', '.join(criterion['from'])} succeeded"
    return not problems, [head, *problems], []


def _tests(criterion, results, _baseline, _waived):
    total = failed = 0
    problems, failing = [], []
    for key in criterion["from"]:
        task = _result(results, key)
        problem = _ran(task, key) if task.state in ("missing", "skipped", "cancelled", "pending") else None
        problems += [problem] if problem else []
        problems += [f"task {key}: {p}" for p in task.problems]
        if not task.tests and not problem:
            problems.append(f"task {key} produced no test report")
        for summary in task.tests:
            total += summary.total
            failed += summary.failed + summary.errors
            failing += [f"{key}: {name}" for name in summary.failing]
        problems += [f"task {key}: {u}" for u in task.unknown]
    head = f"{failed} of {total} tests failed or errored (at most {criterion['max_failed']}), at least {criterion['min_total']} run"
    ok = not problems and failed <= criterion["max_failed"] and total >= criterion["min_total"]
    return ok, [head, *problems, *failing[:MAX_LISTED]], []


def _findings(criterion, results, baseline, waived):
    problems, warnings, counted, accepted = [], [], [], []
    for key in criterion["from"]:
        task = _result(results, key)
        problem = _ran(task, key)
        if problem:
            problems.append(problem)
            continue
        problems += [f"task {key}: {p}" for p in task.problems]
        unknown = [f"task {key}: {u}" for u in task.unknown]
        (warnings if criterion.get("unknown") == "warn" else problems).extend(unknown)
        for finding in task.findings:
            if not is_at_least(finding.severity, criterion["severity"]):
                continue
            if criterion.get("tools") and finding.tool not in criterion["tools"]:
                continue
            if criterion.get("rules") and finding.rule not in criterion["rules"]:
                continue
            if criterion.get("new") and baseline is not None and finding.fingerprint in baseline:
                continue
            (accepted if finding.fingerprint in waived else counted).append(finding)
    scope = "new " if criterion.get("new") else ""
    head = (
        f"{len(counted)} {scope}findings of severity {criterion['severity']} or higher "
        f"from {', '.join(criterion['from'])} (at most {criterion['max']})"
    )
    if criterion.get("new") and baseline is None:
        head += "; no baseline yet, so every finding counts as new"
    ok = not problems and len(counted) <= criterion["max"]
    blocking = counted if len(counted) > criterion["max"] else []
    listed = [f"{f.file}:{f.line} {f.severity} {f.tool}/{f.rule}: {f.message}" for f in blocking[:MAX_LISTED]]
    if len(blocking) > MAX_LISTED:
        listed.append(f"... and {len(blocking) - MAX_LISTED} more")
    waivers = [f"waived: {f.file}:{f.line} {f.tool}/{f.rule}" for f in accepted[:MAX_LISTED]]
    return ok, [head, *problems, *listed, *waivers, *(f"warning: {w}" for w in warnings)], blocking
