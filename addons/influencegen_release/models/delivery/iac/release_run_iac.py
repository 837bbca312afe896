import hashlib
import json

from odoo import api, fields, models

from ...run.release_action import ActionError


class ReleaseRun(models.Model):
    """Infrastructure runs: approvals of an ``iac`` stage show and bind to that environment's
    plan; a rollback of an infrastructure environment is a revert run."""

    _inherit = "release.run"

    is_rollback = fields.Boolean(string="Rollback", readonly=True, help="Reverts an environment to a previous stable commit.")
    rollback_of_deployment_id = fields.Many2one(
        "release.deployment", string="Rolls back", readonly=True, ondelete="restrict", help="The apply this run undoes."
    )

    def _release_plan(self, stage_spec):
        """For an infrastructure environment: its plan from the run's ``iac_plan`` artifact
        (text for the approver, digest the apply must find again)."""
        environment = self.env["release.environment"].search([("code", "=", stage_spec.get("environment"))], limit=1)
        if environment.kind != "iac":
            return super()._release_plan(stage_spec)
        Action = self.env["release.action.iac"]
        try:
            artifact = Action._iac_plan_artifact(self)
            entry = Action._iac_document(artifact)["environments"].get(environment.code)
        except ActionError as exc:
            return self.env._("Plan unavailable: %(error)s", error=exc), False
        if not entry:
            return self.env._("Plan unavailable: %(plan)s has no plan for %(env)s.", plan=artifact.name, env=environment.code), False
        text = "\n".join([self.env._("Infrastructure plan %(name)s:", name=artifact.name), *Action._iac_text(entry, environment.code)])
        return text, entry["digest"]

    @api.model
    def _iac_revert_run(self, target, undone, environment):
        """A new run of ``target``'s pipeline, ref and definition at ``target``'s commit."""
        source = target.run_id
        params = dict(json.loads(source.params_json), sha=target.commit_sha, before=undone.commit_sha or False, pusher=False)
        attempt = 1 + self.search_count([("rollback_of_deployment_id", "=", undone.id)])
        identity = f"{source.fingerprint}:rollback:{environment.code}:{undone.id}:{attempt}"
        run = self._create_run(source.pipeline_id, source.repository_id, params, hashlib.sha256(identity.encode()).hexdigest())
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

    def _status(self):
        status = super()._status()
        status["rollback_of"] = self.rollback_of_deployment_id.id or False
        return status
