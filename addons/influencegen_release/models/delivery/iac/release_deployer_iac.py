import hashlib
import json
import os
from urllib.parse import unquote, urlparse

from odoo import api, models
from odoo.exceptions import UserError

from ....engine.delivery.iac import plan as iac_plan
from ....engine.execution import workspace
from ....engine.source.git_source import GitSourceError
from ....engine.vocabulary import DEPLOYMENT_SUCCESSFUL as SUCCESSFUL
from ...run.release_action import ActionError


class ReleaseDeployerIac(models.AbstractModel):
    """Infrastructure: the plan artifact applied per environment (planned again at apply time,
    refused when it differs from the approved plan); rollback is a revert run. The environment's
    URL is ``file:///absolute/folder``: its infrastructure, mounted at ``/target`` in the runner
    container (hosts of the inventory live in subfolders)."""

    _name = "release.deployer.iac"
    _inherit = "release.deployer"
    _description = "Deployer: infrastructure"

    _artifact_kind = "iac_plan"

    def _plan(self, environment, run):
        """This environment's plan from the run's ``iac_plan`` artifact (text for the approver,
        digest the apply must find again)."""
        Action = self.env["release.action.iac"]
        try:
            artifact = Action._iac_plan_artifact(run)
            entry = Action._iac_document(artifact)["environments"].get(environment.code)
        except ActionError as exc:
            return self.env._("Plan unavailable: %(error)s", error=exc), False
        if not entry:
            return self.env._("Plan unavailable: %(plan)s has no plan for %(env)s.", plan=artifact.name, env=environment.code), False
        text = "\n".join([self.env._("Infrastructure plan %(name)s:", name=artifact.name), *Action._iac_text(entry, environment.code)])
        return text, entry["digest"]

    def _deploy(self, environment, deployment, artifact, rollback_of=None, approved_digest=None):
        """Plan ``environment`` again in the deployment's job (``iac.apply``); apply when the plan
        is the approved one (``approved_digest``; without approval: the planned one), else refuse.
        A refused or failed apply is recorded as an error (a failed one may have changed hosts)."""
        job = deployment.job_id
        if not job:
            raise UserError(
                self.env._("%(env)s: infrastructure is applied by its pipeline run (iac.apply), planned again there.", env=environment.code)
            )
        Action = self.env["release.action.iac"]
        entry, lines = None, []
        try:
            entry = Action._iac_document(artifact)["environments"].get(environment.code)
            if not entry:
                raise ActionError(f"the plan {artifact.name} has no plan for {environment.code}")
            expected, source = (approved_digest, "approved") if approved_digest else (entry["digest"], "planned")
            lines.append(f"apply to {environment.code}: {source} plan {expected}")
            applied = self._replan_and_apply(job, environment, entry, expected, source, lines)
        except (ActionError, ValueError, GitSourceError, workspace.WorkspaceError) as exc:
            plan = "\n".join(Action._iac_text(entry)) if entry else False
            deployment._finish("error", plan=plan, error=str(exc), timeline="\n".join(lines))
            return
        changed = sum(p["summary"]["add"] + p["summary"]["change"] + p["summary"]["destroy"] for p in applied.values())
        text = "\n".join(line for plan in applied.values() for line in iac_plan.describe(plan))
        deployment._finish("deployed" if changed else "unchanged", plan=text, timeline="\n".join(lines))

    def _rollback(self, environment):
        """Start the revert run: the pipeline, ref and definition of the last good apply here,
        at its commit, labelled as a rollback of the apply it undoes.

        When the latest apply failed (or was refused), the last successful commit is applied
        again; when it succeeded, the latest earlier successful apply of another commit is the
        target (applies a rollback already undid are passed over, as for other environments)."""
        history = environment.deployment_ids.sorted("id")
        successful = history.filtered(lambda d: d.outcome in SUCCESSFUL)
        latest = history[-1:]
        if not successful:
            raise UserError(self.env._("%(env)s has no successful apply to go back to.", env=environment.name))
        if latest.outcome not in SUCCESSFUL:
            target = successful[-1:]
        else:
            undone = successful.filtered("is_rollback").rollback_of_id
            target = (successful - undone).filtered(lambda d: d.id < latest.id and d.commit_sha != latest.commit_sha)[-1:]
            if not target:
                raise UserError(self.env._("%(env)s has no earlier successful apply of another commit to go back to.", env=environment.name))
        run = self._revert_run(environment, target, latest)
        environment.message_post(
            body=self.env._(
                "Rollback requested by %(user)s: %(run)s re-applies commit %(sha)s (applied by %(good)s), undoing %(undone)s.",
                user=self.env.user.name,
                run=run.display_name,
                sha=target.commit_sha[:12],
                good=target.run_id.display_name,
                undone=latest.display_name,
            )
        )
        return self._rollback_answer(environment, run=run, back_to=target)

    # -- helpers ------------------------------------------------------------------------------
    def _replan_and_apply(self, job, environment, entry, expected, source, lines):
        """Plan ``environment`` again; apply when the digest is ``expected``, else refuse."""
        Action, task = self.env["release.action.iac"], job._spec()
        with Action._iac_tree(job.run_id) as tree:
            fresh = Action._iac_plan_for(job, task, environment, tree.path, entry["params"], workspace_dir=tree.work)
            if fresh["digest"] != expected:
                raise ActionError(
                    f"refused: the plan of {environment.code} changed since it was {source}: {source} digest {expected}, "
                    f"plan now {fresh['digest']}. Nothing was applied; run the pipeline again to plan and approve the new plan.\n"
                    + "\n".join(Action._iac_text(fresh))
                )
            lines.append(f"plan at apply time is the same: {fresh['digest']}")
            return Action._iac_apply_tools(job, task, environment, tree, entry["params"], fresh)

    @api.model
    def _revert_run(self, environment, target, undone):
        """A new run of ``target``'s pipeline, ref and definition at ``target``'s commit."""
        Run = self.env["release.run"]
        source = target.run_id
        params = dict(json.loads(source.params_json), sha=target.commit_sha, before=undone.commit_sha or False, pusher=False)
        attempt = 1 + Run.search_count([("rollback_of_deployment_id", "=", undone.id)])
        identity = f"{source.fingerprint}:rollback:{environment.code}:{undone.id}:{attempt}"
        run = source.pipeline_id._create_run(source.repository_id, params, hashlib.sha256(identity.encode()).hexdigest())
        run.write({"is_rollback": True, "rollback_of_deployment_id": undone.id})
        run.message_post(
            body=self.env._(
                "Rollback of %(env)s: reverts to commit %(sha)s, the last good apply (%(good)s), undoing %(undone)s.",
                env=environment.code,
                sha=target.commit_sha[:12],
                good=source.display_name,
                undone=undone.display_name,
            )
        )
        run._wake_scheduler()
        return run

    @api.model
    def _folder(self, environment):
        """The absolute folder of the ``file://`` URL; ValueError naming the environment otherwise."""
        environment.ensure_one()
        parsed = urlparse(environment.url or "")
        path = unquote(parsed.path)
        if parsed.scheme != "file" or not os.path.isabs(path) or ".." in path.split("/"):
            raise ValueError(
                self.env._("%(env)s: URL must be file:///absolute/folder (its infrastructure), got %(url)r", env=environment.code, url=environment.url or "")
            )
        if not os.path.isdir(path):
            raise ValueError(self.env._("%(env)s: the folder %(path)s does not exist", env=environment.code, path=path))
        return path
