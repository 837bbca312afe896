"""Report parsers: real tool output where the tool runs here (see tests/data/reports/README.md)."""

import json
import pathlib

import pytest

from influencegen_release.engine.pipeline.spec import REPORT_FORMATS
from influencegen_release.engine.quality.reports import PARSERS, ReportError, fingerprint, parse_report

DATA = pathlib.Path(__file__).resolve().parent / "data" / "reports"


def parse(fmt, name):
    return parse_report(fmt, (DATA / name).read_bytes(), f"reports/{name}")


def by_rule(report):
    return {(f.rule, f.line): f for f in report.findings}


def rows(report):
    return sorted((f.rule, f.severity, f.file, f.line) for f in report.findings)


def test_every_spec_format_has_a_parser():
    assert tuple(PARSERS) == REPORT_FORMATS


def test_pylint():
    report = parse("pylint-json", "pylint.json")
    assert rows(report) == [
        ("C0114", "low", "app.py", 1),
        ("C0116", "low", "app.py", 5),
        ("E0602", "high", "app.py", 8),
        ("W0123", "medium", "app.py", 8),
        ("W0611", "medium", "app.py", 1),
        ("W0612", "medium", "app.py", 7),
    ]
    assert by_rule(report)["E0602", 8].message == "Undefined variable 'undefined_name' (undefined-variable)"
    assert by_rule(report)["E0602", 8].tool == "pylint"


def test_pylint_fatal_is_critical_and_json2_is_read():
    doc = {"messages": [{"messageId": "F0001", "symbol": "fatal", "path": "x.py", "line": 0, "message": "No module"}]}
    report = parse_report("pylint-json", json.dumps(doc).encode(), "r.json")
    assert rows(report) == [("F0001", "critical", "x.py", 0)]


def test_flake8():
    report = parse("flake8", "flake8.txt")
    assert rows(report) == [
        ("F401", "high", "app.py", 1),
        ("F821", "critical", "app.py", 8),
        ("F841", "high", "app.py", 7),
    ]
    text = b"a.py:3:1: E999 SyntaxError: invalid syntax\na.py:9:1: C901 'f' is too complex (12)\nb.py:1:80: E501 line too long\n"
    assert rows(parse_report("flake8", text, "f.txt")) == [
        ("C901", "medium", "a.py", 9),
        ("E501", "low", "b.py", 1),
        ("E999", "critical", "a.py", 3),
    ]


def test_ruff():
    report = parse("ruff-json", "ruff.json")
    # ruff writes absolute paths; the default root /src (where steps see the sources) is removed.
    assert rows(report) == [
        ("F401", "high", "app.py", 1),
        ("F821", "critical", "app.py", 8),
        ("F841", "high", "app.py", 7),
    ]
    syntax = [{"code": None, "filename": "/src/b.py", "location": {"row": 2, "column": 1}, "message": "SyntaxError: x"}]
    assert rows(parse_report("ruff-json", json.dumps(syntax).encode(), "r.json")) == [
        ("syntax-error", "critical", "b.py", 2)
    ]


def test_bandit():
    report = parse("bandit-json", "bandit.json")
    assert rows(report) == [
        ("B307", "medium", "app.py", 8),
        ("B404", "low", "app.py", 2),
        ("B602", "high", "app.py", 6),
    ]
    assert (
        by_rule(report)["B602", 6].message
        == "subprocess call with shell=True identified, security issue. (confidence: HIGH)"
    )


def test_pip_audit_vulns_are_high_and_skipped_dependencies_unknown():
    report = parse("pip-audit-json", "pip-audit.json")
    assert rows(report) == [("PYSEC-2018-28", "high", "requests", 0)]
    assert "CVE-2018-18074" in report.findings[0].message
    assert "fixed in 2.20.0" in report.findings[0].message
    assert report.unknown == [
        "ig-internal-tools: not audited: Dependency not found on PyPI and could not be audited: ig-internal-tools (1.4.0)"
    ]
    legacy = [{"name": "x", "skip_reason": "could not resolve"}]
    assert parse_report("pip-audit-json", json.dumps(legacy).encode(), "p").unknown == [
        "x: not audited: could not resolve"
    ]


def test_junit_xml():
    report = parse("junit-xml", "junit.xml")
    assert report.findings == []
    tests = report.tests
    assert (tests.total, tests.failed, tests.errors, tests.skipped) == (3, 1, 0, 1)
    assert tests.failing == ["t.test_sample.test_fail"]


