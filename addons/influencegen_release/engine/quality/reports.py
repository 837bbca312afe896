"""Parse the reports that pipeline tasks write into normalised findings and test summaries.

``parse_report(fmt, data, filename)`` returns a ``ParsedReport``: a list of ``Finding``, a
``TestResult`` for test formats (``junit-xml``, ``odoo-log``) or ``None``, and ``unknown``: one
sentence per thing the report could not judge (an unaudited dependency, a file the scanner could
not read...). Such things are never counted as clean. Unreadable or malformed input raises
``ReportError`` whose message names the file, the format and the reason, e.g.
``reports/bandit.json: bandit-json: invalid JSON at line 3 column 5``.

An empty report is an error, except for ``flake8`` and ``json-syntax``: both write nothing at
all when everything is fine (the json-syntax task truncates its report before running ``jq``).

Fingerprints
    ``sha256(tool, rule, file, key)`` where ``key`` is the normalised offending code snippet
    when the tool gives one (bandit), else a stable identifier of the finding (resource address,
    package, hashed secret...), else the normalised message. The line number is never part of
    it, so a finding keeps its fingerprint when lines are inserted above it. Line and column
    numbers quoted inside messages are replaced by ``N``. When several findings of one report
    share a fingerprint, the second and later get ``#2``, ``#3``... mixed in (in report order).
    File paths are made relative: a leading ``root`` (default ``/src``, where steps see the
    sources), ``/`` or ``./`` is removed.

Severity mapping (``critical``, ``high``, ``medium``, ``low``, ``info``)
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
    junit-xml          test summary only, no findings.
    odoo-log           test summary only, from Odoo 18's ``N failed, N error(s) of M tests when
                       loading database`` line(s), ``FAIL: Class.test`` / ``ERROR: Class.test``
                       lines and ``: skipped `` lines. No summary line -> listed in unknown.
    json-syntax        each ``FAIL FILE`` line -> critical ``invalid-json``, with the jq
                       message from the line before when there is one.
    n8n-structure      severity as written by our validator (see below), checked.
    detect-secrets     each result -> high, rule = the secret type.
    gitleaks-json      each finding -> high, rule = RuleID; the secret is never copied.
    checkov-json       ``severity`` when checkov gives one (CRITICAL...INFO), else high.
    ansible-lint       codeclimate severity: blocker/critical -> critical, major -> high,
                       minor -> medium, info -> low.
    terraform-plan     resources whose actions include ``delete`` (deletes and replacements)
                       -> high, rule ``destroy``; ``create`` / ``update`` -> info, rule
                       ``create`` / ``update``; no-op and read are ignored. file = address.
    trivy-json         Severity CRITICAL/HIGH/MEDIUM/LOW -> same; UNKNOWN -> medium and also
                       listed in unknown. file = Target. Misconfigurations (status FAIL) and
                       secrets are read too, with the same severity scheme.

n8n-structure format (written by the ``n8n.validate`` action)
    A JSON list of objects: ``file`` (str), ``rule`` (str), ``severity`` (one of the five
    severities), ``message`` (str), all required; ``line`` (int) and ``node`` (str, the
    workflow node concerned, part of the fingerprint) optional. ``[]`` means clean.
"""

import hashlib
import json
import re
import xml.etree.ElementTree as ET  # DTDs and entities are refused before parsing (_reject_dtd)
from dataclasses import dataclass, field

SEVERITIES = ("critical", "high", "medium", "low", "info")
DEFAULT_ROOT = "/src"


class ReportError(Exception):
    """A report that cannot be read: ``file: format: reason``."""


@dataclass
class Finding:
    tool: str
    rule: str
    severity: str
    file: str
    line: int
    message: str
    fingerprint: str


@dataclass
class TestResult:
    total: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failing: list = field(default_factory=list)


@dataclass
class ParsedReport:
    findings: list = field(default_factory=list)
    tests: TestResult | None = None
    unknown: list = field(default_factory=list)


class _Bad(Exception):
    """Raised by parsers with the reason only; ``parse_report`` adds file and format."""


# -- helpers -------------------------------------------------------------------------------
_POSITION_RE = re.compile(r"\b(line|lines|column|col|row)(\s*[:=]?\s*)\d+", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")


def normalise(text):
    """Text with positions (``line 12``, ``column 3``) and whitespace runs made uniform."""
    text = _POSITION_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}N", str(text or ""))
    return _SPACE_RE.sub(" ", text).strip()


def fingerprint(tool, rule, file, key):
    """sha256 over tool, rule, file and the normalised key, never the line number."""
    payload = "\x1f".join((tool, rule, file, normalise(key)))
    return hashlib.sha256(payload.encode()).hexdigest()


