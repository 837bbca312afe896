"""Parsers of the infrastructure and image scanners' reports: checkov, ansible-lint, terraform, trivy.

Severity mapping
    checkov-json       ``severity`` when checkov gives one (CRITICAL...INFO), else high.
    ansible-lint       codeclimate severity: blocker/critical -> critical, major -> high,
                       minor -> medium, info -> low.
    terraform-plan     resources whose actions include ``delete`` (deletes and replacements)
                       -> high, rule ``destroy``; ``create`` / ``update`` -> info, rule
                       ``create`` / ``update``; no-op and read are ignored. file = address.
    trivy-json         Severity CRITICAL/HIGH/MEDIUM/LOW -> same; UNKNOWN -> medium and also
                       listed in unknown. file = Target. Misconfigurations (status FAIL) and
                       secrets are read too, with the same severity scheme.
"""

import re

from ..vocabulary import SEVERITIES
from .report_common import BadReport, expect, load_json, objects, relative, require

_CHECKOV_SEVERITIES = {s.upper(): s for s in SEVERITIES}


def _checkov(data, out):
    doc = load_json(data)
    frameworks = doc if isinstance(doc, list) else [doc]
    for index, framework in enumerate(frameworks):
        what = f"report[{index}]" if isinstance(doc, list) else "report"
        expect(framework, dict, what)
        if "results" not in framework:
            if "passed" in framework and "failed" in framework:  # nothing found to scan
                continue
            raise BadReport(f"{what}: missing key(s) results")
        results = expect(framework["results"], dict, f"{what}.results")
        for number, check in enumerate(objects(results.get("failed_checks"), f"{what}.failed_checks")):
            require(check, ("check_id", "file_path"), f"{what}.failed_checks[{number}]")
            raw = str(check.get("severity") or "").upper()
            severity = _CHECKOV_SEVERITIES.get(raw, "high")
            lines = check.get("file_line_range") or [0]
            resource = check.get("resource") or ""
            message = (
                f"{check.get('check_name') or check['check_id']} ({resource})"
                if resource
                else check.get("check_name") or check["check_id"]
            )
            out.add(check["check_id"], severity, check["file_path"], lines[0], message, key=f"{resource}\x1f{message}")
        for error in results.get("parsing_errors") or []:
            out.unknown(f"{relative(error, out.root)}: checkov could not parse it")


_CODECLIMATE_SEVERITIES = {
    "blocker": "critical",
    "critical": "critical",
    "major": "high",
    "minor": "medium",
    "info": "low",
}


def _ansible_lint(data, out):
    for index, issue in enumerate(objects(load_json(data), "report")):
        what = f"report[{index}]"
        require(issue, ("check_name", "location"), what)
        location = expect(issue["location"], dict, f"{what}.location")
        lines = location.get("lines") or {}
        begin = lines.get("begin") if isinstance(lines, dict) else None
        if begin is None:
            begin = ((location.get("positions") or {}).get("begin") or {}).get("line")
        if isinstance(begin, dict):
            begin = begin.get("line")
        raw = str(issue.get("severity") or "").lower()
        severity = _CODECLIMATE_SEVERITIES.get(raw, "medium")
        if raw not in _CODECLIMATE_SEVERITIES:
            out.unknown(f"{location.get('path')}: {issue['check_name']}: severity {raw!r} mapped to medium")
        body = (issue.get("content") or {}).get("body") or ""
        message = issue.get("description") or issue["check_name"]
        message += f" - {body}" if body else ""
        out.add(issue["check_name"], severity, location.get("path") or "", begin, message)


