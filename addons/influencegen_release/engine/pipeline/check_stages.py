"""The checker of a pipeline's stages: their tasks, gates (and criteria) and approval, and the
cross-checks between them (unique names and keys, gates naming only known tasks)."""

import json
import re

from ..vocabulary import ROLES, SEVERITIES
from .check_files import FileChecker
from .schema import ACTIONS, CHECKLIST_CONFIRMERS, EVIDENCE, EXCLUSIONS, NETWORKS, REPORT_FORMATS, REQ_RE
from .yaml_source import LineList


class StageChecker(FileChecker):
    """Checks and normalises one stage and what it holds."""

    def stage(self, obj, path, line, defaults, env_codes):
        allowed = {
            "name", "key", "description", "requirements",
            "trigger", "branches", "environment",  # when it runs, and where it delivers
            "tasks", "gates", "approval",
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
            "name", "key", "description", "tool", "requirements",
            "run", "image", "uses", "with", "checklist", "confirm_by",  # what it does
            "timeout", "cpus", "memory", "pids", "network",  # its limits
            "allow_failure", "retry", "reports", "artifacts", "secrets", "env", "window",
            "outputs", "cache",  # what later tasks and runs get (check_files.py)
            "needs",  # tasks it starts after, whatever their stage (checked in cross_check)
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
            "outputs": self.outputs(obj, path, modes[0] if len(modes) == 1 else None),
            "cache": self.cache(obj, path, modes[0] if len(modes) == 1 else None),
            "secrets": self.strings(obj, "secrets", path, pattern=re.compile(r"^[A-Z][A-Z0-9_]*$")),
            "env": {str(k): str(v) for k, v in env.items()},
            "window": self.boolean(obj, "window", path),
            "confirm_by": confirm_by or (list(CHECKLIST_CONFIRMERS) if checklist else []),
            "labels": self.strings(obj, "labels", path),
            "needs": self.strings(obj, "needs", path),
            "_needs_at": (path, self._item_lines(obj, "needs")),  # for cross_check, which removes it
            "_line": obj.line,
        }

    @staticmethod
    def _item_lines(obj, key):
        value = obj.get(key)
        if isinstance(value, LineList):
            return [value.line_of(index) for index in range(len(value))]
        return [obj.line_of(key)] * (len(value) if isinstance(value, list) else 1)

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
            "rules", "order", "exclude", "reject_on_any", "comment_required", "evidence",  # who decides, how
            "deadline", "remind", "escalate_to", "window",  # when
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
        self.cross_check_needs(stages)
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

    def cross_check_needs(self, stages):
        """``needs`` name tasks (by key or name) of the task's stage or of an earlier one, and
        never form a cycle; they are normalised to task keys."""
        where, keys_by_name = {}, {}
        for index, stage in enumerate(stages):
            for task in stage["tasks"]:
                where.setdefault(task["key"], index)
                keys_by_name.setdefault(task["name"], task["key"])
        for index, stage in enumerate(stages):
            for task in stage["tasks"]:
                path, lines = task.pop("_needs_at")
                keys = []
                for position, need in enumerate(task["needs"]):
                    line = lines[min(position, len(lines) - 1)] if lines else task["_line"]
                    key = need if need in where else keys_by_name.get(need)
                    npath = f"{path}.needs[{position}]"
                    if key is None:
                        self.error(line, npath, f"task '{task['name']}' needs unknown task '{need}'")
                    elif where[key] > index:
                        later = stages[where[key]]["name"]
                        self.error(
                            line,
                            npath,
                            f"task '{task['name']}' needs '{need}' of the later stage '{later}': "
                            "a task may only need tasks of its own stage or of earlier ones",
                        )
                    else:
                        keys.append(key)
                task["needs"] = list(dict.fromkeys(keys))
                task["_needs_path"] = (f"{path}.needs", lines[0] if lines else task["_line"])
        for stage in stages:
            self._needs_cycles(stage["tasks"])

    def _needs_cycles(self, tasks):
        """Needs within one stage (the only place they can loop) must not form a cycle."""
        by_key = {task["key"]: task for task in tasks}
        done, visiting = set(), []

        def visit(task):
            if task["key"] in done:
                return
            if task["key"] in visiting:
                cycle = [*visiting[visiting.index(task["key"]) :], task["key"]]
                path, line = by_key[cycle[0]]["_needs_path"]
                self.error(line, path, f"task '{by_key[cycle[0]]['name']}' needs itself: {' -> '.join(cycle)} (needs may not form a cycle)")
                return
            visiting.append(task["key"])
            for key in task["needs"]:
                if key in by_key:
                    visit(by_key[key])
            visiting.pop()
            done.add(task["key"])

        for task in tasks:
            visit(task)
        for task in tasks:
            task.pop("_needs_path", None)
