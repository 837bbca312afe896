import json

from odoo import api, fields, models
from odoo.exceptions import UserError

# Once recorded, an artifact's identity and content never change: promotion deploys it as is.
IMMUTABLE_FIELDS = {"manifest_json", "kind", "version", "commit_sha", "sha256", "size", "attachment_id", "run_id", "job_id"}


class ReleaseArtifact(models.Model):
    _name = "release.artifact"
    _description = "Release Artifact"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(required=True)
    run_id = fields.Many2one("release.run", ondelete="restrict", index=True)
    job_id = fields.Many2one("release.job", ondelete="restrict", index=True)
    pipeline_id = fields.Many2one("release.pipeline", ondelete="restrict", index=True)
    kind = fields.Selection(
        [
            ("odoo_modules", "Odoo modules"),
            ("n8n_workflows", "n8n workflows"),
            ("image", "Container image"),
            ("iac_plan", "IaC plan"),
            ("report", "Report"),
            ("log", "Log"),
            ("other", "Other"),
        ],
        required=True,
        default="other",
    )
    version = fields.Char()
    commit_sha = fields.Char(string="Commit")
    sha256 = fields.Char(string="SHA-256", index=True)
    size = fields.Integer(string="Size (bytes)")
    attachment_id = fields.Many2one("ir.attachment", ondelete="restrict")
    plan = fields.Text(string="Upgrade plan", help="What deploying this artifact changes, shown to approvers.")
    manifest_json = fields.Text(string="Package manifest", readonly=True, help="Modules, versions, checksums and files.")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("run_id") and not vals.get("pipeline_id"):
                vals["pipeline_id"] = self.env["release.run"].browse(vals["run_id"]).pipeline_id.id
        return super().create(vals_list)

    def action_download(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self.attachment_id.id}?download=true",
            "target": "new",
        }

    def _local_path(self):
        """The content's path in the filestore (deployers read the package from there)."""
        self.ensure_one()
        return self.attachment_id._full_path(self.attachment_id.store_fname)

    def _manifest(self):
        self.ensure_one()
        return json.loads(self.manifest_json or "{}")

    def write(self, vals):
        if IMMUTABLE_FIELDS & set(vals) and self.filtered("sha256"):
            raise UserError(self.env._("An artifact is immutable once recorded: register a new one instead."))
        return super().write(vals)
