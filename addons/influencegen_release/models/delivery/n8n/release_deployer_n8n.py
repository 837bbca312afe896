from odoo import models


class ReleaseDeployerN8n(models.AbstractModel):
    """n8n instances: workflow packages pushed through n8n's public API, all or nothing."""

    _name = "release.deployer.n8n"
    _inherit = "release.deployer"
    _description = "Deployer: n8n instance"