def test_odoo_log():
    report = parse("odoo-log", "odoo-test.log")
    tests = report.tests
    assert (tests.total, tests.failed, tests.errors, tests.skipped) == (6, 1, 1, 1)
    assert tests.failing == [
        "odoo.addons.ig_sales.tests.test_order.TestOrder.test_total",
        "odoo.addons.ig_sales.tests.test_partner.TestPartner.test_vat",
    ]
    assert report.unknown == []


def test_odoo_log_counts_are_odoo_own_summary():
    """A real Odoo 18 log (odoo-test.real.log, see README.md): a pass, a failure, an error,
    two skips, a failed subtest, a class whose setUpClass fails, a post-install test. Odoo says
    "2 failed, 2 error(s) of 7 tests"; the parser says the same, also when the same words are
    printed by a test (an output line, a traceback) before Odoo's own line."""
    data = (DATA / "odoo-test.real.log").read_bytes()
    assert b"2 failed, 2 error(s) of 7 tests when loading database" in data
    tests = parse_report("odoo-log", data, "odoo.log").tests
    assert (tests.total, tests.failed, tests.errors, tests.skipped) == (7, 2, 2, 2)
    assert tests.failing == [
        "odoo.addons.igr_probe.tests.test_probe.TestProbe.test_error",
        "odoo.addons.igr_probe.tests.test_probe.TestProbe.test_fail",
        "odoo.addons.igr_probe.tests.test_probe.Subtest TestProbe.test_subtests (i=1)",
        "odoo.tests.suite.setUpClass (odoo.addons.igr_probe.tests.test_probe.TestBrokenSetup)",
    ]
    lines = data.splitlines(keepends=True)
    printed = [
        b"0 failed, 0 error(s) of 1 tests when loading database 'target'\n",
        b"2026-12-01 12:13:40,001 6406 INFO igr_s5l_probe odoo.addons.igr_probe.tests.test_probe: "
        b"target said: 0 failed, 0 error(s) of 1 tests when loading database 'target'\n",
        b"  File \"x.py\", line 1: 2026-12-01 12:13:40,002 7 ERROR x odoo.addons.x: FAIL: X.test skipped \n",
    ]
    noisy = parse_report("odoo-log", b"".join(lines[:150] + printed + lines[150:]), "odoo.log").tests
    assert (noisy.total, noisy.failed, noisy.errors, noisy.skipped, len(noisy.failing)) == (7, 2, 2, 2, 4)


def test_odoo_log_without_summary_is_not_clean():
    lines = (DATA / "odoo-test.log").read_bytes().splitlines(keepends=True)[:-1]
    report = parse_report("odoo-log", b"".join(lines), "odoo.log")
    assert (report.tests.failed, report.tests.errors) == (1, 1)
    assert report.unknown == [
        "no 'N failed, N error(s) of M tests when loading database' line: Odoo stopped before the tests finished"
    ]


def test_json_syntax():
    report = parse("json-syntax", "json-syntax.txt")
    assert rows(report) == [
        ("invalid-json", "critical", "wf/broken.json", 3),
        ("invalid-json", "critical", "wf/trunc.json", 2),
    ]
    assert report.findings[0].message == "parse error: Expected separator between values at line 3, column 3"
    bare = parse_report("json-syntax", b"FAIL wf/x.json\n", "j.txt")
    assert bare.findings[0].message == "invalid JSON (jq gave no message)"


def test_n8n_structure():
    report = parse("n8n-structure", "n8n-structure.json")
    assert rows(report) == [
        ("dangling-connection", "medium", "workflows/lead-sync.json", 41),
        ("duplicate-node-name", "high", "workflows/lead-sync.json", 12),
        ("no-trigger", "low", "workflows/report.json", 0),
    ]


def test_detect_secrets():
    report = parse("detect-secrets-json", "detect-secrets.json")
    assert rows(report) == [("AWS Access Key", "high", "config.py", 1), ("Secret Keyword", "high", "config.py", 2)]
    assert all("25910f981e85" not in f.message for f in report.findings)


def test_gitleaks_masks_the_secret():
    report = parse("gitleaks-json", "gitleaks.json")
    assert rows(report) == [
        ("aws-access-token", "high", "ds/config.py", 1),
        ("generic-api-key", "high", "ds/config.py", 2),
    ]
    for secret in ("AKIAIOSFODNN7EXAMPLE", "s3cr3t-Pa55w0rd-xyz"):
        for finding in report.findings:
            assert secret not in finding.message
            assert secret not in finding.file
        assert all(secret not in line for line in report.unknown)
    assert report.findings[0].message.endswith("(secret masked)")


