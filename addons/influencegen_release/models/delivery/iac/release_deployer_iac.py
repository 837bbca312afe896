from odoo import models

from ...run.release_action import ActionError


class ReleaseDeployerIac(models.AbstractModel):
    """Infrastructure: the plan artifact applied per environment; rollback is a revert run."""

    _name = "release.deployer.iac"
    _inherit = "release.deployer"
    _description = "Deployer: infrastructure"

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
