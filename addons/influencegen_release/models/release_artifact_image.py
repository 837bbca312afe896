from odoo import api, fields, models


class ReleaseArtifact(models.Model):
    """Container images (kind ``image``): what ``manifest_json`` records, shown as fields."""

    _inherit = "release.artifact"

    image_repository = fields.Char(string="Image repository", compute="_compute_image_fields", help="registry/name the image was pushed as.")
    image_tags = fields.Char(string="Image tags", compute="_compute_image_fields")
    image_digest = fields.Char(string="Image digest", compute="_compute_image_fields", help="The digest the registry serves (read back after the push).")
    image_id = fields.Char(string="Image id", compute="_compute_image_fields", help="The image id on the runner host that built it.")

    @api.depends("kind", "manifest_json")
    def _compute_image_fields(self):
        for artifact in self:
            manifest = artifact._manifest() if artifact.kind == "image" else {}
            artifact.image_repository = manifest.get("repository") or manifest.get("name") or False
            artifact.image_tags = ", ".join(manifest.get("tags") or []) or False
            artifact.image_digest = manifest.get("digest") or False
            artifact.image_id = manifest.get("image_id") or False