def relative(path, root=DEFAULT_ROOT):
    """A report path relative to the scanned tree."""
    path = str(path or "")
    if root:
        root = root.rstrip("/") + "/"
        if path.startswith(root):
            path = path[len(root) :]
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _int(value):
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def _load_json(data):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Bad(f"not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Bad(f"invalid JSON at line {exc.lineno} column {exc.colno}") from None


def _text(data):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Bad(f"not UTF-8 text (byte {exc.start})") from None


def _expect(value, kind, what):
    if not isinstance(value, kind):
        names = {list: "a list", dict: "an object", str: "a string"}
        raise _Bad(f"{what} must be {names.get(kind, kind.__name__)}, got {type(value).__name__}")
    return value


def _items(value, what):
    """A list of objects (``None`` counts as empty, as Go tools write ``null``)."""
    if value is None:
        return []
    for index, item in enumerate(_expect(value, list, what)):
        _expect(item, dict, f"{what}[{index}]")
    return value


def _require(obj, keys, what):
    missing = [k for k in keys if k not in obj]
    if missing:
        raise _Bad(f"{what}: missing key(s) {', '.join(missing)}")


class _Out:
    """Collects findings; the tool name and root are fixed per report."""

    def __init__(self, tool, root):
        self.tool = tool
        self.root = root
        self.report = ParsedReport()

    def add(self, rule, severity, file, line, message, key=None, fp_file=None, is_path=True):
        """Record a finding; ``file`` is made relative unless it is not a path (``is_path``)."""
        file = relative(file, self.root) if is_path else str(file)
        fp = fingerprint(self.tool, rule, fp_file or file, message if key is None else key)
        self.report.findings.append(Finding(self.tool, str(rule), severity, file, _int(line), str(message), fp))

    def unknown(self, text):
        self.report.unknown.append(text)


# -- code-prefix severities ----------------------------------------------------------------
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


# -- parsers -------------------------------------------------------------------------------
def _pylint(data, out):
    doc = _load_json(data)
    if isinstance(doc, dict) and "messages" in doc:  # --output-format=json2
        doc = doc["messages"]
    for index, msg in enumerate(_items(doc, "report")):
        code = msg.get("message-id") or msg.get("messageId") or ""
        letter = (code[:1] or _PYLINT_TYPES.get(msg.get("type"), "")).upper()
        if letter not in _PYLINT_LETTERS:
            raise _Bad(f"report[{index}]: unknown message id {code!r}")
        _require(msg, ("path", "message"), f"report[{index}]")
        symbol = msg.get("symbol") or ""
        text = f"{msg['message']} ({symbol})" if symbol else msg["message"]
        out.add(code or symbol, _PYLINT_LETTERS[letter], msg["path"], msg.get("line"), text, key=msg["message"])


_FLAKE8_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?:(?P<col>\d+):)?\s+(?P<code>[A-Z]+[0-9]+)\s+(?P<msg>.*)$")


def _flake8(data, out):
    for number, raw in enumerate(_text(data).splitlines(), 1):
        if not raw.strip():
            continue
        match = _FLAKE8_RE.match(raw)
        if not match:
            raise _Bad(f"line {number}: not 'file:line:col: CODE message'")
        code = match["code"]
        out.add(code, code_severity(code), match["file"], match["line"], match["msg"])


def _ruff(data, out):
    for index, item in enumerate(_items(_load_json(data), "report")):
        _require(item, ("filename", "message"), f"report[{index}]")
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
    doc = _expect(_load_json(data), dict, "report")
    _require(doc, ("results",), "report")
    for index, item in enumerate(_items(doc["results"], "results")):
        _require(item, ("test_id", "filename", "issue_text", "issue_severity"), f"results[{index}]")
        raw = str(item["issue_severity"]).upper()
        severity = _BANDIT_SEVERITIES.get(raw, "medium")
        line = _int(item.get("line_number"))
        message = f"{item['issue_text']} (confidence: {item.get('issue_confidence', 'UNDEFINED')})"
        snippet = bandit_snippet(item.get("code"), line)
        out.add(item["test_id"], severity, item["filename"], line, message, key=snippet or item["issue_text"])
        if raw not in _BANDIT_SEVERITIES:
            out.unknown(f"{item['filename']}:{line}: {item['test_id']}: bandit severity {raw!r}")
    for error in _items(doc.get("errors"), "errors"):
        out.unknown(
            f"{relative(error.get('filename'), out.root)}: not scanned: {error.get('reason', 'unknown reason')}"
        )


