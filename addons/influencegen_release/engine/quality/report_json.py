"""Parsers of the JSON checks of workflow files: jq's syntax check and our n8n validator.

Severity mapping
    json-syntax        each ``FAIL FILE`` line -> critical ``invalid-json``, with the jq
                       message from the line before when there is one.
    n8n-structure      severity as written by our validator (see below), checked.

n8n-structure format (written by the ``n8n.validate`` action)
    A JSON list of objects: ``file`` (str), ``rule`` (str), ``severity`` (one of the five
    severities), ``message`` (str), all required; ``line`` (int) and ``node`` (str, the
    workflow node concerned, part of the fingerprint) optional. ``[]`` means clean.
"""

import re

from ..vocabulary import MOST_SEVERE_FIRST
from .report_common import BadReport, load_json, load_text, objects, require

_JQ_POSITION_RE = re.compile(r"at line (\d+), column (\d+)")


def _json_syntax(data, out):
    pending = []
    for raw in load_text(data).splitlines():
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
    for index, item in enumerate(objects(load_json(data), "report")):
        what = f"report[{index}]"
        require(item, ("file", "rule", "severity", "message"), what)
        if item["severity"] not in MOST_SEVERE_FIRST:
            raise BadReport(f"{what}: severity must be one of {', '.join(MOST_SEVERE_FIRST)}, got {item['severity']!r}")
        node = item.get("node") or ""
        out.add(
            item["rule"],
            item["severity"],
            item["file"],
            item.get("line"),
            item["message"],
            key=f"{node}\x1f{item['message']}",
        )


# format -> (tool, parser), in the order of the pipeline format's REPORT_FORMATS
PARSERS = {
    "json-syntax": ("jq", _json_syntax),
    "n8n-structure": ("n8n-validate", _n8n_structure),
}
