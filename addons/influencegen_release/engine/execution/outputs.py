"""What a finished job leaves in its workspace: the reports and artifacts its task declares.

Each declared file is read safely (from the job's container, ``job_files.read_file``, or from
a folder, ``workspace.collect``) and handed on one at a time, so
memory holds one file whatever the job produced; reports are parsed into findings and test
counts, which add up over the job's reports.
"""

from dataclasses import dataclass, field

from ..quality.reports import ReportError, parse_report
from . import job_files, workspace

MAX_BYTES = 50 * 1024 * 1024
TEST_COUNTS = ("total", "failed", "errors", "skipped")


@dataclass
class Output:
    """One declared file: its ``data``, or the ``error`` that kept it out."""

    path: str
    kind: str  # "report" or "other" (an artifact)
    data: bytes = b""
    findings: list = None  # a readable report's findings; None for an artifact or an unreadable report
    error: str = ""


@dataclass
class Summary:
    """What the reports of one job say together."""

    tests: dict = field(default_factory=lambda: dict.fromkeys(TEST_COUNTS, 0))
    failing: list = field(default_factory=list)  # failing tests, by name
    problems: list = field(default_factory=list)  # reports missing or unreadable
    unknown: list = field(default_factory=list)  # what the tools could not judge

    def add(self, parsed):
        """Count one parsed report (``engine.quality.reports.ParsedReport``)."""
        self.unknown += parsed.unknown
        if parsed.tests:
            for name in TEST_COUNTS:
                self.tests[name] += getattr(parsed.tests, name)
            self.failing += parsed.tests.failing


def collect(read, task, summary, max_bytes=MAX_BYTES):
    """Yield an ``Output`` for each file ``task`` declares, its ``reports`` then its
    ``artifacts``, each read by ``read(path, max_bytes)`` (or from the workspace folder
    ``read`` when it is a path); what the reports say (and which could not be read) is added
    to ``summary``."""
    if isinstance(read, str):
        folder = read
        read = lambda path, limit: workspace.collect(folder, path, limit)[0]  # noqa: E731
    formats = {report["path"]: report["format"] for report in task["reports"]}
    declared = [(report["path"], "report") for report in task["reports"]] + [(path, "other") for path in task["artifacts"]]
    for path, kind in declared:
        try:
            data = read(path, max_bytes)
        except (workspace.WorkspaceError, job_files.JobFileError) as exc:
            summary.problems.append(str(exc))
            yield Output(path, kind, error=str(exc))
            continue
        output = Output(path, kind, data)
        if path in formats:
            try:
                parsed = parse_report(formats[path], data, path)
            except ReportError as exc:
                summary.problems.append(str(exc))
            else:
                output.findings = parsed.findings
                summary.add(parsed)
        yield output
