"""The checker of a pipeline file: the document, its environments, and each pipeline's
settings (defaults, triggers, rollback, notifications); stages are checked by ``StageChecker``."""

import re

from ..source.paths import PatternError, compile_patterns
from ..vocabulary import KINDS, ROLES, TIERS
from .check_stages import StageChecker
from .schedule import ScheduleError, parse_schedule
from .schema import (
    CHANNELS,
    CODE_RE,
    DEFAULT_LIMITS,
    FORMAT_VERSION,
    NETWORKS,
    NOTIFY_EVENTS,
    REQ_RE,
    ROLLBACK_STRATEGIES,
    TRIGGER_EVENTS,
)
from .yaml_source import LineDict

# The keys of a trigger besides ``event``, and the only event each acts on.
TRIGGER_KEYS = {"branches": "push", "paths": "push", "tags": "tag", "pipeline": "pipeline", "result": "pipeline", "schedule": "schedule"}


class PipelineChecker(StageChecker):
    """Checks a whole pipeline file; ``errors`` lists every problem found."""

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
            "code", "name", "tier", "kind", "description",
            "url", "database", "credentials",  # where it is, how to log in
            "calendar", "block_on_drift",  # when and whether a deploy may go
        }
        if self.mapping(obj, path, line, allowed, ("code", "name", "tier", "kind")) is None:
            return None
        credentials = self.reference(obj, "credentials", path, ", never the secret itself")
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
            "code", "name", "description", "kind", "requirements",
            "triggers", "defaults", "stages", "rollback", "notifications", "on_success",
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
        if self.mapping(obj, path, line, {"event", *TRIGGER_KEYS}, ("event",)) is None:
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
        for key, only in TRIGGER_KEYS.items():
            if key in obj and event in TRIGGER_EVENTS and event != only:
                self.error(obj.line_of(key), f"{path}.{key}", f"'{key}' only applies to a {only} trigger, not to {event}")
        if event == "push" and not trigger["branches"]:
            self.error(obj.line, f"{path}.branches", "a push trigger needs at least one branch pattern")
        if event == "tag" and not trigger["tags"]:
            self.error(obj.line, f"{path}.tags", "a tag trigger needs at least one tag pattern")
        if event == "pipeline" and not trigger["pipeline"]:
            self.error(obj.line, f"{path}.pipeline", "a pipeline trigger names the pipeline code it follows")
        if event == "schedule" and not trigger["schedule"]:
            self.error(obj.line, f"{path}.schedule", "a schedule trigger needs an interval such as 1h or 1d")
        try:
            if trigger["schedule"]:
                parse_schedule(trigger["schedule"])
            compile_patterns(trigger["paths"])
        except (ScheduleError, PatternError) as exc:
            key = "schedule" if isinstance(exc, ScheduleError) else "paths"
            self.error(obj.line_of(key), f"{path}.{key}", str(exc))
        return trigger

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
        webhook = self.reference(obj, "slack_webhook", path)  # first: its error is listed before the lists' errors
        return {
            "events": self.strings(obj, "events", path, choices=NOTIFY_EVENTS),
            "channels": self.strings(obj, "channels", path, choices=CHANNELS),
            "groups": self.strings(obj, "groups", path, choices=ROLES),
            "slack_webhook": webhook,
        }
