import hashlib
import json

from odoo import api, fields, models


class ReleaseRun(models.Model):
    """Infrastructure runs: approvals of an ``iac`` stage show and bind to that environment's
    plan; a rollback of an infrastructure environment is a revert run."""

    _inherit = "release.run"

    is_rollback = fields.Boolean(string="Rollback", readonly=True, help="Reverts an environment to a previous stable commit.")
    rollback_of_deployment_id = fields.Many2one(
        "release.deployment", string="Rolls back", readonly=True, ondelete="restrict", help="The apply this run undoes."
    )

    @api.model
    def _iac_revert_run(self, target, undone, environment):
        """A new run of ``target``'s pipeline, ref and definition at ``target``'s commit."""
        source = target.run_id
        params = dict(json.loads(source.params_json), sha=target.commit_sha, before=undone.commit_sha or False, pusher=False)
        attempt = 1 + self.search_count([("rollback_of_deployment_id", "=", undone.id)])
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

    def _status(self):
        status = super()._status()
        status["rollback_of"] = self.rollback_of_deployment_id.id or False
        return status