def _pip_audit(data, out):
    doc = _load_json(data)
    deps = doc["dependencies"] if isinstance(doc, dict) and "dependencies" in doc else doc
    for index, dep in enumerate(_items(deps, "dependencies")):
        _require(dep, ("name",), f"dependencies[{index}]")
        name = dep["name"]
        if dep.get("skip_reason") is not None:
            out.unknown(f"{name}: not audited: {dep['skip_reason']}")
            continue
        _require(dep, ("version", "vulns"), f"dependencies[{index}]")
        for number, vuln in enumerate(_items(dep["vulns"], f"dependencies[{index}].vulns")):
            _require(vuln, ("id",), f"dependencies[{index}].vulns[{number}]")
            aliases = ", ".join(vuln.get("aliases") or [])
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none"
            message = f"{name} {dep['version']}: {vuln['id']}"
            message += f" ({aliases})" if aliases else ""
            message += f"; fixed in {fixes}"
            out.add(vuln["id"], "high", name, 0, message, key=name, is_path=False)


def _reject_dtd(data):
    head = data.lower()
    if b"<!doctype" in head or b"<!entity" in head:
        raise _Bad("XML with a DOCTYPE or ENTITY declaration is refused")


def _junit(data, out):
    _reject_dtd(data)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        raise _Bad(f"invalid XML at line {line} column {column + 1}") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise _Bad(f"root element must be <testsuites> or <testsuite>, got <{root.tag}>")
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
    text = _text(data)
    if not any(_ODOO_LOG_LINE_RE.match(line) for line in text.splitlines()):
        raise _Bad("no Odoo log line ('DATE TIME PID LEVEL DB LOGGER: MESSAGE') found")
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


_JQ_POSITION_RE = re.compile(r"at line (\d+), column (\d+)")


def _json_syntax(data, out):
    pending = []
    for raw in _text(data).splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("FAIL "):
            file = line[5:].strip()
            for extra in pending[:-1]:
                out.unknown(f"{file}: jq also said: {extra}")
            message = pending[-1] if pending else "invalid JSON (jq gave no message)"
            position = _JQ_POSITION_RE.search(message)
            out.add("invalid-json", "critical", file, position[1] if position else 0, message, key="")
            pending = []
        else:
            pending.append(line)
    for line in pending:
        out.unknown(f"jq output without a FAIL line: {line}")


def _n8n_structure(data, out):
    for index, item in enumerate(_items(_load_json(data), "report")):
        what = f"report[{index}]"
        _require(item, ("file", "rule", "severity", "message"), what)
        if item["severity"] not in SEVERITIES:
            raise _Bad(f"{what}: severity must be one of {', '.join(SEVERITIES)}, got {item['severity']!r}")
        node = item.get("node") or ""
        out.add(
            item["rule"],
            item["severity"],
            item["file"],
            item.get("line"),
            item["message"],
            key=f"{node}\x1f{item['message']}",
        )


def _detect_secrets(data, out):
    doc = _expect(_load_json(data), dict, "report")
    _require(doc, ("results",), "report")
    for file, secrets in _expect(doc["results"], dict, "results").items():
        for secret in _items(secrets, f"results[{file!r}]"):
            _require(secret, ("type",), f"results[{file!r}]")
            kind = secret["type"]
            message = f"{kind} detected" + (" (verified)" if secret.get("is_verified") else "")
            out.add(
                kind,
                "high",
                secret.get("filename") or file,
                secret.get("line_number"),
                message,
                key=secret.get("hashed_secret") or message,
            )


def mask_match(match, secret):
    """The matched text with the secret replaced by ``***``."""
    return str(match or "").replace(secret, "***") if secret else str(match or "")


def _gitleaks(data, out):
    for index, leak in enumerate(_items(_load_json(data), "report")):
        _require(leak, ("RuleID", "File"), f"report[{index}]")
        secret = str(leak.get("Secret") or "")
        message = f"{leak.get('Description') or leak['RuleID']} (secret masked)"
        if leak.get("Commit"):
            message += f" in commit {str(leak['Commit'])[:12]}"
        if secret:
            message = message.replace(secret, "***")
        key = mask_match(leak.get("Match"), secret) or leak["RuleID"]
        out.add(leak["RuleID"], "high", leak["File"], leak.get("StartLine"), message, key=key)


_CHECKOV_SEVERITIES = {s.upper(): s for s in SEVERITIES}


