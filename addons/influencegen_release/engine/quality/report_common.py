"""What every report parser shares: the result types, the fingerprint and the reading helpers.

A parser is ``parse(data, out)``: it reads ``data`` (bytes) with ``load_json`` / ``load_text`` and
the shape checks (``expect``, ``objects``, ``require``), records findings, test summaries and
unknowns on ``out`` (a ``Collector``) and raises ``BadReport`` with the reason only;
``reports.parse_report`` adds the file and the format.

Fingerprints
    ``sha256(tool, rule, file, key)`` where ``key`` is the normalised offending code snippet
    when the tool gives one (bandit), else a stable identifier of the finding (resource address,
    package, hashed secret...), else the normalised message. The line number is never part of
    it, so a finding keeps its fingerprint when lines are inserted above it. Line and column
    numbers quoted inside messages are replaced by ``N``. When several findings of one report
    share a fingerprint, the second and later get ``#2``, ``#3``... mixed in (in report order).
    File paths are made relative: a leading ``root`` (default ``/src``, where steps see the
    sources), ``/`` or ``./`` is removed.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field

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


class BadReport(Exception):
    """Raised by parsers with the reason only; ``parse_report`` adds file and format."""


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


def whole(value):
    """A line number or count: a whole number >= 0, 0 when the report gives none."""
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def load_text(data):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadReport(f"not UTF-8 text (byte {exc.start})") from None


def load_json(data):
    text = load_text(data)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadReport(f"invalid JSON at line {exc.lineno} column {exc.colno}") from None


def expect(value, kind, what):
    if not isinstance(value, kind):
        names = {list: "a list", dict: "an object", str: "a string"}
        raise BadReport(f"{what} must be {names.get(kind, kind.__name__)}, got {type(value).__name__}")
    return value


def objects(value, what):
    """A list of objects (``None`` counts as empty, as Go tools write ``null``)."""
    if value is None:
        return []
    for index, item in enumerate(expect(value, list, what)):
        expect(item, dict, f"{what}[{index}]")
    return value


def require(obj, keys, what):
    missing = [k for k in keys if k not in obj]
    if missing:
        raise BadReport(f"{what}: missing key(s) {', '.join(missing)}")


class Collector:
    """Collects findings; the tool name and root are fixed per report."""

    def __init__(self, tool, root):
        self.tool = tool
        self.root = root
        self.report = ParsedReport()

    def add(self, rule, severity, file, line, message, key=None, fp_file=None, is_path=True):
        """Record a finding; ``file`` is made relative unless it is not a path (``is_path``)."""
        file = relative(file, self.root) if is_path else str(file)
        fp = fingerprint(self.tool, rule, fp_file or file, message if key is None else key)
        self.report.findings.append(Finding(self.tool, str(rule), severity, file, whole(line), str(message), fp))

    def unknown(self, text):
        self.report.unknown.append(text)
