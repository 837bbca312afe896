"""Find secrets written into an n8n workflow's node parameters.

A secret belongs in an n8n credential, which a node references by id (``node.credentials``,
never scanned), or in an expression that reads it at run time (``={{ $env.API_KEY }}``). A
literal one in ``parameters`` would be versioned in Git and pushed to every instance. Findings
name the node and the parameter path, never the value.
"""

import re
from dataclasses import dataclass

# Values that are secrets whatever parameter holds them.
SECRET_PATTERNS = (
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9\-._~+/]{16,}=*")),
    ("a basic-auth header", re.compile(r"\bBasic\s+[A-Za-z0-9+/]{12,}={0,2}")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("an API secret key (sk-...)", re.compile(r"\bsk[-_](?:live_|test_|proj-)?[A-Za-z0-9]{20,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("a password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@{}]+:[^/\s@{}]+@", re.IGNORECASE)),
    (
        # token = "..." / "api_key": "..." inside code, JSON bodies or query strings; a value
        # that starts an expression ({{ or $) is a reference, not a secret.
        "a secret assigned in text",
        re.compile(
            r"""(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|token)["']?\s*[:=]\s*["'](?!\{\{|\$)[^"'\s]{6,}["']""",
            re.IGNORECASE,
        ),
    ),
)
# Parameter names (or the ``name`` of a name/value pair, as in HTTP headers and Set fields)
# whose literal value is a secret.
SECRET_NAME = re.compile(
    r"pass(?:word|wd)$|^pass$|^pwd$|secret|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|(?:auth|access|refresh|bearer|api|session)[_-]?token|^token$|^authorization$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SecretFinding:
    node: str
    path: str
    kind: str

    def __str__(self):
        return f"node {self.node!r}: {self.path}: {self.kind}"


def scan_secrets(workflow):
    """Every secret-looking literal in the nodes' parameters and notes, one finding per path."""
    findings = []
    for node in workflow.get("nodes") or []:
        if not isinstance(node, dict):
            continue
        name = str(node.get("name", ""))
        for path, kind in _scan(node.get("parameters"), "parameters", None):
            findings.append(SecretFinding(name, path, kind))
        for path, kind in _scan(node.get("notes"), "notes", None):
            findings.append(SecretFinding(name, path, kind))
    return findings


def _scan(value, path, name):
    """(path, kind) for ``value``; ``name`` is the parameter name the value is stored under."""
    if isinstance(value, dict):
        pair_name = value.get("name") if isinstance(value.get("name"), str) else None
        for key, item in value.items():
            yield from _scan(item, f"{path}.{key}", pair_name if key == "value" and pair_name else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _scan(item, f"{path}[{index}]", name)
    elif isinstance(value, str):
        kind = _secret_kind(value, name)
        if kind:
            yield path, kind


def _secret_kind(text, name):
    for kind, pattern in SECRET_PATTERNS:
        if pattern.search(text):
            return kind
    # An n8n expression starts with "=": it reads the value at run time.
    literal = text.strip() and not text.startswith("=")
    if literal and name and SECRET_NAME.search(name):
        return f"a literal value for {name!r}"
    return None
