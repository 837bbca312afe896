"""Parsers of the Python tools' reports: linters (pylint, flake8, ruff), bandit and pip-audit.

Severity mapping
    pylint-json        letter of the message id (pylint-odoo uses the same scheme):
                       F (fatal) -> critical, E (error) -> high, W (warning) -> medium,
                       C (convention) / R (refactor) -> low, I (informational) -> info.
    flake8, ruff-json  code prefix: E9, F63, F7, F82 (syntax errors, invalid comparisons,
                       misplaced statements, undefined names: the code will not run) -> critical;
                       other F (pyflakes) -> high; C90 (complexity) -> medium; E, W (style)
                       -> low; anything else (plugins, ruff's own rule sets) -> low. A ruff
                       syntax error (no code) is rule ``syntax-error``, critical.
    bandit-json        issue_severity HIGH/MEDIUM/LOW -> high/medium/low (UNDEFINED -> medium
                       and listed in unknown); issue_confidence is kept in the message.
    pip-audit-json     every vulnerability -> high: pip-audit gives no CVSS or severity, so an
                       advisory cannot be judged lower. Dependencies with ``skip_reason`` are
                       listed in unknown.
"""

import re

from .report_common import BadReport, expect, load_json, load_text, objects, relative, require, whole

_CRITICAL_CODES = ("E9", "F63", "F7", "F82")


def code_severity(code):
    """flake8 / ruff code -> severity (see the module docstring)."""
    code = (code or "").upper()
    if code.startswith(_CRITICAL_CODES):
        return "critical"
    if code.startswith("F"):
        return "high"
    if code.startswith("C90"):
        return "medium"
    return "low"


_PYLINT_LETTERS = {"F": "critical", "E": "high", "W": "medium", "C": "low", "R": "low", "I": "info"}
_PYLINT_TYPES = {"fatal": "F", "error": "E", "warning": "W", "convention": "C", "refactor": "R", "info": "I"}


def _pylint(data, out):
    doc = load_json(data)
    if isinstance(doc, dict) and "messages" in doc:  # --output-format=json2
        doc = doc["messages"]
    for index, msg in enumerate(objects(doc, "report")):
        code = msg.get("message-id") or msg.get("messageId") or ""
        letter = (code[:1] or _PYLINT_TYPES.get(msg.get("type"), "")).upper()
        if letter not in _PYLINT_LETTERS:
            raise BadReport(f"report[{index}]: unknown message id {code!r}")
        require(msg, ("path", "message"), f"report[{index}]")
        symbol = msg.get("symbol") or ""
        text = f"{msg['message']} ({symbol})" if symbol else msg["message"]
        out.add(code or symbol, _PYLINT_LETTERS[letter], msg["path"], msg.get("line"), text, key=msg["message"])


_FLAKE8_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?:(?P<col>\d+):)?\s+(?P<code>[A-Z]+[0-9]+)\s+(?P<msg>.*)$")


def _flake8(data, out):
    for number, raw in enumerate(load_text(data).splitlines(), 1):
        if not raw.strip():
            continue
        match = _FLAKE8_RE.match(raw)
        if not match:
            raise BadReport(f"line {number}: not 'file:line:col: CODE message'")
        code = match["code"]
        out.add(code, code_severity(code), match["file"], match["line"], match["msg"])


def _ruff(data, out):
    for index, item in enumerate(objects(load_json(data), "report")):
        require(item, ("filename", "message"), f"report[{index}]")
        code = item.get("code")
        line = (item.get("location") or {}).get("row")
        if code:
            out.add(code, code_severity(code), item["filename"], line, item["message"])
        else:
            out.add("syntax-error", "critical", item["filename"], line, item["message"])


_BANDIT_SEVERITIES = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low"}
_CODE_LINE_RE = re.compile(r"^(\d+) ?(.*)$")


def bandit_snippet(code, line):
    """The offending line(s) of bandit's numbered snippet, without their numbers."""
    picked = []
    for raw in (code or "").splitlines():
        match = _CODE_LINE_RE.match(raw)
        if match and int(match[1]) == line:
            picked.append(match[2])
    return "\n".join(picked)


def _bandit(data, out):
    doc = expect(load_json(data), dict, "report")
    require(doc, ("results",), "report")
    for index, item in enumerate(objects(doc["results"], "results")):
        require(item, ("test_id", "filename", "issue_text", "issue_severity"), f"results[{index}]")
        raw = str(item["issue_severity"]).upper()
        severity = _BANDIT_SEVERITIES.get(raw, "medium")
        line = whole(item.get("line_number"))
        message = f"{item['issue_text']} (confidence: {item.get('issue_confidence', 'UNDEFINED')})"
        snippet = bandit_snippet(item.get("code"), line)
        out.add(item["test_id"], severity, item["filename"], line, message, key=snippet or item["issue_text"])
        if raw not in _BANDIT_SEVERITIES:
            out.unknown(f"{item['filename']}:{line}: {item['test_id']}: bandit severity {raw!r}")
    for error in objects(doc.get("errors"), "errors"):
        out.unknown(
            f"{relative(error.get('filename'), out.root)}: not scanned: {error.get('reason', 'unknown reason')}"
        )


def _pip_audit(data, out):
    doc = load_json(data)
    deps = doc["dependencies"] if isinstance(doc, dict) and "dependencies" in doc else doc
    for index, dep in enumerate(objects(deps, "dependencies")):
        require(dep, ("name",), f"dependencies[{index}]")
        name = dep["name"]
        if dep.get("skip_reason") is not None:
            out.unknown(f"{name}: not audited: {dep['skip_reason']}")
            continue
        require(dep, ("version", "vulns"), f"dependencies[{index}]")
        for number, vuln in enumerate(objects(dep["vulns"], f"dependencies[{index}].vulns")):
            require(vuln, ("id",), f"dependencies[{index}].vulns[{number}]")
            aliases = ", ".join(vuln.get("aliases") or [])
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none"
            message = f"{name} {dep['version']}: {vuln['id']}"
            message += f" ({aliases})" if aliases else ""
            message += f"; fixed in {fixes}"
            out.add(vuln["id"], "high", name, 0, message, key=name, is_path=False)


# format -> (tool, parser), in the order of the pipeline format's REPORT_FORMATS
PARSERS = {
    "pylint-json": ("pylint", _pylint),
    "flake8": ("flake8", _flake8),
    "ruff-json": ("ruff", _ruff),
    "bandit-json": ("bandit", _bandit),
    "pip-audit-json": ("pip-audit", _pip_audit),
}
