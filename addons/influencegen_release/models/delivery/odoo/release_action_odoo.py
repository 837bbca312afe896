from odoo import api, models

from ....engine.delivery.odoo.target import TargetError, run_smoke, verify
from ...run.release_action import ActionError


class ReleaseActionOdoo(models.AbstractModel):
    """Built-in actions of Odoo databases (``odoo.*``): deploy the run's module package to the
    stage's environment, check its migrations ran, smoke-test the target."""

    _name = "release.action.odoo"
    _inherit = "release.action"
    _description = "Built-in actions: Odoo databases"

    @api.model
    def _action_errors(self):
        return (*super()._action_errors(), TargetError)

    def _action_odoo_deploy(self, job, task):
        environment, artifact = self._odoo_stage(job)
        approval = job.run_id.approval_ids.filtered(lambda a: a.stage_key == job.stage_key and a.state == "approved")[-1:]
        deployment = environment._deploy(artifact, run=job.run_id, job=job, approved_digest=approval.plan_digest or None)
        return self._deploy_log(environment, artifact, deployment)

    def _action_odoo_migrate(self, job, task):
        # Migrations run inside odoo.deploy (the target upgrades changed modules with -u).
        environment, artifact = self._odoo_stage(job)
        deployment = environment.current_deployment_id
        if deployment.artifact_id != artifact:
            raise ActionError(f"{artifact.version} is not deployed on {environment.code}: run odoo.deploy first")
        return f"migrations of {artifact.version} ran during the deploy to {environment.code} ({deployment.plan or 'no plan'})"

    def _action_odoo_smoke(self, job, task):
        environment, artifact = self._odoo_stage(job)
        target = self.env["release.deployer.odoo"]._target(environment)
        if not target.healthy():
            raise ActionError(f"{environment.url}/web/health does not answer 200")
        problems = verify(target, artifact._manifest()) + run_smoke(target, (task.get("with") or {}).get("checks", []))
        if problems:
            raise ActionError("; ".join(problems))
        return f"{environment.code} is healthy and runs {artifact.version} (versions and checksums verified)"

    def _odoo_stage(self, job):
        return self._deploy_target(job, "odoo_modules", "no package to deploy: this run built none (artifact.package)")
