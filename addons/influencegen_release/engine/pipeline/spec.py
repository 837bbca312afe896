"""Pipeline-as-code: load, validate and normalise a pipeline YAML file.

``load_pipeline_file(text, filename)`` returns a ``PipelineFile`` with the normalised,
JSON-serialisable pipelines and environments, or raises ``SpecError`` listing every problem,
each as ``file:line: path: message``. The format is documented in docs/pipeline-format.md.
"""

import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field

from ..vocabulary import KINDS, ROLES, SEVERITIES, TIERS
from .yaml_source import LineDict, LineList, SourceError, load_yaml

FORMAT_VERSION = 1
NETWORKS = ("none", "host")
TRIGGER_EVENTS = ("push", "tag", "manual", "schedule", "pipeline")
ROLLBACK_STRATEGIES = ("redeploy_previous", "revert_and_reapply", "previous_image", "none")
NOTIFY_EVENTS = (
    "build_failed",
    "validation_failed",
    "scan_failed",
    "plan_ready",
    "deploy_succeeded",
    "deploy_failed",
    "apply_succeeded",
    "apply_failed",
    "push_succeeded",
    "approval_requested",
    "run_succeeded",
    "run_failed",
)
CHANNELS = ("email", "slack")
EXCLUSIONS = ("author", "triggerer")
EVIDENCE = ("none", "uat")  # uat: an approval needs a passed UAT session of the run
CHECKLIST_CONFIRMERS = ("release_manager", "devops_lead")
REPORT_FORMATS = (
    "pylint-json",
    "flake8",
    "ruff-json",
    "bandit-json",
    "pip-audit-json",
    "junit-xml",
    "odoo-log",
    "json-syntax",
    "n8n-structure",
    "detect-secrets-json",
    "gitleaks-json",
    "checkov-json",
    "ansible-lint",
    "terraform-plan-json",
    "trivy-json",
)
# Built-in actions carried out by the product itself rather than by a command in a container.
ACTIONS = {
    "git.checkout": "export the run's exact commit into the job workspace",
    "artifact.version": "compute the SemVer version of the release from Git",
    "artifact.package": "package the sources into a versioned, checksummed artifact",
    "artifact.publish": "store the artifact, immutable, in the artifact repository",
    "odoo.deploy": "install or upgrade the changed modules on the target Odoo database",
    "odoo.migrate": "run the database migrations of the upgraded modules",
    "odoo.smoke": "smoke-check the target Odoo (health, versions, checksums, custom checks)",
    "n8n.deploy": "validate and push workflows to the target n8n through its public API",
    "n8n.validate": "check workflow JSON structure: unique node names, known keys, connections, triggers",
    "docker.info": "check that the runner's Docker engine answers (steps never get its socket)",
    "image.build": "build a container image from a Dockerfile",
    "image.tag": "tag the built image with the release version and commit",
    "registry.login": "log in to the container registry with the environment's credentials",
    "image.push": "push the tagged image to the container registry",
    "image.scan": "scan the built image with Trivy (its image named in the task) into findings",
    "image.deploy": "run the pushed image, by digest, as the environment's health-checked service",
    "iac.plan": "plan the infrastructure changes (ansible-playbook --check --diff, terraform plan) per environment",
    "iac.apply": "plan again, refuse a plan other than the approved one, and apply it to the stage's environment",
    "iac.validate": "compare the environment's gathered facts with another environment's (REQ-DI-ENVPAR)",
}
CREDENTIAL_REF = re.compile(r"^(env|file|param):[A-Za-z0-9_./-]+$")
CODE_RE = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
REQ_RE = re.compile(r"^REQ-[A-Z0-9-]+$")
DURATION_RE = re.compile(r"^(\d+)\s*([smh]?)$")
SIZE_RE = re.compile(r"^(\d+)\s*([mg]?)$", re.IGNORECASE)

DEFAULT_LIMITS = {"timeout": 1800, "cpus": 1.0, "memory": 1024, "pids": 256, "network": "none"}


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


