"""Parse the reports that pipeline tasks write into normalised findings and test summaries.

``parse_report(fmt, data, filename)`` returns a ``ParsedReport``: a list of ``Finding``, a
``TestResult`` for test formats (``junit-xml``, ``odoo-log``) or ``None``, and ``unknown``: one
sentence per thing the report could not judge (an unaudited dependency, a file the scanner could
not read...). Such things are never counted as clean. Unreadable or malformed input raises
``ReportError`` whose message names the file, the format and the reason, e.g.
``reports/bandit.json: bandit-json: invalid JSON at line 3 column 5``.

An empty report is an error, except for ``flake8`` and ``json-syntax``: both write nothing at
all when everything is fine (the json-syntax task truncates its report before running ``jq``).

This module is the public entry point: the result types and the fingerprint are in
``report_common`` (its docstring says how fingerprints are made), the parsers by tool family in
``report_python``, ``report_testing``, ``report_json``, ``report_secrets`` and ``report_infra``
(each docstring gives its formats' severity mapping).
"""

import hashlib

from . import report_infra, report_json, report_python, report_secrets, report_testing
from .report_common import (  # noqa: F401  (part of this module's interface)
    DEFAULT_ROOT,
    BadReport,
    Collector,
    Finding,
    ParsedReport,
    ReportError,
    TestResult,
    fingerprint,
    normalise,
    relative,
)
from .report_python import bandit_snippet, code_severity  # noqa: F401  (part of this module's interface)
from .report_secrets import mask_match  # noqa: F401  (part of this module's interface)

# format -> (tool, parser); families in the order of the pipeline format's REPORT_FORMATS
PARSERS = {
    **report_python.PARSERS,
    **report_testing.PARSERS,
    **report_json.PARSERS,
    **report_secrets.PARSERS,
    **report_infra.PARSERS,
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
    out = Collector(tool, root)
    if not data.strip():
        if fmt in EMPTY_IS_CLEAN:
            return out.report
        raise ReportError(f"{filename}: {fmt}: empty file")
    try:
        parser(data, out)
    except BadReport as exc:
        raise ReportError(f"{filename}: {fmt}: {exc}") from None
    _disambiguate(out.report.findings)
    return out.report
