import hashlib
import json

from odoo import api, fields, models
from odoo.exceptions import UserError

# Once recorded, an artifact's identity and content never change: promotion deploys it as is.
IMMUTABLE_FIELDS = {"manifest_json", "kind", "version", "commit_sha", "sha256", "size", "attachment_id", "run_id", "job_id"}
# Version of the n8n package document ({format, version, commit, workflows}).
N8N_PACKAGE_FORMAT = 1


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
    plan = fields.Text(help="What deploying this artifact changes, shown to approvers.")
    manifest_json = fields.Text(string="Package manifest", readonly=True, help="Modules, versions, checksums and files.")

    # Container images (kind ``image``): what ``manifest_json`` records, shown as fields.
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

    @api.model
    def _store(self, name, content, run, job=None, kind="other", attach_to=None, mimetype=None, **values):
        """Store ``content`` (bytes) as an artifact of ``run``: the file goes to an attachment of
        ``attach_to`` (default the run), the artifact records its sha256 and size. ``values``
        add or override fields (``version``, ``manifest_json``, ``plan``, a package's own sha256)."""
        holder = attach_to or run
        attachment = self.env["ir.attachment"].create(
            dict(
                {"name": name.rsplit("/", 1)[-1], "raw": content, "res_model": holder._name, "res_id": holder.id},
                **({"mimetype": mimetype} if mimetype else {}),
            )
        )
        vals = {
            "name": name,
            "run_id": run.id,
            "job_id": job.id if job else False,
            "kind": kind,
            "commit_sha": run.commit_sha,
            "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content),
            "attachment_id": attachment.id,
        }
        return self.create(dict(vals, **values))

    def _local_path(self):
        """The content's path in the filestore (deployers read the package from there)."""
        self.ensure_one()
        return self.attachment_id._full_path(self.attachment_id.store_fname)

    def _manifest(self):
        self.ensure_one()
        return json.loads(self.manifest_json or "{}")

    # -- n8n workflow packages -------------------------------------------------------------
    @api.model
    def _create_n8n_package(self, run, job, version, workflows):
        """Record the n8n package of ``run``: ``workflows`` is ``{name: {file, active, version,
        workflow}}`` (``workflow`` normalised, ``version`` its sha256).

        The content is one JSON document, ``{format, version, commit, workflows}``, written with
        sorted keys so the same workflows, version and commit always give the same bytes and
        sha256. ``manifest_json`` is the same document without the workflow bodies."""
        document = {"format": N8N_PACKAGE_FORMAT, "version": version, "commit": run.commit_sha, "workflows": workflows}
        content = (json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()
        manifest = dict(document, workflows={name: {k: v for k, v in entry.items() if k != "workflow"} for name, entry in workflows.items()})
        return self._store(
            f"{run.pipeline_id.code}-{version}.json",
            content,
            run,
            job,
            kind="n8n_workflows",
            mimetype="application/json",
            version=version,
            manifest_json=json.dumps(manifest, sort_keys=True),
        )

    def _n8n_document(self):
        """The package's document, read from the artifact repository; raises ValueError when its
        bytes no longer match the recorded sha256 (nothing is deployed from a changed package)."""
        self.ensure_one()
        if self.kind != "n8n_workflows":
            raise ValueError(self.env._("Artifact %(name)s is not an n8n package.", name=self.name))
        content = self.attachment_id.raw or b""
        if hashlib.sha256(content).hexdigest() != self.sha256:
            raise ValueError(
                self.env._(
                    "Artifact %(name)s: its content does not match its recorded sha256 %(sha)s: it is not deployed.",
                    name=self.name,
                    sha=(self.sha256 or "-")[:12],
                )
            )
        document = json.loads(content)
        if document.get("format") != N8N_PACKAGE_FORMAT or not isinstance(document.get("workflows"), dict):
            raise ValueError(
                self.env._("Artifact %(name)s: not an n8n package of format %(format)s.", name=self.name, format=N8N_PACKAGE_FORMAT)
            )
        return document

    def write(self, vals):
        if IMMUTABLE_FIELDS & set(vals) and self.filtered("sha256"):
            raise UserError(self.env._("An artifact is immutable once recorded: register a new one instead."))
        return super().write(vals)