def _checkov(data, out):
    doc = _load_json(data)
    frameworks = doc if isinstance(doc, list) else [doc]
    for index, framework in enumerate(frameworks):
        what = f"report[{index}]" if isinstance(doc, list) else "report"
        _expect(framework, dict, what)
        if "results" not in framework:
            if "passed" in framework and "failed" in framework:  # nothing found to scan
                continue
            raise _Bad(f"{what}: missing key(s) results")
        results = _expect(framework["results"], dict, f"{what}.results")
        for number, check in enumerate(_items(results.get("failed_checks"), f"{what}.failed_checks")):
            _require(check, ("check_id", "file_path"), f"{what}.failed_checks[{number}]")
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
    for index, issue in enumerate(_items(_load_json(data), "report")):
        what = f"report[{index}]"
        _require(issue, ("check_name", "location"), what)
        location = _expect(issue["location"], dict, f"{what}.location")
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
    doc = _expect(_load_json(data), dict, "report")
    _require(doc, ("format_version",), "report")
    for index, change in enumerate(_items(doc.get("resource_changes"), "resource_changes")):
        _require(change, ("address", "change"), f"resource_changes[{index}]")
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
    doc = _expect(_load_json(data), dict, "report")
    _require(doc, ("SchemaVersion",), "report")
    if doc["SchemaVersion"] != 2:
        raise _Bad(f"SchemaVersion {doc['SchemaVersion']!r} is not supported (expected 2)")
    for index, result in enumerate(_items(doc.get("Results"), "Results")):
        _require(result, ("Target",), f"Results[{index}]")
        target = result["Target"]
        # The image name (and tag) is part of an OS target; keep fingerprints across releases.
        os_target = _OS_TARGET_RE.match(target) if result.get("Class") == "os-pkgs" else None
        fp_file = f"os ({os_target['os']})" if os_target else None
        for number, vuln in enumerate(_items(result.get("Vulnerabilities"), f"Results[{index}].Vulnerabilities")):
            _require(vuln, ("VulnerabilityID", "PkgName"), f"Results[{index}].Vulnerabilities[{number}]")
            vid, pkg = vuln["VulnerabilityID"], vuln["PkgName"]
            severity = _trivy_severity(vuln.get("Severity"), out, f"{target}: {vid} in {pkg}")
            fixed = vuln.get("FixedVersion") or "no fix"
            message = f"{pkg} {vuln.get('InstalledVersion', '?')}: {vid} (fixed: {fixed})"
            if vuln.get("Title"):
                message += f" - {vuln['Title']}"
            out.add(vid, severity, target, 0, message, key=pkg, fp_file=fp_file, is_path=False)
        for misconf in _items(result.get("Misconfigurations"), f"Results[{index}].Misconfigurations"):
            if str(misconf.get("Status", "FAIL")).upper() != "FAIL":
                continue
            rule = misconf.get("ID") or misconf.get("AVDID") or "misconfiguration"
            severity = _trivy_severity(misconf.get("Severity"), out, f"{target}: {rule}")
            line = (misconf.get("CauseMetadata") or {}).get("StartLine")
            title = misconf.get("Title") or misconf.get("Message") or rule
            out.add(rule, severity, target, line, title, key=f"{title}\x1f{misconf.get('Message', '')}", is_path=False)
        for secret in _items(result.get("Secrets"), f"Results[{index}].Secrets"):
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


PARSERS = {
    "pylint-json": ("pylint", _pylint),
    "flake8": ("flake8", _flake8),
    "ruff-json": ("ruff", _ruff),
    "bandit-json": ("bandit", _bandit),
    "pip-audit-json": ("pip-audit", _pip_audit),
    "junit-xml": ("junit", _junit),
    "odoo-log": ("odoo", _odoo_log),
    "json-syntax": ("jq", _json_syntax),
    "n8n-structure": ("n8n-validate", _n8n_structure),
    "detect-secrets-json": ("detect-secrets", _detect_secrets),
    "gitleaks-json": ("gitleaks", _gitleaks),
    "checkov-json": ("checkov", _checkov),
    "ansible-lint": ("ansible-lint", _ansible_lint),
    "terraform-plan-json": ("terraform", _terraform_plan),
    "trivy-json": ("trivy", _trivy),
}
EMPTY_IS_CLEAN = ("flake8", "json-syntax")


def _disambiguate(findings):
    """Give repeated fingerprints an occurrence number, in report order."""
    seen = {}
    for finding in findings:
        count = seen.get(finding.fingerprint, 0) + 1
        seen[finding.fingerprint] = count
        if count > 1:
            finding.fingerprint = hashlib.sha256(f"{finding.fingerprint}#{count}".encode()).hexdigest()


def parse_report(fmt, data, filename, root=DEFAULT_ROOT):
    """Parse one report file's bytes; raise ``ReportError`` naming the file and format."""
    if fmt not in PARSERS:
        raise ReportError(f"{filename}: {fmt}: unknown report format (expected one of {', '.join(PARSERS)})")
    if isinstance(data, str):
        data = data.encode()
    tool, parser = PARSERS[fmt]
    out = _Out(tool, root)
    if not data.strip():
        if fmt in EMPTY_IS_CLEAN:
            return out.report
        raise ReportError(f"{filename}: {fmt}: empty file")
    try:
        parser(data, out)
    except _Bad as exc:
        raise ReportError(f"{filename}: {fmt}: {exc}") from None
    _disambiguate(out.report.findings)
    return out.report
