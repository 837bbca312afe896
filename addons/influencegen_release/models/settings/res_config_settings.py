from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    igr_data_dir = fields.Char(
        string="Release data folder",
        config_parameter="influencegen_release.data_dir",
        help="Git mirrors, job workspaces and logs live here, outside the database.",
    )
    igr_default_image = fields.Char(
        string="Default runner image",
        config_parameter="influencegen_release.default_image",
        help="Image used by tasks whose pipeline names none.",
    )
    igr_docker_url = fields.Char(
        string="Docker engine",
        config_parameter="influencegen_release.docker_url",
        help="URL of the local Docker engine used by the default runner host.",
    )