def _terraform_plan(data, out):
    doc = expect(load_json(data), dict, "report")
    require(doc, ("format_version",), "report")
    for index, change in enumerate(objects(doc.get("resource_changes"), "resource_changes")):
        require(change, ("address", "change"), f"resource_changes[{index}]")
        actions = (change["change"] or {}).get("actions") or []
        address = change["address"]
        if "delete" in actions:
            verb = "replaced (destroyed and re-created)" if "create" in actions else "destroyed"
            out.add("destroy", "high", address, 0, f"{address} will be {verb}", key=address, is_path=False)
        elif "update" in actions or "create" in actions:
            rule = "update" if "update" in actions else "create"
            out.add(rule, "info", address, 0, f"{address} will be {rule}d", key=address, is_path=False)


_TRIVY_SEVERITIES = {"CRITICAL": "critical", "HIGH": "high", "MEDIUM": "medium", "LOW": "low"}
_OS_TARGET_RE = re.compile(r"^.*\((?P<os>[^()]+)\)$")


def _trivy_severity(raw, out, where):
    raw = str(raw or "UNKNOWN").upper()
    if raw not in _TRIVY_SEVERITIES:
        out.unknown(f"{where}: severity {raw} (counted as medium)")
    return _TRIVY_SEVERITIES.get(raw, "medium")


def _trivy(data, out):
    doc = expect(load_json(data), dict, "report")
    require(doc, ("SchemaVersion",), "report")
    if doc["SchemaVersion"] != 2:
        raise BadReport(f"SchemaVersion {doc['SchemaVersion']!r} is not supported (expected 2)")
    for index, result in enumerate(objects(doc.get("Results"), "Results")):
        require(result, ("Target",), f"Results[{index}]")
        target = result["Target"]
        # The image name (and tag) is part of an OS target; keep fingerprints across releases.
        os_target = _OS_TARGET_RE.match(target) if result.get("Class") == "os-pkgs" else None
        fp_file = f"os ({os_target['os']})" if os_target else None
        for number, vuln in enumerate(objects(result.get("Vulnerabilities"), f"Results[{index}].Vulnerabilities")):
            require(vuln, ("VulnerabilityID", "PkgName"), f"Results[{index}].Vulnerabilities[{number}]")
            vid, pkg = vuln["VulnerabilityID"], vuln["PkgName"]
            severity = _trivy_severity(vuln.get("Severity"), out, f"{target}: {vid} in {pkg}")
            fixed = vuln.get("FixedVersion") or "no fix"
            message = f"{pkg} {vuln.get('InstalledVersion', '?')}: {vid} (fixed: {fixed})"
            if vuln.get("Title"):
                message += f" - {vuln['Title']}"
            out.add(vid, severity, target, 0, message, key=pkg, fp_file=fp_file, is_path=False)
        for misconf in objects(result.get("Misconfigurations"), f"Results[{index}].Misconfigurations"):
            if str(misconf.get("Status", "FAIL")).upper() != "FAIL":
                continue
            rule = misconf.get("ID") or misconf.get("AVDID") or "misconfiguration"
            severity = _trivy_severity(misconf.get("Severity"), out, f"{target}: {rule}")
            line = (misconf.get("CauseMetadata") or {}).get("StartLine")
            title = misconf.get("Title") or misconf.get("Message") or rule
            out.add(rule, severity, target, line, title, key=f"{title}\x1f{misconf.get('Message', '')}", is_path=False)
        for secret in objects(result.get("Secrets"), f"Results[{index}].Secrets"):
            rule = secret.get("RuleID") or "secret"
            severity = _trivy_severity(secret.get("Severity"), out, f"{target}: {rule}")
            out.add(
                rule,
                severity,
                target,
                secret.get("StartLine"),
                f"{secret.get('Title') or rule} (secret masked)",
                key=secret.get("Match") or rule,
                is_path=False,
            )


# format -> (tool, parser), in the order of the pipeline format's REPORT_FORMATS
PARSERS = {
    "checkov-json": ("checkov", _checkov),
    "ansible-lint": ("ansible-lint", _ansible_lint),
    "terraform-plan-json": ("terraform", _terraform_plan),
    "trivy-json": ("trivy", _trivy),
}
