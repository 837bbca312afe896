from odoo import models


class ReleaseDeployerDocker(models.AbstractModel):
    """Container images: a service run by digest on a runner host, health-checked."""

    _name = "release.deployer.docker"
    _inherit = "release.deployer"
    _description = "Deployer: container image and service"
