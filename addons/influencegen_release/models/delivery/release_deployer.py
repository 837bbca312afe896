from odoo import models


class ReleaseDeployer(models.AbstractModel):
    """What every environment kind answers, behind one narrow interface.

    ``release.environment._deployer()`` picks ``release.deployer.<kind>`` by the environment's
    kind, the way ``delivery.carrier`` dispatches on ``delivery_type``; nothing else branches
    on the kind. Each method takes the environment it acts on as its first argument."""

    _name = "release.deployer"
    _description = "Deployer (one per environment kind)"

    def _plan(self, environment, run):
        """``(text, digest)``: what deploying ``run``'s artifact to ``environment`` would change,
        shown to approvers; the deploy refuses another plan than ``digest``. ``(False, False)``
        when the kind plans nothing; ``(text saying why, False)`` when the plan is unavailable."""
        return False, False
