import json
import time

from odoo import api, models

from ....engine.delivery.n8n import plan as n8n_plan
from ....engine.delivery.n8n.client import N8nClient, N8nError
from ....engine.delivery.n8n.client import deploy as n8n_deploy
from ....engine.delivery.n8n.client import rollback as n8n_rollback
from ....engine.delivery.n8n.workflow import WorkflowError, normalise, version_of
from ....engine.vocabulary import DEPLOYMENT_SUCCESSFUL as SUCCESSFUL

N8N_TIMEOUT = 30  # seconds per n8n API call: an instance busy with its own executions is slow
READ_TIMEOUT = 10  # seconds per call when only reading (drift, parity): give up on a silent instance


class ReleaseDeployerN8n(models.AbstractModel):
    """n8n instances: workflow packages pushed through n8n's public API, all or nothing."""

    _name = "release.deployer.n8n"
    _inherit = "release.deployer"
    _description = "Deployer: n8n instance"

    _artifact_kind = "n8n_workflows"
    _exclusive = True

    def _plan(self, environment, run):
        """What deploying the run's package would do on the instance, read live: each workflow
        created, updated (nodes added, removed, changed) or unchanged, activated or deactivated."""
        artifact = run.artifact_ids.filtered(lambda a: a.kind == self._artifact_kind).sorted("id")[-1:]
        if not artifact:
            return False, False
        try:
            entries = self._live_plan(environment, artifact, self.env["release.deployment"])
        except (N8nError, WorkflowError, ValueError) as exc:
            return self.env._("Plan unavailable: %(error)s", error=exc), False
        return n8n_plan.text(entries), n8n_plan.digest(entries)

    def _deploy(self, environment, deployment, artifact, rollback_of=None, approved_digest=None):
        """Push every workflow of ``artifact`` (an n8n package) to ``environment``.

        A workflow is matched by the id this environment's history recorded for its name, else
        by its name (n8n_client). All or nothing: when one fails, n8n_client restores it and the
        workflows this deployment had already changed are put back, newest first. A rollback also
        deletes the workflows created since the restored artifact was deployed that it lacks."""
        started = time.monotonic()
        timeline, records, pushed = [], {}, []

        def step(text):
            timeline.append(f"{time.monotonic() - started:8.2f}s {text}")

        try:
            client = self._client(environment)
            workflows = artifact._n8n_document()["workflows"]
        except ValueError as exc:
            deployment._finish("error", error=str(exc))
            return
        history = self._history(environment, deployment)
        ids = self._workflow_ids(history)
        if approved_digest:
            # The approvers saw a plan: the instance and the package must still be what it read.
            try:
                entries = n8n_plan.plan_package(client, workflows, ids)
            except (N8nError, WorkflowError) as exc:
                deployment._finish("error", error=str(exc))
                return
            if n8n_plan.digest(entries) != approved_digest:
                error = self.env._("the plan changed since it was approved: now\n%(plan)s", plan=n8n_plan.text(entries))
                deployment._finish("error", plan=n8n_plan.text(entries), error=error)
                return
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
            problems = self._undo(client, pushed, records, step)
            put_back = [n for n, _result in pushed if records[n]["action"] == "undone"]
            error = " ".join(
                [str(exc), *([self.env._("Put back as they were: %(names)s.", names=", ".join(put_back))] if put_back else []), *problems]
            )
            clean = not problems and "failed too" not in str(exc) and "deleting it failed" not in str(exc)
            self._finish(deployment, "failed" if clean else "error", records, timeline, error=error)
            return
        outcome = "unchanged" if all(r["action"] == "unchanged" for r in records.values()) else "deployed"
        if rollback_of:
            for name, workflow_id in sorted(self._created_since(environment, artifact, rollback_of, history, ids, workflows).items()):
                try:
                    n8n_rollback(client, workflow_id, None, False)
                except N8nError as exc:
                    step(f"failed to delete {name!r} (id {workflow_id})")
                    error = self.env._(
                        "%(name)s (id %(id)s), created after %(version)s, could not be deleted: %(error)s",
                        name=name, id=workflow_id, version=artifact.version, error=exc,
                    )  # fmt: skip
                    self._finish(deployment, "error", records, timeline, error=error)
                    return
                records[name] = {"file": None, "id": None, "action": "deleted", "version": None, "active": False}
                step(f"deleted {name!r} (id {workflow_id}): created after {artifact.version}, which lacks it")
                outcome = "deployed"
        self._finish(deployment, outcome, records, timeline)

    def _drift(self, environment):
        """Workflows of the last deployment that are missing or changed on the instance."""
        recorded = json.loads(environment.current_deployment_id.n8n_workflows_json or "{}")
        live = self._live_state(environment)
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

    def _live_state(self, environment):
        """Each workflow the instance holds (not archived): its content version and active flag."""
        client = self._client(environment, timeout=READ_TIMEOUT)
        state = {}
        for summary in client.list_workflows():
            if summary.get("isArchived"):
                continue
            workflow = client.get(summary["id"])
            state[workflow["name"]] = {"version": version_of(normalise(workflow))[:12], "active": bool(workflow.get("active"))}
        return state

    # -- helpers ------------------------------------------------------------------------------
    @api.model
    def _target_errors(self):
        return (*super()._target_errors(), N8nError)

    @api.model
    def _client(self, environment, timeout=N8N_TIMEOUT):
        """A client for this n8n instance; the API key is resolved now and kept nowhere else."""
        if not (environment.url and environment.credentials_ref):
            raise ValueError(self.env._("%(env)s needs a URL and a credentials reference (the n8n API key).", env=environment.name))
        return N8nClient(environment.url, self.env["release.settings"]._resolve(environment.credentials_ref), timeout=timeout)

    @api.model
    def _undo(self, client, pushed, records, step):
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

    @api.model
    def _finish(self, deployment, outcome, records, timeline, error=None):
        values = {"plan": self._plan_text(records), "timeline": "\n".join(timeline), "n8n_workflows_json": json.dumps(records, sort_keys=True)}
        deployment._finish(outcome, **values, **({"error": error} if error else {}))

    @api.model
    def _plan_text(self, records):
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

    @api.model
    def _live_plan(self, environment, artifact, deployment):
        """The plan entries (engine.delivery.n8n.plan) of deploying ``artifact`` here now."""
        ids = self._workflow_ids(self._history(environment, deployment))
        return n8n_plan.plan_package(self._client(environment, timeout=READ_TIMEOUT), artifact._n8n_document()["workflows"], ids)

    @api.model
    def _history(self, environment, deployment):
        """``[(deployment, {name: record})]`` of the deployments here before ``deployment`` (all of
        them for an empty one), oldest first."""
        earlier = environment.deployment_ids.filtered(lambda d: (not deployment or d.id < deployment.id) and d.n8n_workflows_json).sorted("id")
        return [(d, json.loads(d.n8n_workflows_json)) for d in earlier]

    @api.model
    def _workflow_ids(self, history):
        """``{workflow name: n8n workflow id}`` as the history leaves them (a deleted one drops out)."""
        ids = {}
        for _deployment, records in history:
            for name, record in records.items():
                if record.get("id"):
                    ids[name] = record["id"]
                else:
                    ids.pop(name, None)
        return ids

    @api.model
    def _created_since(self, environment, artifact, rollback_of, history, ids, workflows):
        """``{name: id}`` a rollback to ``artifact`` deletes: workflows created here after its last
        successful deployment (or by ``rollback_of`` when it has none) that it lacks."""
        restored = environment.deployment_ids.filtered(
            lambda d: d.outcome in SUCCESSFUL and d.artifact_id.sha256 == artifact.sha256 and d.id < rollback_of.id
        )
        since = max(restored.ids) if restored else rollback_of.id - 1
        created = {name for d, records in history if d.id > since for name, r in records.items() if r["action"] == "created"}
        return {name: ids[name] for name in created if name in ids and name not in workflows}
