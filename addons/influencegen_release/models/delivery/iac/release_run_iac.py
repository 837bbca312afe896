from odoo import fields, models


class ReleaseRun(models.Model):
    """Revert runs: a rollback of an infrastructure environment is a new run of the last good
    apply's pipeline at its commit (``release.deployer.iac._rollback``), labelled as such; the
    apply it makes is recorded as a rollback of the deployment it undoes."""

    _inherit = "release.run"

    is_rollback = fields.Boolean(string="Rollback", readonly=True, help="Reverts an environment to a previous stable commit.")
    rollback_of_deployment_id = fields.Many2one(
        "release.deployment", string="Rolls back", readonly=True, ondelete="restrict", help="The apply this run undoes."
    )

    def _status(self):
        status = super()._status()
        status["rollback_of"] = self.rollback_of_deployment_id.id or False
        return status
