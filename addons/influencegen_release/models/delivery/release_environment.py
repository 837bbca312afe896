import json
import time
from datetime import timedelta

import pytz

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ...engine.delivery.n8n.client import N8nClient, N8nError
from ...engine.delivery.n8n.client import deploy as n8n_deploy
from ...engine.delivery.n8n.client import rollback as n8n_rollback
from ...engine.delivery.n8n.workflow import WorkflowError
from ...engine.delivery.odoo.target import OdooTarget, TargetError, deploy_package, restore, verify
from ...engine.pipeline.spec import CREDENTIAL_REF
from ...engine.vocabulary import DEPLOYMENT_SUCCESSFUL as SUCCESSFUL
from ...engine.vocabulary import TIER_SEQUENCE, TIERS

WINDOW_HORIZON_DAYS = 62  # how far ahead the next maintenance window is looked for
N8N_TIMEOUT = 30  # seconds per n8n API call: an instance busy with its own executions is slow
DRIFT_TIMEOUT = 10  # seconds: the board's drift check gives up on a target that does not answer
BOARD_KINDS = ("odoo", "n8n", "docker", "iac")  # the board's rows, in this order


class ReleaseEnvironment(models.Model):
    _name = "release.environment"
    _description = "Release Environment (deployment target)"
    _inherit = ["mail.thread"]
    _order = "sequence, kind, name"

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(required=True, help="Identifier used by pipeline files, e.g. odoo-prod.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    tier = fields.Selection([(t, t.capitalize()) for t in TIERS], required=True, default="development", tracking=True)
    kind = fields.Selection(
        [
            ("odoo", "Odoo database"),
            ("n8n", "n8n instance"),
            ("docker", "Container registry"),
            ("iac", "Infrastructure"),
        ],
        required=True,
        default="odoo",
        tracking=True,
    )
    url = fields.Char(string="URL", tracking=True)
    database = fields.Char(tracking=True, help="Target database name (Odoo targets).")
    credentials_ref = fields.Char(
        string="Credentials reference",
        tracking=True,
        help="Where the deployer finds the secret: env:NAME, file:/path or param:key. Never the secret itself.",
    )
    login = fields.Char(
        string="Deployer login", default="deployer", tracking=True, help="The technical user the target knows the deployer as."
    )
    calendar_id = fields.Many2one(
        "resource.calendar",
        string="Maintenance window",
        tracking=True,
        help="Working time of this calendar is the maintenance window; its leaves are freezes.",
    )
    block_on_drift = fields.Boolean(string="Block on drift", help="Refuse promotions to this environment while it drifts from its source.")
    description = fields.Text()
    stage_ids = fields.One2many("release.stage", "environment_id", string="Deploying stages")
    stage_count = fields.Integer(compute="_compute_stage_count")
    deployment_ids = fields.One2many("release.deployment", "environment_id", string="Deployments")
    current_deployment_id = fields.Many2one(
        "release.deployment", compute="_compute_current_deployment", string="Running version"
    )

    _sql_constraints = [("code_unique", "unique(code)", "An environment code must be unique.")]

    @api.depends("stage_ids")
    def _compute_stage_count(self):
        for environment in self:
            environment.stage_count = len(environment.stage_ids)

    @api.depends("deployment_ids.outcome")
    def _compute_current_deployment(self):
        for environment in self:
            done = environment.deployment_ids.filtered(lambda d: d.outcome in ("deployed", "unchanged"))
            environment.current_deployment_id = done.sorted("id")[-1:]

    @api.constrains("credentials_ref")
    def _check_credentials_ref(self):
        for environment in self.filtered("credentials_ref"):
            if not CREDENTIAL_REF.match(environment.credentials_ref):
                raise ValidationError(
                    self.env._(
                        "Environment %(name)s: the credentials field takes a reference "
                        "(env:NAME, file:/path or param:key), never the secret itself.",
                        name=environment.name,
                    )
                )

    def _deployer(self):
        """The deployer of this environment's kind (``release.deployer.<kind>``)."""
        self.ensure_one()
        return self.env[f"release.deployer.{self.kind}"]

    def action_rollback(self):
        """Redeploy the previous successful artifact of this environment, as a rollback.

        A rollback that fails stays in the history and the chatter; the button shows its error."""
        deployment = self._rollback()
        if deployment.outcome in SUCCESSFUL:
            return True
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": self.env._("The rollback failed"), "message": deployment.error, "type": "danger", "sticky": True},
        }

    @api.model
    def api_rollback(self, code):
        """XML-RPC: roll environment ``code`` back to its previous successful artifact.

        Returns the rollback's summary; its ``outcome`` (failed: restored, error) and ``error``
        say when it failed, so a failed rollback is recorded rather than undone with the call."""
        environment = self.search([("code", "=", code)], limit=1)
        if not environment:
            raise UserError(self.env._("There is no environment %(code)r.", code=code))
        return environment._rollback()._summary()

    @api.model
    def api_deploy(self, code, version):
        """XML-RPC: deploy the published artifact ``version`` to environment ``code`` outside a
        run: a roll-forward after a rollback, or a promotion of what a lower tier already runs.

        Release Managers only; the artifact must have been deployed successfully here or to an
        environment of a lower tier of the same kind, a production window is respected and
        drift blocks as in a run. Returns the deployment's summary."""
        environment = self.search([("code", "=", code)], limit=1)
        if not environment:
            raise UserError(self.env._("There is no environment %(code)r.", code=code))
        return environment._deploy_version(version)._summary()

    def _deploy_version(self, version):
        self.ensure_one()
        if not self.env.user.has_group("influencegen_release.group_release_release_manager"):
            raise AccessError(self.env._("Only a Release Manager deploys a version by hand."))
        kind = {"odoo": "odoo_modules", "n8n": "n8n_workflows"}.get(self.kind)
        artifacts = self.env["release.artifact"].search([("version", "=", version), ("kind", "=", kind)], order="id desc")
        if not artifacts:
            raise UserError(self.env._("No published %(kind)s artifact has version %(version)r.", kind=kind or self.kind, version=version))
        proven = self.env["release.deployment"].search(
            [("artifact_id", "in", artifacts.ids), ("outcome", "in", list(SUCCESSFUL)), ("environment_id.kind", "=", self.kind)]
        ).filtered(lambda d: d.environment_id == self or TIER_SEQUENCE[d.environment_id.tier] < TIER_SEQUENCE[self.tier])
        if not proven:
            raise UserError(
                self.env._(
                    "%(version)s never ran successfully on %(env)s or on a lower tier: promote it through its pipeline.",
                    version=version,
                    env=self.code,
                )
            )
        is_open, when, why = self._window_state(fields.Datetime.now())
        if not is_open:
            opens = fields.Datetime.to_string(when) if when else self.env._("not within the horizon")
            raise UserError(self.env._("%(env)s is outside its window (%(why)s); it opens %(when)s UTC.", env=self.code, why=why, when=opens))
        self.message_post(body=self.env._("%(user)s deploys %(version)s by hand.", user=self.env.user.name, version=version))
        return self._deploy(proven.sorted("id")[-1].artifact_id)

    @api.model
    def api_board(self):
        """The environment board: per component kind, each environment with its deployed
        version and its last deployment. Drift is read live on request only (``api_drift``)."""
        may_roll_back = self.env.user.has_group("influencegen_release.group_release_release_manager")
        by_kind = {}
        for environment in self.search([("active", "=", True)]):
            current, last = environment.current_deployment_id, environment.deployment_ids.sorted("id")[-1:]
            successful = environment.deployment_ids.filtered(lambda d: d.outcome in SUCCESSFUL)
            by_kind.setdefault(environment.kind, []).append(
                {
                    "id": environment.id,
                    "code": environment.code,
                    "name": environment.name,
                    "tier": environment.tier,
                    "reachable": bool(environment.url),
                    "current": current._board_entry() if current else False,
                    "last": last._board_entry() if last else False,
                    "deployments": len(environment.deployment_ids),
                    "can_rollback": may_roll_back and len(successful) > 1,
                }
            )
        labels = {
            "odoo": self.env._("Odoo modules"),
            "n8n": self.env._("n8n workflows"),
            "docker": self.env._("Images"),
            "iac": self.env._("Infrastructure"),
        }
        return [{"kind": k, "label": labels[k], "environments": by_kind[k]} for k in BOARD_KINDS if k in by_kind]

    def api_drift(self):
        """``{state: same|drift|unknown, details}``: the target read live against the last
        deployment recorded here; unknown when it cannot be read (not answering, no URL)."""
        self.ensure_one()
        self.check_access("read")
        current = self.current_deployment_id
        if not current:
            return {"state": "unknown", "details": [self.env._("Nothing was deployed here yet.")]}
        try:
            if self.kind == "odoo":
                target = self._odoo_target()
                target.timeout = DRIFT_TIMEOUT
                problems = self._odoo_drift(target)
            elif self.kind == "n8n":
                problems = self._n8n_drift(current)
            else:
                return {"state": "unknown", "details": [self.env._("Drift is read from Odoo and n8n targets only.")]}
        except (TargetError, N8nError, ValueError, OSError) as exc:
            return {"state": "unknown", "details": [str(exc)]}
        return {"state": "drift" if problems else "same", "details": problems}

    def _n8n_drift(self, current):
        recorded = json.loads(current.n8n_workflows_json or "{}")
        live = self.env["release.parity"]._live_state(self)
        problems = []
        for name, record in sorted(recorded.items()):
            if not record.get("version"):
                continue
            found = live.get(name)
            if not found:
                problems.append(self.env._("%(name)s is missing on the instance", name=name))
            elif not record["version"].startswith(found["version"]):
                problems.append(self.env._("%(name)s was changed on the instance", name=name))
        return problems

    def _rollback(self):
        """Deploy, labelled as a rollback of the running deployment, the artifact of the latest
        earlier successful deployment with other content. Deployments a rollback already undid
        are passed over, so rolling back twice walks further back in the history."""
        self.ensure_one()
        if not self.env.user.has_group("influencegen_release.group_release_release_manager"):
            raise AccessError(self.env._("Only a Release Manager rolls an environment back."))
        current = self.current_deployment_id
        successful = self.deployment_ids.filtered(lambda d: d.outcome in SUCCESSFUL)
        undone = successful.filtered("is_rollback").rollback_of_id
        previous = (successful - undone).filtered(
            lambda d: d.id < current.id and d.artifact_id.sha256 != current.artifact_id.sha256
        ).sorted("id")[-1:]
        if not previous:
            raise UserError(self.env._("%(env)s has no earlier successful deployment to roll back to.", env=self.name))
        if self._rollback_restores(current):
            return self._restore_rollback(current, previous)
        return self._deploy(previous.artifact_id, rollback_of=current)

    def _rollback_restores(self, current):
        """``rollback.restore_database`` of the pipeline that deployed ``current``: an Odoo
        deploy that upgraded something is undone by the target's own backup (code and data)
        rather than by a redeploy of older code over newer data."""
        return (
            self.kind == "odoo"
            and current.run_id.pipeline_id.rollback_restore_database
            and current.outcome == "deployed"
            and not current.is_rollback
            and bool(current.target_receipt and current.backup_ref)
        )

    def _restore_rollback(self, current, previous):
        """The target puts back the code and the database its last deploy replaced (the backup
        taken just before it). What was written since is not in the live database any more:
        the target keeps the replaced database, renamed ``<db>_failed_<time>``."""
        deployment = self._new_deployment(previous.artifact_id, rollback_of=current)
        reason = self.env._("rollback of %(version)s by %(user)s", version=current.version, user=self.env.user.name)
        try:
            target = self._odoo_target()
            summary = restore(target, current.target_receipt, reason)
            if summary["state"] != "restored":
                raise TargetError(self.env._("the target could not restore: %(error)s", error=summary.get("error") or summary["state"]))
            problems = verify(target, previous.artifact_id._manifest())
            if problems:
                raise TargetError(self.env._("after the restore: %(problems)s", problems="; ".join(problems)))
        except (TargetError, ValueError) as exc:
            deployment._finish("error", error=str(exc))
            return deployment
        deployment._finish(
            "deployed",
            plan=self.env._(
                "restored: the code of %(version)s and the database backup %(backup)s taken before %(undone)s; "
                "the replaced database is kept as %(kept)s",
                version=previous.version,
                backup=current.backup_ref,
                undone=current.version,
                kept=summary.get("failed_database") or "-",
            ),
            backup_ref=current.backup_ref,
            target_receipt=current.target_receipt,
        )
        return deployment

    def _deploy(self, artifact, run=None, job=None, rollback_of=None, approved_digest=None):
        """Deploy ``artifact`` here and record it in the history; never raises for a failed
        deploy (the deployment's outcome and error say what happened)."""
        self.ensure_one()
        if self.kind in ("n8n", "docker"):
            # One deploy at a time per n8n instance or service: another run or a rollback waits.
            self.env.cr.execute("SELECT id FROM release_environment WHERE id = %s FOR NO KEY UPDATE", [self.id])
        deployment = self._new_deployment(artifact, run, job, rollback_of)
        if self.kind == "n8n" and artifact.kind == "n8n_workflows":
            self._deploy_n8n(deployment, artifact, rollback_of)
            return deployment
        if self.kind == "docker" and artifact.kind == "image":
            self._deploy_image(deployment, artifact, rollback_of)  # release_environment_image.py
            return deployment
        if self.kind != "odoo" or artifact.kind != "odoo_modules":
            deployment._finish("error", error=self.env._("%(kind)s artifacts cannot be deployed to %(env)s.", kind=artifact.kind, env=self.kind))
            return deployment
        try:
            target = self._odoo_target()
            drift = self._odoo_drift(target) if self.block_on_drift and not rollback_of else []
            if drift:
                deployment._finish("error", error=self.env._("Blocked: %(env)s drifted from its last deploy: %(drift)s", env=self.code, drift="; ".join(drift)))
                return deployment
            result = deploy_package(target, artifact._local_path(), artifact.sha256, artifact._manifest(), approved_digest)
        except (TargetError, ValueError) as exc:
            restored = "restored" in str(exc)
            deployment._finish("failed" if restored else "error", error=str(exc))
            return deployment
        deployment._finish(
            result.outcome,
            plan=result.plan_text(),
            backup_ref=result.backup_path,
            target_receipt=result.receipt,
            timeline="\n".join(f"{t:8.2f}s {step}" for t, step in result.timeline),
        )
        return deployment

    def _new_deployment(self, artifact, run=None, job=None, rollback_of=None):
        return self.env["release.deployment"].create(
            {
                "environment_id": self.id,
                "artifact_id": artifact.id,
                "run_id": (run or artifact.run_id).id,
                "job_id": job.id if job else False,
                "is_rollback": bool(rollback_of),
                "rollback_of_id": rollback_of.id if rollback_of else False,
            }
        )

    def _odoo_drift(self, target):
        """What changed on the target since the last deploy recorded here (a hotfix installed by
        hand, a module upgraded outside the pipeline): the promotion refuses to run over it."""
        current = self.current_deployment_id
        return verify(target, current.artifact_id._manifest()) if current.artifact_id.kind == "odoo_modules" else []

    def _odoo_target(self):
        if not (self.url and self.database and self.credentials_ref):
            raise ValueError(self.env._("%(env)s needs a URL, a database and a credentials reference.", env=self.name))
        key = self.env["release.settings"]._resolve(self.credentials_ref)
        return OdooTarget(self.url, self.database, self.login or "deployer", key)

    # -- n8n targets --------------------------------------------------------------------------
    def _n8n_client(self):
        """A client for this n8n instance; the API key is resolved now and kept nowhere else."""
        if not (self.url and self.credentials_ref):
            raise ValueError(self.env._("%(env)s needs a URL and a credentials reference (the n8n API key).", env=self.name))
        return N8nClient(self.url, self.env["release.settings"]._resolve(self.credentials_ref), timeout=N8N_TIMEOUT)

    def _deploy_n8n(self, deployment, artifact, rollback_of=None):
        """Push every workflow of ``artifact`` (an n8n package) here and finish ``deployment``.

        A workflow is matched by the id this environment's history recorded for its name, else
        by its name (n8n_client). All or nothing: when one fails, n8n_client restores it and the
        workflows this deployment had already changed are put back, newest first. A rollback also
        deletes the workflows created since the restored artifact was deployed that it lacks."""
        started = time.monotonic()
        timeline, records, pushed = [], {}, []

        def step(text):
            timeline.append(f"{time.monotonic() - started:8.2f}s {text}")

        try:
            client = self._n8n_client()
            workflows = artifact._n8n_document()["workflows"]
        except ValueError as exc:
            deployment._finish("error", error=str(exc))
            return
        history = self._n8n_history(deployment)
        ids = self._n8n_ids(history)
        name = None
        try:
            for name in sorted(workflows):
                entry = workflows[name]
                result = n8n_deploy(client, entry["workflow"], entry["active"], workflow_id=ids.get(name), filename=entry["file"])
                pushed.append((name, result))
                records[name] = {"file": entry["file"], **{k: v for k, v in result.items() if k != "previous"}}
                step(f"{result['action']} {name!r} (id {result['id']})")
        except (N8nError, WorkflowError) as exc:
            entry = workflows[name]
            records[name] = {"file": entry["file"], "id": ids.get(name), "action": "failed", "version": entry["version"], "active": entry["active"]}
            step(f"failed {name!r}")
            problems = self._n8n_undo(client, pushed, records, step)
            put_back = [n for n, _result in pushed if records[n]["action"] == "undone"]
            error = " ".join(
                [str(exc), *([self.env._("Put back as they were: %(names)s.", names=", ".join(put_back))] if put_back else []), *problems]
            )
            clean = not problems and "failed too" not in str(exc) and "deleting it failed" not in str(exc)
            self._n8n_finish(deployment, "failed" if clean else "error", records, timeline, error=error)
            return
        outcome = "unchanged" if all(r["action"] == "unchanged" for r in records.values()) else "deployed"
        if rollback_of:
            for name, workflow_id in sorted(self._n8n_created_since(artifact, rollback_of, history, ids, workflows).items()):
                try:
                    n8n_rollback(client, workflow_id, None, False)
                except N8nError as exc:
                    step(f"failed to delete {name!r} (id {workflow_id})")
                    error = self.env._(
                        "%(name)s (id %(id)s), created after %(version)s, could not be deleted: %(error)s",
                        name=name, id=workflow_id, version=artifact.version, error=exc,
                    )  # fmt: skip
                    self._n8n_finish(deployment, "error", records, timeline, error=error)
                    return
                records[name] = {"file": None, "id": None, "action": "deleted", "version": None, "active": False}
                step(f"deleted {name!r} (id {workflow_id}): created after {artifact.version}, which lacks it")
                outcome = "deployed"
        self._n8n_finish(deployment, outcome, records, timeline)

    def _n8n_undo(self, client, pushed, records, step):
        """Put back, newest first, the workflows a failed deployment had changed; the problems."""
        problems = []
        for name, result in reversed(pushed):
            if result["action"] == "unchanged":
                continue
            try:
                n8n_rollback(client, result["id"], result["previous"], result["previous_active"])
            except N8nError as exc:
                problems.append(self.env._("Putting %(name)s back failed: %(error)s.", name=name, error=exc))
                step(f"failed to put {name!r} back")
                continue
            existed = result["previous"] is not None
            records[name].update(
                action="undone",
                id=result["id"] if existed else None,
                version=result["previous_version"],
                active=result["previous_active"] if existed else False,
            )
            step(f"put {name!r} back" if existed else f"deleted {name!r} again (id {result['id']})")
        return problems

    def _n8n_finish(self, deployment, outcome, records, timeline, error=None):
        values = {"plan": self._n8n_plan(records), "timeline": "\n".join(timeline), "n8n_workflows_json": json.dumps(records, sort_keys=True)}
        deployment._finish(outcome, **values, **({"error": error} if error else {}))

    @api.model
    def _n8n_plan(self, records):
        """Readable plan: workflow names by action, then one line per workflow."""
        by_action = {}
        for name in sorted(records):
            by_action.setdefault(records[name]["action"], []).append(name)
        lines = [f"{action}: {', '.join(by_action.get(action, [])) or '-'}" for action in ("created", "updated", "unchanged")]
        lines += [f"{action}: {', '.join(by_action[action])}" for action in ("deleted", "failed", "undone") if action in by_action]
        for name in sorted(records):
            record = records[name]
            state = ("active" if record.get("active") else "inactive") if record.get("version") else "gone"
            was = f", was {record['previous_version'][:12]}" if record.get("previous_version") and record["action"] == "updated" else ""
            where = f", id {record['id']}" if record.get("id") else ""
            lines.append(f"{name}: {record['action']} {(record.get('version') or '-')[:12]} {state}{was}{where}")
        return "\n".join(lines)

    def _n8n_history(self, deployment):
        """``[(deployment, {name: record})]`` of the deployments here before ``deployment``, oldest first."""
        earlier = self.deployment_ids.filtered(lambda d: d.id < deployment.id and d.n8n_workflows_json).sorted("id")
        return [(d, json.loads(d.n8n_workflows_json)) for d in earlier]

    @api.model
    def _n8n_ids(self, history):
        """``{workflow name: n8n workflow id}`` as the history leaves them (a deleted one drops out)."""
        ids = {}
        for _deployment, records in history:
            for name, record in records.items():
                if record.get("id"):
                    ids[name] = record["id"]
                else:
                    ids.pop(name, None)
        return ids

    def _n8n_created_since(self, artifact, rollback_of, history, ids, workflows):
        """``{name: id}`` a rollback to ``artifact`` deletes: workflows created here after its last
        successful deployment (or by ``rollback_of`` when it has none) that it lacks."""
        restored = self.deployment_ids.filtered(
            lambda d: d.outcome in SUCCESSFUL and d.artifact_id.sha256 == artifact.sha256 and d.id < rollback_of.id
        )
        since = max(restored.ids) if restored else rollback_of.id - 1
        created = {name for d, records in history if d.id > since for name, r in records.items() if r["action"] == "created"}
        return {name: ids[name] for name in created if name in ids and name not in workflows}

    @api.onchange("tier")
    def _onchange_tier(self):
        self.sequence = TIER_SEQUENCE.get(self.tier, 10)

    def _window_state(self, now):
        """``(open, when, why)`` for a deploy at ``now`` (naive UTC, like Odoo datetimes).

        Open: ``when`` is the window's end. Closed: ``when`` is the next opening (or None),
        ``why`` names the freeze (a leave of the calendar) when one is the reason."""
        self.ensure_one()
        calendar = self.calendar_id
        if not calendar:
            return True, None, ""
        start = pytz.utc.localize(now)
        intervals = calendar._work_intervals_batch(start, start + timedelta(days=WINDOW_HORIZON_DAYS))[False]
        freeze = self.env["resource.calendar.leaves"].search(
            [
                ("calendar_id", "in", [False, calendar.id]),
                ("resource_id", "=", False),
                ("date_from", "<=", now),
                ("date_to", ">", now),
            ],
            limit=1,
        )
        why = self.env._("change freeze '%(name)s'", name=freeze.name) if freeze else ""
        for begin, end, _records in intervals:
            if begin <= start < end:
                return True, end.astimezone(pytz.utc).replace(tzinfo=None), ""
            if begin > start:
                return False, begin.astimezone(pytz.utc).replace(tzinfo=None), why or self.env._("outside %(w)s", w=calendar.name)
        return False, None, why or self.env._("no window of %(w)s in the next %(d)s days", w=calendar.name, d=WINDOW_HORIZON_DAYS)
