import json
import os

from markupsafe import Markup, escape

from odoo import Command, api, models
from odoo.exceptions import UserError
from odoo.tools.misc import file_path

from ...engine.pipeline.spec import SpecError, checksum, load_pipeline_file
from ...engine.vocabulary import ROLE_GROUP, TIER_SEQUENCE

SEED_DIR = "influencegen_release/data/pipelines"
QUIET = {"mail_create_nolog": True, "active_test": False}


class ReleasePipelineLoader(models.AbstractModel):
    """Turns validated pipeline files into records, idempotently.

    Records are matched by their keys (pipeline code, stage key, task key, gate key), values
    are written only when they differ, and what changed is posted on the pipeline's chatter.
    Stages, tasks and gates that left the file are archived, never deleted: runs refer to them.
    """

    _name = "release.pipeline.loader"
    _description = "Pipeline File Loader"

    @api.model
    def _load_seed_pipelines(self):
        """Load the seed's pipelines shipped with the addon (called on install and update)."""
        folder = file_path(SEED_DIR)
        pipelines = self.env["release.pipeline"]
        for name in sorted(os.listdir(folder)):
            if name.endswith((".yml", ".yaml")):
                pipelines |= self._load_path(f"{SEED_DIR}/{name}")
        return pipelines

    @api.model
    def _load_path(self, path):
        """Load a pipeline file given as an absolute path or a path inside an addon."""
        try:
            with open(path if os.path.isabs(path) else file_path(path), encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UserError(
                self.env._("%(path)s: cannot read the pipeline file: %(error)s", path=path, error=exc)
            ) from exc
        return self._load_text(text, path)

    @api.model
    def _load_text(self, text, filename, repository=None):
        """Validate ``text`` and sync its environments and pipelines; return the pipelines."""
        try:
            parsed = load_pipeline_file(text, filename)
        except SpecError as exc:
            raise UserError(str(exc)) from exc
        environments = {env["code"]: self._sync_environment(env, filename) for env in parsed.environments}
        pipelines = self.env["release.pipeline"]
        for spec in parsed.pipelines:
            pipelines |= self._sync_pipeline(spec, environments, filename, repository)
        # The file as written (comments and all) is what the definition graph shows beside it.
        pipelines.filtered(lambda p: p.source_yaml != text).with_context(**QUIET).write({"source_yaml": text})
        return pipelines

    # -- environments -------------------------------------------------------------------------
    def _sync_environment(self, spec, filename):
        Environment = self.env["release.environment"].with_context(**QUIET)
        environment = Environment.search([("code", "=", spec["code"])], limit=1)
        vals = {
            "name": spec["name"],
            "tier": spec["tier"],
            "kind": spec["kind"],
            "description": spec["description"] or False,
        }
        if environment:
            # URL, database, credentials and window belong to the environment's administrators:
            # reloading or promoting a pipeline never overwrites them.
            changed = self._changed_values(environment, vals)
            if changed:
                environment.write(changed)
            return environment
        calendar = self.env["resource.calendar"]
        if spec["calendar"]:
            calendar = calendar.search([("name", "=", spec["calendar"])], limit=1)
            if not calendar:
                raise UserError(
                    self.env._(
                        "%(file)s: environments: %(code)s.calendar: no working-time calendar named '%(name)s'",
                        file=filename,
                        code=spec["code"],
                        name=spec["calendar"],
                    )
                )
        vals.update(
            {
                "code": spec["code"],
                "sequence": TIER_SEQUENCE[spec["tier"]],
                "url": spec["url"] or False,
                "database": spec["database"] or False,
                "credentials_ref": spec["credentials"] or False,
                "calendar_id": calendar.id or False,
                "block_on_drift": spec["block_on_drift"],
            }
        )
        return Environment.create(vals)

    # -- pipelines ----------------------------------------------------------------------------
    def _sync_pipeline(self, spec, environments, filename, repository):
        Pipeline = self.env["release.pipeline"].with_context(**QUIET)
        pipeline = Pipeline.search([("code", "=", spec["code"])], limit=1)
        rollback = spec["rollback"]
        vals = {
            "name": spec["name"],
            "description": spec["description"] or False,
            "kind": spec["kind"],
            "active": True,
            "requirements": ", ".join(spec["requirements"]) or False,
            "rollback_strategy": rollback["strategy"],
            "rollback_restore_database": rollback["restore_database"],
            "rollback_automatic": rollback["automatic"],
            "rollback_description": rollback["description"] or False,
            "on_success_codes": ", ".join(spec["on_success"]) or False,
            "source_file": filename,
            "source_checksum": checksum(spec),
            "spec_json": json.dumps(spec, sort_keys=True, indent=1),
            "repository_id": repository.id if repository else False,
        }
        changes = []
        if pipeline and pipeline.repository_id and pipeline.repository_id != repository:
            if not repository:
                # The pipeline now lives in a repository's own file: the copy shipped with the
                # addon (loaded again on every update) must not take it back.
                return pipeline
            raise UserError(
                self.env._(
                    "%(file)s: pipeline %(code)s is defined by repository %(owner)s; "
                    "give it another code or remove it there first.",
                    file=filename,
                    code=spec["code"],
                    owner=pipeline.repository_id.name,
                )
            )
        if pipeline:
            changes += self._apply(pipeline, vals, spec["name"], ignore=("spec_json", "source_checksum", "source_file"))
        else:
            pipeline = Pipeline.create(dict(vals, code=spec["code"]))
        changes += self._sync_lines(
            pipeline.trigger_ids,
            [self._trigger_vals(pipeline, t, i) for i, t in enumerate(spec["triggers"])],
            "sequence",
            "Trigger",
        )
        changes += self._sync_lines(
            pipeline.notification_ids,
            [self._notification_vals(pipeline, n, i) for i, n in enumerate(spec["notifications"])],
            "sequence",
            "Notification",
        )
        changes += self._sync_stages(pipeline, spec["stages"], environments)
        if changes:
            body = Markup("<p>%s</p><ul>%s</ul>") % (
                self.env._("Pipeline definition changed in %(file)s:", file=filename),
                Markup().join(Markup("<li>%s</li>") % escape(c) for c in changes),
            )
            pipeline.message_post(body=body, subtype_xmlid="mail.mt_note")
        return pipeline

    def _sync_stages(self, pipeline, stages, environments):
        changes = []
        existing = {s.key: s for s in pipeline.with_context(active_test=False).stage_ids}
        tasks = {
            t.key: t
            for t in self.env["release.task"]
            .with_context(active_test=False)
            .search([("pipeline_id", "=", pipeline.id)])
        }
        kept_tasks = set()
        for spec in stages:
            label = f"Stage '{spec['name']}'"
            stage, lines = self._upsert(
                existing.pop(spec["key"], None), "release.stage", self._stage_vals(pipeline, spec, environments), label
            )
            changes += lines
            changes += self._sync_lines(
                stage.approval_rule_ids,
                [self._rule_vals(stage, r, i) for i, r in enumerate((spec["approval"] or {}).get("rules", []))],
                "group_id",
                f"{label} › approval rule",
            )
            for task_spec in spec["tasks"]:
                kept_tasks.add(task_spec["key"])
                task_label = f"{label} › task '{task_spec['name']}'"
                changes += self._upsert(
                    tasks.get(task_spec["key"]), "release.task", self._task_vals(stage, task_spec), task_label
                )[1]
            gates = {g.key: g for g in stage.with_context(active_test=False).gate_ids}
            for gate_spec in spec["gates"]:
                gate_label = f"{label} › gate '{gate_spec['name']}'"
                changes += self._upsert(
                    gates.pop(gate_spec["key"], None), "release.gate", self._gate_vals(stage, gate_spec), gate_label
                )[1]
            changes += self._archive(gates.values(), f"{label} › gate")
        changes += self._archive([t for k, t in tasks.items() if k not in kept_tasks], "Task")
        for stage in existing.values():
            changes += self._archive(stage.gate_ids, f"Stage '{stage.name}' › gate")
        changes += self._archive(existing.values(), "Stage")
        return changes

    # -- values of each record from the normalised spec ---------------------------------------
    def _trigger_vals(self, pipeline, spec, index):
        return {
            "pipeline_id": pipeline.id,
            "sequence": index + 1,
            "event": spec["event"],
            "branch_patterns": ", ".join(spec["branches"]) or False,
            "tag_patterns": ", ".join(spec["tags"]) or False,
            "path_patterns": ", ".join(spec["paths"]) or False,
            "source_pipeline_code": spec["pipeline"] or False,
            "source_result": spec["result"],
            "schedule": spec["schedule"] or False,
        }

    def _notification_vals(self, pipeline, spec, index):
        return {
            "pipeline_id": pipeline.id,
            "sequence": index + 1,
            "events": ", ".join(spec["events"]),
            "channel_email": "email" in spec["channels"],
            "channel_slack": "slack" in spec["channels"],
            "group_ids": [self._role_group(role).id for role in spec["groups"]],
            "slack_webhook_ref": spec["slack_webhook"] or False,
        }

    def _defined_vals(self, spec, parent):
        """What a stage, a task and a gate alike take from their spec; ``parent`` links it."""
        return {
            **parent,
            "sequence": spec["sequence"],
            "key": spec["key"],
            "name": spec["name"],
            "description": spec["description"] or False,
            "active": True,
            "requirements": ", ".join(spec["requirements"]) or False,
        }

    def _stage_vals(self, pipeline, spec, environments):
        approval = spec["approval"] or {}
        return {
            **self._defined_vals(spec, {"pipeline_id": pipeline.id}),
            "trigger": spec["trigger"],
            "branch_patterns": ", ".join(spec["branches"]) or False,
            "environment_id": environments[spec["environment"]].id if spec["environment"] else False,
            "approval_order": approval.get("order", "parallel"),
            "approval_deadline_hours": approval.get("deadline", 72 * 3600) // 3600,
            "approval_remind_hours": approval.get("remind", 24 * 3600) // 3600,
            "approval_escalate_group_id": self._role_group(approval["escalate_to"]).id if approval else False,
            "approval_reject_on_any": approval.get("reject_on_any", True),
            "approval_exclude_author": "author" in approval.get("exclude", []),
            "approval_exclude_triggerer": "triggerer" in approval.get("exclude", []),
            "approval_comment_required": approval.get("comment_required", False),
            "approval_window": approval.get("window", False),
            "approval_evidence": approval.get("evidence", "none"),
        }

    def _rule_vals(self, stage, spec, index):
        return {
            "stage_id": stage.id,
            "sequence": index + 1,
            "group_id": self._role_group(spec["group"]).id,
            "quorum": spec["quorum"],
        }

    def _task_vals(self, stage, spec):
        return {
            **self._defined_vals(spec, {"stage_id": stage.id}),
            "tool": spec["tool"] or False,
            "mode": spec["mode"],
            "image": spec["image"] or False,
            "command": spec["run"] or False,
            "action": spec["uses"] or False,
            "action_params": json.dumps(spec["with"], sort_keys=True) if spec["with"] else False,
            "checklist": "\n".join(spec["checklist"]) or False,
            "timeout": spec["timeout"],
            "cpus": spec["cpus"],
            "memory_mb": spec["memory"],
            "pids": spec["pids"],
            "network": spec["network"],
            "allow_failure": spec["allow_failure"],
            "retry_exit_codes": ", ".join(str(c) for c in spec["retry"]["exit_codes"]) or False,
            "retry_max": spec["retry"]["max"] if spec["retry"]["exit_codes"] else 0,
            "reports": "\n".join(f"{r['format']}: {r['path']}" for r in spec["reports"]) or False,
            "artifact_paths": ", ".join(spec["artifacts"]) or False,
            "secret_names": ", ".join(spec["secrets"]) or False,
            "env_json": json.dumps(spec["env"], sort_keys=True) if spec["env"] else False,
            "window": spec["window"],
        }

    def _gate_vals(self, stage, spec):
        return {
            **self._defined_vals(spec, {"stage_id": stage.id}),
            "gate_type": spec["type"],
            "criteria_json": json.dumps(spec["criteria"], sort_keys=True),
            "baseline": spec["baseline"],
        }

    # -- generic helpers ----------------------------------------------------------------------
    def _role_group(self, role):
        return self.env.ref(ROLE_GROUP % role)

    def _changed_values(self, record, vals):
        """The subset of ``vals`` that differs from the record (many2many given as id lists)."""
        changed = {}
        for name, value in vals.items():
            field = record._fields[name]
            current = record[name]
            if field.type == "many2one":
                current, value = current.id or False, value or False
            elif field.type == "many2many":
                if set(current.ids) != set(value):
                    changed[name] = [Command.set(value)]
                continue
            elif field.type in ("char", "text", "selection", "html"):
                current, value = current or False, value or False
            if current != value:
                changed[name] = value
        return changed

    def _apply(self, record, vals, label, ignore=()):
        """Write what changed; return readable change lines."""
        changed = self._changed_values(record, vals)
        if not changed:
            return []
        lines = []
        for name, value in changed.items():
            if name in ignore:
                continue
            field = record._fields[name]
            old = record[name]
            if field.type in ("many2one", "many2many"):
                old_text = ", ".join(old.mapped("display_name"))
                new_text = ", ".join(
                    self.env[field.comodel_name]
                    .browse(value if field.type == "many2one" else value[0][2])
                    .exists()
                    .mapped("display_name")
                )
            else:
                old_text, new_text = old, value
            lines.append(f"{label}: {field.string}: {self._short(old_text)} → {self._short(new_text)}")
        record.write(changed)
        return lines

    def _upsert(self, record, model, vals, label):
        """Update ``record`` with what changed in ``vals``, or create it when there is none;
        return the record and readable change lines."""
        if record:
            return record, self._apply(record, vals, label)
        return self.env[model].with_context(**QUIET).create(vals), [f"{label} added"]

    def _sync_lines(self, existing, wanted, match_field, label):
        """Sync simple configuration lines (no history of their own): update, add, remove."""
        changes = []
        by_key = {}
        for line in existing:
            value = line[match_field]
            by_key[value.id if hasattr(value, "id") else value] = line
        for vals in wanted:
            line = by_key.pop(vals[match_field], None)
            changes += self._upsert(line, existing._name, vals, f"{label} {line.display_name}" if line else label)[1]
        for line in by_key.values():
            changes.append(f"{label} {line.display_name} removed")
            line.unlink()
        return changes

    def _archive(self, records, label):
        changes = []
        for record in records:
            if record.active:
                record.active = False
                changes.append(f"{label} '{record.name}' removed (archived)")
        return changes

    @staticmethod
    def _short(value):
        text = "—" if value in (False, None, "") else str(value)
        return text if len(text) <= 80 else text[:77] + "…"