def slug(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "item"


def ref_matches(patterns, ref):
    """True when a Git ref (``refs/heads/x`` or ``x``) matches one of the glob patterns."""
    branch = ref
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            branch = ref[len(prefix) :]
    return any(fnmatch.fnmatchcase(branch, pattern) for pattern in patterns)


class _Checker:
    """Walks the parsed YAML; records errors instead of stopping at the first one."""

    def __init__(self, filename):
        self.filename = filename
        self.errors = []

    def error(self, line, path, message):
        self.errors.append(f"{self.filename}:{line}: {path}: {message}")

    # -- generic helpers -------------------------------------------------------------------
    def mapping(self, value, path, line, allowed, required=()):
        if not isinstance(value, dict):
            self.error(line, path, f"expected a mapping, got {type(value).__name__}")
            return None
        for key in value:
            if key not in allowed:
                self.error(
                    value.line_of(key),
                    f"{path}.{key}",
                    f"unknown key '{key}' (allowed: {', '.join(sorted(allowed))})",
                )
        for key in required:
            if key not in value or value[key] in (None, "", [], {}):
                self.error(value.line, f"{path}.{key}", f"missing required key '{key}'")
        return value

    def items(self, value, path, line, required=False):
        """Yield (index, item, item_path, item_line) for a list value."""
        if value is None:
            if required:
                self.error(line, path, "must be a non-empty list")
            return
        if not isinstance(value, list):
            self.error(line, path, f"expected a list, got {type(value).__name__}")
            return
        if required and not value:
            self.error(line, path, "must be a non-empty list")
        for index, item in enumerate(value):
            yield index, item, f"{path}[{index}]", value.line_of(index) if isinstance(value, LineList) else line

    def string(self, obj, key, path, default=None, pattern=None, choices=None):
        if key not in obj or obj[key] is None:
            return default
        value, line = obj[key], obj.line_of(key)
        if isinstance(value, (bool, dict, list)):
            self.error(line, f"{path}.{key}", f"expected text, got {type(value).__name__}")
            return default
        value = str(value).strip()
        if choices and value not in choices:
            self.error(line, f"{path}.{key}", f"'{value}' is not one of: {', '.join(choices)}")
        elif pattern and not pattern.match(value):
            self.error(line, f"{path}.{key}", f"'{value}' does not match {pattern.pattern}")
        return value

    def strings(self, obj, key, path, choices=None, pattern=None):
        if key not in obj or obj[key] is None:
            return []
        value, line = obj[key], obj.line_of(key)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.error(line, f"{path}.{key}", "expected a list of text values")
            return []
        result = []
        for index, item in enumerate(value):
            item_line = value.line_of(index) if isinstance(value, LineList) else line
            if isinstance(item, (dict, list)) or item is None:
                self.error(item_line, f"{path}.{key}[{index}]", "expected text")
                continue
            item = str(item).strip()
            if choices and item not in choices:
                self.error(item_line, f"{path}.{key}[{index}]", f"'{item}' is not one of: {', '.join(choices)}")
            elif pattern and not pattern.match(item):
                self.error(item_line, f"{path}.{key}[{index}]", f"'{item}' does not match {pattern.pattern}")
            result.append(item)
        return result

    def boolean(self, obj, key, path, default=False):
        if key not in obj or obj[key] is None:
            return default
        if not isinstance(obj[key], bool):
            self.error(obj.line_of(key), f"{path}.{key}", "expected true or false")
            return default
        return obj[key]

    def integer(self, obj, key, path, default=None, minimum=0):
        if key not in obj or obj[key] is None:
            return default
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.error(obj.line_of(key), f"{path}.{key}", f"expected a whole number >= {minimum}")
            return default
        return value

    def number(self, obj, key, path, default=None):
        if key not in obj or obj[key] is None:
            return default
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self.error(obj.line_of(key), f"{path}.{key}", "expected a positive number")
            return default
        return float(value)

    def duration(self, obj, key, path, default=None):
        """Seconds from ``90``, ``90s``, ``15m`` or ``2h``."""
        if key not in obj or obj[key] is None:
            return default
        match = DURATION_RE.match(str(obj[key]).strip()) if not isinstance(obj[key], bool) else None
        if not match or int(match.group(1)) <= 0:
            self.error(obj.line_of(key), f"{path}.{key}", "expected a duration such as 600, 90s, 15m or 2h")
            return default
        return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]

    def size(self, obj, key, path, default=None):
        """MiB from ``512``, ``512m`` or ``2g``."""
        if key not in obj or obj[key] is None:
            return default
        match = SIZE_RE.match(str(obj[key]).strip()) if not isinstance(obj[key], bool) else None
        if not match or int(match.group(1)) <= 0:
            self.error(obj.line_of(key), f"{path}.{key}", "expected a memory size in MiB such as 512, 512m or 2g")
            return default
        return int(match.group(1)) * (1024 if match.group(2).lower() == "g" else 1)

    def key_of(self, obj, path, name):
        return self.string(obj, "key", path, pattern=KEY_RE) or slug(name or "")

    # -- the format -----------------------------------------------------------------------
    def document(self, doc):
        if not isinstance(doc, LineDict):
            self.error(1, "(file)", "expected a mapping with 'version' and 'pipeline' or 'pipelines'")
            return [], []
        self.mapping(doc, "(file)", doc.line, {"version", "environments", "pipeline", "pipelines"}, ("version",))
        if "version" in doc and doc["version"] != FORMAT_VERSION:
            self.error(
                doc.line_of("version"),
                "version",
                f"unsupported format version {doc['version']!r} (expected {FORMAT_VERSION})",
            )
        environments = [
            self.environment(item, path, line)
            for _i, item, path, line in self.items(doc.get("environments"), "environments", doc.line_of("environments"))
        ]
        environments = [env for env in environments if env]
        self.unique(environments, "code", "environments", doc)
        if ("pipeline" in doc) == ("pipelines" in doc):
            self.error(doc.line, "(file)", "give exactly one of 'pipeline' (a mapping) or 'pipelines' (a list)")
            return [], environments
        if "pipeline" in doc:
            raw = [(doc["pipeline"], "pipeline", doc.line_of("pipeline"))]
        else:
            raw = [
                (item, path, line)
                for _i, item, path, line in self.items(
                    doc["pipelines"], "pipelines", doc.line_of("pipelines"), required=True
                )
            ]
        env_codes = {env["code"] for env in environments}
        pipelines = [self.pipeline(item, path, line, env_codes) for item, path, line in raw]
        pipelines = [p for p in pipelines if p]
        codes = [p["code"] for p in pipelines]
        for code in {c for c in codes if codes.count(c) > 1}:
            self.error(doc.line, "pipelines", f"duplicate pipeline code '{code}'")
        return pipelines, environments

    def unique(self, records, attr, path, doc):
        seen = set()
        for record in records:
            if record[attr] in seen:
                self.error(doc.line, path, f"duplicate {attr} '{record[attr]}'")
            seen.add(record[attr])

    def environment(self, obj, path, line):
        allowed = {
            "code",
            "name",
            "tier",
            "kind",
            "url",
            "database",
            "credentials",
            "calendar",
            "block_on_drift",
            "description",
        }
        if self.mapping(obj, path, line, allowed, ("code", "name", "tier", "kind")) is None:
            return None
        credentials = self.string(obj, "credentials", path)
        if credentials and not CREDENTIAL_REF.match(credentials):
            self.error(
                obj.line_of("credentials"),
                f"{path}.credentials",
                "must be a reference (env:NAME, file:/path or param:key), never the secret itself",
            )
        return {
            "code": self.string(obj, "code", path, pattern=re.compile(r"^[a-z][a-z0-9-]*$")) or "",
            "name": self.string(obj, "name", path) or "",
            "tier": self.string(obj, "tier", path, choices=TIERS),
            "kind": self.string(obj, "kind", path, choices=KINDS),
            "url": self.string(obj, "url", path),
            "database": self.string(obj, "database", path),
            "credentials": credentials,
            "calendar": self.string(obj, "calendar", path),
            "block_on_drift": self.boolean(obj, "block_on_drift", path),
            "description": self.string(obj, "description", path),
        }

    def pipeline(self, obj, path, line, env_codes):
        allowed = {
            "code",
            "name",
            "description",
            "kind",
            "requirements",
            "triggers",
            "defaults",
            "stages",
            "rollback",
            "notifications",
            "on_success",
        }
        if self.mapping(obj, path, line, allowed, ("code", "name", "kind", "triggers", "stages")) is None:
            return None
        defaults = self.defaults(obj.get("defaults"), f"{path}.defaults", obj.line_of("defaults"))
        stages = []
        for _i, item, spath, sline in self.items(
            obj.get("stages"), f"{path}.stages", obj.line_of("stages"), required="stages" in obj
        ):
            stage = self.stage(item, spath, sline, defaults, env_codes)
            if stage:
                stage["sequence"] = len(stages) + 1
                stages.append(stage)
        self.cross_check(stages, path)
        triggers = [
            self.trigger(item, tpath, tline)
            for _i, item, tpath, tline in self.items(
                obj.get("triggers"), f"{path}.triggers", obj.line_of("triggers"), required="triggers" in obj
            )
        ]
        notifications = [
            self.notification(item, npath, nline)
            for _i, item, npath, nline in self.items(
                obj.get("notifications"), f"{path}.notifications", obj.line_of("notifications")
            )
        ]
        return {
            "code": self.string(obj, "code", path, pattern=CODE_RE) or "",
            "name": self.string(obj, "name", path) or "",
            "description": self.string(obj, "description", path) or "",
            "kind": self.string(obj, "kind", path, choices=KINDS),
            "requirements": self.strings(obj, "requirements", path, pattern=REQ_RE),
            "triggers": [t for t in triggers if t],
            "defaults": defaults,
            "stages": stages,
            "rollback": self.rollback(obj.get("rollback"), f"{path}.rollback", obj.line_of("rollback")),
            "notifications": [n for n in notifications if n],
            "on_success": self.strings(obj, "on_success", path, pattern=CODE_RE),
        }

    def defaults(self, obj, path, line):
        result = dict(DEFAULT_LIMITS, image=None)
        if obj is None:
            return result
        if self.mapping(obj, path, line, {"image", "timeout", "cpus", "memory", "pids", "network"}) is None:
            return result
        result.update(
            {
                "image": self.string(obj, "image", path),
                "timeout": self.duration(obj, "timeout", path, DEFAULT_LIMITS["timeout"]),
                "cpus": self.number(obj, "cpus", path, DEFAULT_LIMITS["cpus"]),
                "memory": self.size(obj, "memory", path, DEFAULT_LIMITS["memory"]),
                "pids": self.integer(obj, "pids", path, DEFAULT_LIMITS["pids"], minimum=1),
                "network": self.string(obj, "network", path, DEFAULT_LIMITS["network"], choices=NETWORKS),
            }
        )
        return result

    def trigger(self, obj, path, line):
        allowed = {"event", "branches", "tags", "paths", "pipeline", "result", "schedule"}
        if self.mapping(obj, path, line, allowed, ("event",)) is None:
            return None
        event = self.string(obj, "event", path, choices=TRIGGER_EVENTS)
        trigger = {
            "event": event,
            "branches": self.strings(obj, "branches", path),
            "tags": self.strings(obj, "tags", path),
            "paths": self.strings(obj, "paths", path),
            "pipeline": self.string(obj, "pipeline", path, pattern=CODE_RE),
            "result": self.string(obj, "result", path, "succeeded", choices=("succeeded", "failed", "any")),
            "schedule": self.string(obj, "schedule", path),
        }
        if event == "push" and not trigger["branches"]:
            self.error(obj.line, f"{path}.branches", "a push trigger needs at least one branch pattern")
        if event == "tag" and not trigger["tags"]:
            self.error(obj.line, f"{path}.tags", "a tag trigger needs at least one tag pattern")
        if event == "pipeline" and not trigger["pipeline"]:
            self.error(obj.line, f"{path}.pipeline", "a pipeline trigger names the pipeline code it follows")
        if event == "schedule" and not trigger["schedule"]:
            self.error(obj.line, f"{path}.schedule", "a schedule trigger needs an interval such as 1h or 1d")
        return trigger

    def stage(self, obj, path, line, defaults, env_codes):
        allowed = {
            "name",
            "key",
            "description",
            "trigger",
            "branches",
            "environment",
            "requirements",
            "tasks",
            "gates",
            "approval",
        }
        if self.mapping(obj, path, line, allowed, ("name", "tasks")) is None:
            return None
        name = self.string(obj, "name", path) or ""
        environment = self.string(obj, "environment", path)
        if environment and environment not in env_codes:
            self.error(
                obj.line_of("environment"),
                f"{path}.environment",
                f"unknown environment '{environment}' (declare it under 'environments')",
            )
        tasks = []
        for _i, item, tpath, tline in self.items(
            obj.get("tasks"), f"{path}.tasks", obj.line_of("tasks"), required="tasks" in obj
        ):
            task = self.task(item, tpath, tline, defaults)
            if task:
                task["sequence"] = len(tasks) + 1
                tasks.append(task)
        approval = None
        if obj.get("approval") is not None:
            approval = self.approval(obj["approval"], f"{path}.approval", obj.line_of("approval"), environment)
        gates = []
        for _i, item, gpath, gline in self.items(obj.get("gates"), f"{path}.gates", obj.line_of("gates")):
            gate = self.gate(item, gpath, gline, approval)
            if gate:
                gate["sequence"] = len(gates) + 1
                gates.append(gate)
        self.unique_names(gates, f"{path}.gates", "gate")
        return {
            "name": name,
            "key": self.key_of(obj, path, name),
            "description": self.string(obj, "description", path) or "",
            "trigger": self.string(obj, "trigger", path, "auto", choices=("auto", "manual")),
            "branches": self.strings(obj, "branches", path),
            "environment": environment,
            "requirements": self.strings(obj, "requirements", path, pattern=REQ_RE),
            "tasks": tasks,
            "gates": gates,
            "approval": approval,
            "_line": obj.line,
        }

    def task(self, obj, path, line, defaults):
        allowed = {
            "name",
            "key",
            "description",
            "tool",
            "requirements",
            "run",
            "image",
            "uses",
            "with",
            "checklist",
            "timeout",
            "cpus",
            "memory",
            "pids",
            "network",
            "allow_failure",
            "retry",
            "reports",
            "artifacts",
            "secrets",
            "env",
            "window",
            "confirm_by",
        }
        if self.mapping(obj, path, line, allowed, ("name",)) is None:
            return None
        name = self.string(obj, "name", path) or ""
        run = obj.get("run")
        if isinstance(run, list):
            run = " && ".join(str(part) for part in run)
        uses = self.string(obj, "uses", path, choices=tuple(ACTIONS))
        checklist = self.strings(obj, "checklist", path)
        modes = [m for m, present in (("run", run), ("uses", uses), ("checklist", checklist)) if present]
        image = self.string(obj, "image", path) or None
        if not modes:
            self.error(
                obj.line,
                path,
                f"task '{name}' has no command: give 'run' (a command with an image), 'uses' (a built-in action) or 'checklist' (manual items)",
            )
        elif len(modes) > 1:
            self.error(obj.line, path, f"task '{name}' mixes {' and '.join(repr(m) for m in modes)}: give only one")
        elif modes == ["run"] and not (image or defaults.get("image")):
            self.error(
                obj.line, path, f"task '{name}' has no image: set 'image' on the task or in the pipeline's 'defaults'"
            )
        confirm_by = self.strings(obj, "confirm_by", path, choices=ROLES)
        if confirm_by and not checklist:
            self.error(obj.line_of("confirm_by"), f"{path}.confirm_by", "'confirm_by' only applies to a task with 'checklist'")
        if image and modes != ["run"]:
            self.error(obj.line_of("image"), f"{path}.image", "'image' only applies to a task with 'run'")
        params = obj.get("with") or {}
        if not isinstance(params, dict):
            self.error(obj.line_of("with"), f"{path}.with", "expected a mapping of parameters")
            params = {}
        if params and not uses:
            self.error(obj.line_of("with"), f"{path}.with", "'with' only applies to a task with 'uses'")
        env = obj.get("env") or {}
        if not isinstance(env, dict) or any(isinstance(v, (dict, list)) for v in env.values()):
            self.error(obj.line_of("env"), f"{path}.env", "expected a mapping of NAME: value")
            env = {}
        retry = self.retry(obj.get("retry"), f"{path}.retry", obj.line_of("retry"))
        reports = [
            self.report(item, rpath, rline)
            for _i, item, rpath, rline in self.items(obj.get("reports"), f"{path}.reports", obj.line_of("reports"))
        ]
        return {
            "name": name,
            "key": self.key_of(obj, path, name),
            "description": self.string(obj, "description", path) or "",
            "tool": self.string(obj, "tool", path) or "",
            "requirements": self.strings(obj, "requirements", path, pattern=REQ_RE),
            "mode": modes[0] if len(modes) == 1 else None,
            "run": str(run).strip() if run else None,
            "image": (image or defaults.get("image")) if modes == ["run"] else None,
            "uses": uses,
            "with": json.loads(json.dumps(params, default=str)),
            "checklist": checklist,
            "timeout": self.duration(obj, "timeout", path, defaults["timeout"]),
            "cpus": self.number(obj, "cpus", path, defaults["cpus"]),
            "memory": self.size(obj, "memory", path, defaults["memory"]),
            "pids": self.integer(obj, "pids", path, defaults["pids"], minimum=1),
            "network": self.string(obj, "network", path, defaults["network"], choices=NETWORKS),
            "allow_failure": self.boolean(obj, "allow_failure", path),
            "retry": retry,
            "reports": [r for r in reports if r],
            "artifacts": self.strings(obj, "artifacts", path),
            "secrets": self.strings(obj, "secrets", path, pattern=re.compile(r"^[A-Z][A-Z0-9_]*$")),
            "env": {str(k): str(v) for k, v in env.items()},
            "window": self.boolean(obj, "window", path),
            "confirm_by": confirm_by or (list(CHECKLIST_CONFIRMERS) if checklist else []),
            "labels": self.strings(obj, "labels", path),
            "_line": obj.line,
        }

    def retry(self, obj, path, line):
        if obj is None:
            return {"exit_codes": [], "max": 0}
        if self.mapping(obj, path, line, {"exit_codes", "max"}, ("exit_codes",)) is None:
            return {"exit_codes": [], "max": 0}
        codes = []
        for index, code in enumerate(obj.get("exit_codes") or []):
            if isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 255:
                self.error(obj.line_of("exit_codes"), f"{path}.exit_codes[{index}]", "expected an exit code 1-255")
            else:
                codes.append(code)
        return {"exit_codes": codes, "max": self.integer(obj, "max", path, 2, minimum=1)}

    def report(self, obj, path, line):
        if self.mapping(obj, path, line, {"format", "path"}, ("format", "path")) is None:
            return None
        report_path = self.string(obj, "path", path) or ""
        if report_path.startswith("/") or ".." in report_path.split("/"):
            self.error(obj.line_of("path"), f"{path}.path", "must be relative to the job workspace, without '..'")
        return {"format": self.string(obj, "format", path, choices=REPORT_FORMATS), "path": report_path}

    def approval(self, obj, path, line, environment):
        allowed = {
            "rules",
            "order",
            "deadline",
            "remind",
            "escalate_to",
            "reject_on_any",
            "exclude",
            "comment_required",
            "window",
            "evidence",
        }
        if self.mapping(obj, path, line, allowed, ("rules",)) is None:
            return None
        rules = []
        for _i, item, rpath, rline in self.items(
            obj.get("rules"), f"{path}.rules", obj.line_of("rules"), required="rules" in obj
        ):
            if self.mapping(item, rpath, rline, {"group", "quorum"}, ("group",)) is None:
                continue
            rules.append(
                {
                    "group": self.string(item, "group", rpath, choices=ROLES),
                    "quorum": self.integer(item, "quorum", rpath, 1, minimum=1),
                }
            )
        groups = [r["group"] for r in rules]
        for group in {g for g in groups if groups.count(g) > 1}:
            self.error(obj.line_of("rules"), f"{path}.rules", f"group '{group}' appears twice")
        window = self.boolean(obj, "window", path)
        if window and not environment:
            self.error(obj.line_of("window"), f"{path}.window", "a maintenance window needs the stage's 'environment'")
        return {
            "rules": rules,
            "order": self.string(obj, "order", path, "parallel", choices=("parallel", "sequential")),
            "deadline": self.duration(obj, "deadline", path, 72 * 3600),
            "remind": self.duration(obj, "remind", path, 24 * 3600),
            "escalate_to": self.string(obj, "escalate_to", path, "release_manager", choices=ROLES),
            "reject_on_any": self.boolean(obj, "reject_on_any", path, True),
            "exclude": self.strings(obj, "exclude", path, choices=EXCLUSIONS),
            "comment_required": self.boolean(obj, "comment_required", path),
            "window": window,
            "evidence": self.string(obj, "evidence", path, "none", choices=EVIDENCE),
        }

    def gate(self, obj, path, line, approval):
        allowed = {"name", "key", "description", "requirements", "type", "criteria", "baseline"}
        if self.mapping(obj, path, line, allowed, ("name",)) is None:
            return None
        name = self.string(obj, "name", path) or ""
        gate_type = self.string(obj, "type", path, "automatic", choices=("automatic", "manual"))
        criteria = []
        if gate_type == "manual":
            if obj.get("criteria"):
                self.error(
                    obj.line_of("criteria"),
                    f"{path}.criteria",
                    "a manual gate is decided by its approval; remove 'criteria'",
                )
            if approval is None:
                self.error(
                    obj.line, path, f"manual gate '{name}' refers to no approval: add an 'approval' to its stage"
                )
        else:
            for _i, item, cpath, cline in self.items(
                obj.get("criteria"),
                f"{path}.criteria",
                obj.line_of("criteria") if "criteria" in obj else obj.line,
                required=True,
            ):
                criterion = self.criterion(item, cpath, cline)
                if criterion:
                    criteria.append(criterion)
        baseline = self.string(obj, "baseline", path, "last_success")
        if baseline not in ("last_success", "none") and not baseline.startswith("branch:"):
            self.error(obj.line_of("baseline"), f"{path}.baseline", "expected last_success, none or branch:<name>")
        return {
            "name": name,
            "key": self.key_of(obj, path, name),
            "description": self.string(obj, "description", path) or "",
            "requirements": self.strings(obj, "requirements", path, pattern=REQ_RE),
            "type": gate_type,
            "criteria": criteria,
            "baseline": baseline,
            "_line": obj.line,
        }

    def criterion(self, obj, path, line):
        kinds = ("findings", "tests", "succeeded")
        if self.mapping(obj, path, line, set(kinds)) is None:
            return None
        present = [k for k in kinds if k in obj]
        if len(present) != 1:
            self.error(obj.line, path, f"a criterion has exactly one of: {', '.join(kinds)}")
            return None
        kind = present[0]
        body, bline, bpath = obj[kind], obj.line_of(kind), f"{path}.{kind}"
        if kind == "succeeded":
            tasks = self.strings(obj, "succeeded", path)
            if not tasks:
                self.error(bline, bpath, "name at least one task key")
            return {"check": "succeeded", "from": tasks, "_line": bline}
        allowed = (
            {"from", "severity", "new", "max", "tools", "rules", "unknown"}
            if kind == "findings"
            else {"from", "max_failed", "min_total"}
        )
        if self.mapping(body, bpath, bline, allowed, ("from",)) is None:
            return None
        result = {"check": kind, "from": self.strings(body, "from", bpath), "_line": bline}
        if kind == "findings":
            result.update(
                {
                    "severity": self.string(body, "severity", bpath, "high", choices=SEVERITIES),
                    "new": self.boolean(body, "new", bpath),
                    "max": self.integer(body, "max", bpath, 0),
                    "tools": self.strings(body, "tools", bpath),
                    "rules": self.strings(body, "rules", bpath),
                    "unknown": self.string(body, "unknown", bpath, "fail", choices=("fail", "warn")),
                }
            )
        else:
            result.update(
                {
                    "max_failed": self.integer(body, "max_failed", bpath, 0),
                    "min_total": self.integer(body, "min_total", bpath, 1),
                }
            )
        return result

    def rollback(self, obj, path, line):
        if obj is None:
            return {"strategy": "none", "restore_database": False, "automatic": False, "description": ""}
        if (
            self.mapping(obj, path, line, {"strategy", "restore_database", "automatic", "description"}, ("strategy",))
            is None
        ):
            return {"strategy": "none", "restore_database": False, "automatic": False, "description": ""}
        return {
            "strategy": self.string(obj, "strategy", path, "none", choices=ROLLBACK_STRATEGIES),
            "restore_database": self.boolean(obj, "restore_database", path),
            "automatic": self.boolean(obj, "automatic", path),
            "description": self.string(obj, "description", path) or "",
        }

    def notification(self, obj, path, line):
        if (
            self.mapping(obj, path, line, {"events", "channels", "groups", "slack_webhook"}, ("events", "channels"))
            is None
        ):
            return None
        webhook = self.string(obj, "slack_webhook", path)
        if webhook and not CREDENTIAL_REF.match(webhook):
            self.error(
                obj.line_of("slack_webhook"),
                f"{path}.slack_webhook",
                "must be a reference (env:NAME, file:/path or param:key)",
            )
        return {
            "events": self.strings(obj, "events", path, choices=NOTIFY_EVENTS),
            "channels": self.strings(obj, "channels", path, choices=CHANNELS),
            "groups": self.strings(obj, "groups", path, choices=ROLES),
            "slack_webhook": webhook,
        }

    def unique_names(self, records, path, what):
        seen = set()
        for record in records:
            if record["name"] in seen:
                self.error(record["_line"], path, f"duplicate {what} name '{record['name']}'")
            seen.add(record["name"])

    def cross_check(self, stages, path):
        """Names unique per pipeline; gates may only refer to tasks of their stage or before."""
        names, keys = set(), set()
        for stage in stages:
            if stage["name"] in names:
                self.error(stage["_line"], f"{path}.stages", f"duplicate stage '{stage['name']}'")
            elif stage["key"] in keys:
                self.error(stage["_line"], f"{path}.stages", f"duplicate stage key '{stage['key']}'")
            names.add(stage["name"])
            keys.add(stage["key"])
        task_keys = set()
        for stage in stages:
            for task in stage["tasks"]:
                if task["key"] in task_keys:
                    self.error(
                        task["_line"],
                        f"{path}.stages",
                        f"duplicate task key '{task['key']}' (task keys are unique per pipeline; set 'key')",
                    )
                task_keys.add(task["key"])
            for gate in stage["gates"]:
                for criterion in gate["criteria"]:
                    if not criterion["from"]:
                        self.error(criterion["_line"], f"{path}.stages", f"gate '{gate['name']}' refers to no task")
                    for key in criterion["from"]:
                        if key not in task_keys:
                            self.error(
                                criterion["_line"],
                                f"{path}.stages",
                                f"gate '{gate['name']}' refers to unknown task '{key}'",
                            )


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
    checker = _Checker(filename)
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