def test_checkov_list_of_frameworks():
    report = parse("checkov-json", "checkov.json")
    assert rows(report) == [
        ("CKV_AWS_23", "high", "main.tf", 5),
        ("CKV_AWS_24", "high", "main.tf", 5),
        ("CKV_K8S_12", "high", "pod.yaml", 1),
        ("CKV_K8S_9", "high", "pod.yaml", 1),
    ]
    assert "(aws_security_group.web)" in by_rule(report)["CKV_AWS_24", 5].message


def test_checkov_severity_and_empty_scan():
    doc = {
        "check_type": "terraform",
        "results": {
            "failed_checks": [
                {
                    "check_id": "CKV_X",
                    "check_name": "n",
                    "file_path": "/a.tf",
                    "file_line_range": [2, 4],
                    "resource": "r",
                    "severity": "LOW",
                }
            ],
            "parsing_errors": ["/src/bad.tf"],
        },
    }
    report = parse_report("checkov-json", json.dumps(doc).encode(), "c.json")
    assert rows(report) == [("CKV_X", "low", "a.tf", 2)]
    assert report.unknown == ["bad.tf: checkov could not parse it"]
    nothing = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
    assert parse_report("checkov-json", json.dumps(nothing).encode(), "c.json").findings == []


def test_ansible_lint():
    report = parse("ansible-lint", "ansible-lint.json")
    found = rows(report)
    assert ("command-instead-of-shell", "critical", "site.yml", 3) in found
    assert ("name[play]", "high", "site.yml", 1) in found
    assert ("package-latest", "low", "site.yml", 4) in found
    assert len(found) == 9
    minor = [
        {
            "check_name": "yaml[truthy]",
            "severity": "minor",
            "description": "d",
            "location": {"path": "a.yml", "positions": {"begin": {"line": 7, "column": 1}}},
        }
    ]
    assert rows(parse_report("ansible-lint", json.dumps(minor).encode(), "a.json")) == [
        ("yaml[truthy]", "medium", "a.yml", 7)
    ]


def test_terraform_plan():
    report = parse("terraform-plan-json", "terraform-plan.json")
    assert rows(report) == [
        ("create", "info", "terraform_data.new", 0),
        ("destroy", "high", "terraform_data.node", 0),
        ("destroy", "high", "terraform_data.old", 0),
        ("update", "info", "terraform_data.cfg", 0),
    ]
    assert by_rule(report)["destroy", 0].message in (
        "terraform_data.node will be replaced (destroyed and re-created)",
        "terraform_data.old will be destroyed",
    )


def test_trivy():
    report = parse("trivy-json", "trivy.json")
    assert rows(report) == [
        ("CVE-2023-45853", "critical", "/workspace/image.tar (debian 12.5)", 0),
        ("CVE-2023-4911", "high", "/workspace/image.tar (debian 12.5)", 0),
        ("CVE-2024-6345", "high", "Python", 0),
        ("TEMP-0841856-B18BAF", "medium", "/workspace/image.tar (debian 12.5)", 0),
    ]
    assert report.unknown == [
        "/workspace/image.tar (debian 12.5): TEMP-0841856-B18BAF in bash: severity UNKNOWN (counted as medium)"
    ]


def test_trivy_fingerprint_ignores_image_name():
    doc = json.loads((DATA / "trivy.json").read_text())
    doc["Results"][0]["Target"] = "influencegen/app:1.3.0 (debian 12.5)"
    old = {f.rule: f.fingerprint for f in parse("trivy-json", "trivy.json").findings}
    new = {f.rule: f.fingerprint for f in parse_report("trivy-json", json.dumps(doc).encode(), "t").findings}
    assert old == new


# -- fingerprints survive line shifts (the .shifted files: 3 blank lines on top of the source) --
SHIFTED = [
    ("pylint-json", "pylint.json", ["E0602", "W0123", "W0611", "W0612", "C0116"]),
    ("flake8", "flake8.txt", ["F401", "F841", "F821"]),
    ("ruff-json", "ruff.json", ["F401", "F841", "F821"]),
    ("bandit-json", "bandit.json", ["B404", "B602", "B307"]),
    ("json-syntax", "json-syntax.txt", ["invalid-json"]),
    ("n8n-structure", "n8n-structure.json", ["duplicate-node-name", "dangling-connection"]),
    ("detect-secrets-json", "detect-secrets.json", ["AWS Access Key", "Secret Keyword"]),
    ("gitleaks-json", "gitleaks.json", ["aws-access-token", "generic-api-key"]),
    ("checkov-json", "checkov.json", ["CKV_AWS_24", "CKV_K8S_9"]),
    ("ansible-lint", "ansible-lint.json", ["command-instead-of-shell", "package-latest", "name[play]"]),
]


