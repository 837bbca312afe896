import os

from odoo import api, models

# Every setting of the addon, with its default. Read only through ``release.settings``.
DEFAULTS = {
    "influencegen_release.data_dir": os.environ.get("IGR_DATA_DIR", "/var/lib/influencegen-release"),
    "influencegen_release.default_image": "influencegen/runner-base:bookworm",
    "influencegen_release.docker_url": "unix:///var/run/docker.sock",
}


class ReleaseSettings(models.AbstractModel):
    _name = "release.settings"
    _description = "Release Settings Reader"

    @api.model
    def _get(self, key):
        """The value of one ``influencegen_release.*`` setting, falling back to its default."""
        full_key = f"influencegen_release.{key}"
        # System parameters are readable by administrators only; the value (never a secret,
        # secrets are references) is needed by every user who loads a pipeline or runs a job.
        value = self.env["ir.config_parameter"].sudo().get_param(full_key)
        return value or DEFAULTS[full_key]

    @api.model
    def _base_url(self):
        """Odoo's public URL, for links in API answers and notifications."""
        return self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")  # a URL, not a secret

    @api.model
    def _mirrors_dir(self):
        return os.path.join(self._get("data_dir"), "git-mirrors", self.env.cr.dbname)
