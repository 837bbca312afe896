"""Parsers of test reports: JUnit XML and Odoo's test log. They give a test summary, no findings.

What is read
    junit-xml          test summary only, no findings.
    odoo-log           test summary only, from Odoo 18's ``N failed, N error(s) of M tests when
                       loading database`` line(s), ``FAIL: Class.test`` / ``ERROR: Class.test``
                       lines and ``: skipped `` lines. No summary line -> listed in unknown.
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


_ODOO_SUMMARY_RE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
_ODOO_FAIL_RE = re.compile(r"\sERROR \S+ (?P<logger>[\w.]+): (?P<flavour>FAIL|ERROR): (?P<test>.+)$")
_ODOO_LOG_LINE_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ [A-Z]+ ")


def _odoo_log(data, out):
    text = load_text(data)
    if not any(_ODOO_LOG_LINE_RE.match(line) for line in text.splitlines()):
        raise BadReport("no Odoo log line ('DATE TIME PID LEVEL DB LOGGER: MESSAGE') found")
    tests = TestResult()
    seen_summary = False
    fails = errors = 0
    for line in text.splitlines():
        summary = _ODOO_SUMMARY_RE.search(line)
        if summary:
            seen_summary = True
            tests.failed += int(summary[1])
            tests.errors += int(summary[2])
            tests.total += int(summary[3])
            continue
        failure = _ODOO_FAIL_RE.search(line)
        if failure:
            tests.failing.append(f"{failure['logger']}.{failure['test'].strip()}")
            if failure["flavour"] == "FAIL":
                fails += 1
            else:
                errors += 1
        elif ": skipped " in line:
            tests.skipped += 1
    if not seen_summary:
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