@pytest.mark.parametrize(("fmt", "name", "rules"), SHIFTED, ids=[s[0] for s in SHIFTED])
def test_fingerprint_survives_line_shift(fmt, name, rules):
    before = parse(fmt, name)
    after = parse(fmt, name.replace(".", ".shifted.", 1))
    moved = {f.fingerprint: f for f in after.findings}
    checked = 0
    for finding in before.findings:
        if finding.rule not in rules or finding.file == "wf/trunc.json":
            continue
        twin = moved[finding.fingerprint]
        assert (twin.rule, twin.file, twin.line) == (finding.rule, finding.file, finding.line + 3)
        checked += 1
    assert checked >= len(rules)
    assert len({f.fingerprint for f in before.findings}) == len(before.findings)


def test_fingerprint_ignores_line_numbers_in_messages():
    assert fingerprint("t", "r", "f", "defined at line 3, column 4") == fingerprint(
        "t", "r", "f", "defined  at line 9, column 1"
    )
    assert fingerprint("t", "r", "f", "a") != fingerprint("t", "r", "g", "a")


def test_repeated_findings_get_distinct_fingerprints():
    text = b"a.py:1:1: F401 'os' imported but unused\na.py:5:1: F401 'os' imported but unused\n"
    first, second = parse_report("flake8", text, "f.txt").findings
    assert first.fingerprint != second.fingerprint


# -- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "data", "message"),
    [
        ("bandit-json", b'{\n  "results": [\n    x\n]}', "reports/bad: bandit-json: invalid JSON at line 3 column 5"),
        (
            "junit-xml",
            b"<testsuites>\n<testsuite>\n</testsuites>",
            "reports/bad: junit-xml: invalid XML at line 3 column 3",
        ),
        (
            "junit-xml",
            b'<!DOCTYPE x [<!ENTITY a "b">]><testsuites/>',
            "reports/bad: junit-xml: XML with a DOCTYPE or ENTITY declaration is refused",
        ),
        (
            "junit-xml",
            b"<html/>",
            "reports/bad: junit-xml: root element must be <testsuites> or <testsuite>, got <html>",
        ),
        ("pylint-json", b"", "reports/bad: pylint-json: empty file"),
        ("trivy-json", b"  \n", "reports/bad: trivy-json: empty file"),
        ("pylint-json", b'{"a": 1}', "reports/bad: pylint-json: report must be a list, got dict"),
        ("bandit-json", b"[]", "reports/bad: bandit-json: report must be an object, got list"),
        ("bandit-json", b'{"errors": []}', "reports/bad: bandit-json: report: missing key(s) results"),
        ("gitleaks-json", b'[{"File": "a"}]', "reports/bad: gitleaks-json: report[0]: missing key(s) RuleID"),
        (
            "trivy-json",
            b'{"SchemaVersion": 1}',
            "reports/bad: trivy-json: SchemaVersion 1 is not supported (expected 2)",
        ),
        (
            "terraform-plan-json",
            b'{"resource_changes": []}',
            "reports/bad: terraform-plan-json: report: missing key(s) format_version",
        ),
        ("checkov-json", b'{"check_type": "x"}', "reports/bad: checkov-json: report: missing key(s) results"),
        ("flake8", b"something odd\n", "reports/bad: flake8: line 1: not 'file:line:col: CODE message'"),
        (
            "odoo-log",
            b"hello\n",
            "reports/bad: odoo-log: no Odoo log line ('DATE TIME PID LEVEL DB LOGGER: MESSAGE') found",
        ),
        ("ruff-json", b"\xff\xfe", "reports/bad: ruff-json: not UTF-8 text (byte 0)"),
        (
            "n8n-structure",
            b'[{"file": "a", "rule": "r", "severity": "urgent", "message": "m"}]',
            "reports/bad: n8n-structure: report[0]: severity must be one of critical, high, medium, low, info, got 'urgent'",
        ),
        (
            "sarif",
            b"{}",
            "reports/bad: sarif: unknown report format (expected one of " + ", ".join(REPORT_FORMATS) + ")",
        ),
    ],
)
def test_errors(fmt, data, message):
    with pytest.raises(ReportError) as info:
        parse_report(fmt, data, "reports/bad")
    assert str(info.value) == message


@pytest.mark.parametrize("fmt", ["flake8", "json-syntax"])
def test_empty_output_is_clean_for_silent_tools(fmt):
    report = parse_report(fmt, b"", "reports/empty")
    assert report.findings == [] and report.unknown == []
