"""Parsers of test reports: JUnit XML and Odoo's test log. They give a test summary, no findings.

What is read
    junit-xml          test summary only, no findings.
    odoo-log           test summary only: the counts are Odoo 18's own summary, the
                       ``odoo.tests.result: N failed, N error(s) of M tests when loading
                       database 'db'`` line Odoo logs once per database at shutdown (the last
                       one per database counts). Only whole log lines of Odoo's loggers are
                       read: the same words printed by a test, in a traceback or by a server
                       the tests start are output, not Odoo's count, and once made a run show
                       72 tests where Odoo said 71. Failing tests from the ``FAIL:`` /
                       ``ERROR:`` lines, skipped ones from the ``skipped`` lines of the test
                       loggers. No summary line -> listed in unknown.
"""

import re
import xml.etree.ElementTree as ET  # DTDs and entities are refused before parsing (_reject_dtd)

from .report_common import BadReport, TestResult, load_text


def _reject_dtd(data):
    head = data.lower()
    if b"<!doctype" in head or b"<!entity" in head:
        raise BadReport("XML with a DOCTYPE or ENTITY declaration is refused")


def _junit(data, out):
    _reject_dtd(data)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        raise BadReport(f"invalid XML at line {line} column {column + 1}") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise BadReport(f"root element must be <testsuites> or <testsuite>, got <{root.tag}>")
    tests = TestResult()
    for case in root.iter("testcase"):
        tests.total += 1
        name = ".".join(p for p in (case.get("classname"), case.get("name")) if p)
        if case.find("failure") is not None:
            tests.failed += 1
            tests.failing.append(name)
        elif case.find("error") is not None:
            tests.errors += 1
            tests.failing.append(name)
        elif case.find("skipped") is not None:
            tests.skipped += 1
    out.report.tests = tests


_ODOO_LOG_LINE_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ [A-Z]+ ")
_ODOO_PREFIX = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ "
_ODOO_SUMMARY_RE = re.compile(
    _ODOO_PREFIX + r"[A-Z]+ (?P<db>\S+) odoo\.tests\.result: "
    r"(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<total>\d+) tests when loading database"
)
_ODOO_FAIL_RE = re.compile(_ODOO_PREFIX + r"ERROR \S+ (?P<logger>[\w.]+): (?P<flavour>FAIL|ERROR): (?P<test>.+)$")
_ODOO_SKIP_RE = re.compile(_ODOO_PREFIX + r"INFO \S+ (?:odoo\.addons\.|odoo\.tests\.)[\w.]+: skipped ")


def _odoo_log(data, out):
    text = load_text(data)
    if not any(_ODOO_LOG_LINE_RE.match(line) for line in text.splitlines()):
        raise BadReport("no Odoo log line ('DATE TIME PID LEVEL DB LOGGER: MESSAGE') found")
    tests = TestResult()
    summaries = {}  # database -> its summary line (the last one)
    fails = errors = 0
    for line in text.splitlines():
        summary = _ODOO_SUMMARY_RE.match(line)
        if summary:
            summaries[summary["db"]] = summary
            continue
        failure = _ODOO_FAIL_RE.match(line)
        if failure:
            tests.failing.append(f"{failure['logger']}.{failure['test'].strip()}")
            if failure["flavour"] == "FAIL":
                fails += 1
            else:
                errors += 1
        elif _ODOO_SKIP_RE.match(line):
            tests.skipped += 1
    for summary in summaries.values():
        tests.failed += int(summary["failed"])
        tests.errors += int(summary["errors"])
        tests.total += int(summary["total"])
    if not summaries:
        tests.failed, tests.errors = fails, errors
        out.unknown(
            "no 'N failed, N error(s) of M tests when loading database' line: Odoo stopped before the tests finished"
        )
    out.report.tests = tests


# format -> (tool, parser), in the order of the pipeline format's REPORT_FORMATS
PARSERS = {
    "junit-xml": ("junit", _junit),
    "odoo-log": ("odoo", _odoo_log),
}
