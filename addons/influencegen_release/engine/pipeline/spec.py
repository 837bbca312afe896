"""Pipeline-as-code: load, validate and normalise a pipeline YAML file.

``load_pipeline_file(text, filename)`` returns a ``PipelineFile`` with the normalised,
JSON-serialisable pipelines and environments, or raises ``SpecError`` listing every problem,
each as ``file:line: path: message``. The format is documented in docs/pipeline-format.md.

This module is the format's public entry point; the work is done by its parts:
``schema`` (the format's terms), ``check_values`` (typed reads of YAML values),
``check_stages`` (stages, tasks, gates, approvals) and ``check_pipeline`` (the file,
environments, triggers, rollback, notifications). Their public names are importable from here.
"""

import fnmatch
import hashlib
import json
from dataclasses import dataclass, field

from ..vocabulary import KINDS, ROLES, SEVERITIES, TIERS  # noqa: F401  (part of this module's interface)
from .check_pipeline import PipelineChecker
from .check_values import slug  # noqa: F401  (part of this module's interface)
from .schema import (  # noqa: F401  (part of this module's interface)
    ACTIONS,
    CHANNELS,
    CHECKLIST_CONFIRMERS,
    CODE_RE,
    CREDENTIAL_REF,
    DEFAULT_LIMITS,
    DURATION_RE,
    EVIDENCE,
    EXCLUSIONS,
    FORMAT_VERSION,
    KEY_RE,
    NETWORKS,
    NOTIFY_EVENTS,
    REPORT_FORMATS,
    REQ_RE,
    ROLLBACK_STRATEGIES,
    SIZE_RE,
    TRIGGER_EVENTS,
)
from .yaml_source import SourceError, load_yaml


class SpecError(Exception):
    """A pipeline file with problems; ``errors`` holds one ``file:line: path: message`` each."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass
class PipelineFile:
    filename: str
    pipelines: list = field(default_factory=list)
    environments: list = field(default_factory=list)


def checksum(data):
    """Stable sha256 of a normalised structure (what a sync compares)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def ref_matches(patterns, ref):
    """True when a Git ref (``refs/heads/x`` or ``x``) matches one of the glob patterns."""
    branch = ref
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            branch = ref[len(prefix) :]
    return any(fnmatch.fnmatchcase(branch, pattern) for pattern in patterns)


def _strip_lines(value):
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "_line"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def load_pipeline_file(text, filename="<string>"):
    """Validate pipeline YAML ``text``; return a PipelineFile or raise SpecError."""
    try:
        doc = load_yaml(text, filename)
    except SourceError as exc:
        raise SpecError([str(exc)]) from exc
    checker = PipelineChecker(filename)
    pipelines, environments = checker.document(doc)
    if checker.errors:
        raise SpecError(checker.errors)
    return PipelineFile(filename, _strip_lines(pipelines), environments)


def read_pipeline_file(path):
    """Read and validate a pipeline file from disk; unreadable files raise SpecError too."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([f"{path}:0: (file): cannot read: {exc}"]) from exc
    return load_pipeline_file(text, str(path))
