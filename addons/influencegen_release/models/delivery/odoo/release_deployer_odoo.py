from odoo import models

from ....engine.delivery.odoo.target import TargetError


class ReleaseDeployerOdoo(models.AbstractModel):
    """Odoo databases: module packages pushed to the target's deploy agent (backup, selective
    upgrade, restart, smoke), rollback by the target's own backup or a redeploy."""

    _name = "release.deployer.odoo"
    _inherit = "release.deployer"
    _description = "Deployer: Odoo database"

    def _plan(self, environment, run):
        """The target's own upgrade plan for the run's package: modules to install, upgrade, keep."""
        artifact = run.artifact_ids.filtered(lambda a: a.kind == "odoo_modules").sorted("id")[-1:]
        if not artifact:
            return False, False
        try:
            planned = environment._odoo_target().plan(artifact._local_path(), artifact.sha256, artifact.version, artifact.commit_sha)
        except (TargetError, ValueError) as exc:
            return self.env._("Plan unavailable: %(error)s", error=exc), False
        plan = planned["plan"]
        text = "\n".join(f"{key}: {', '.join(plan.get(key) or []) or '-'}" for key in ("install", "upgrade", "unchanged"))
        return text, planned["plan_digest"]
