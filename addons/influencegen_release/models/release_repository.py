from odoo import Command, fields, models
from odoo.exceptions import UserError

from ..engine.git_source import GitSourceError, read_file_at


class ReleaseRepository(models.Model):
    _name = "release.repository"
    _description = "Git Repository"
    _inherit = ["mail.thread"]
    _order = "name"

    name = fields.Char(required=True, tracking=True)
    url = fields.Char(string="URL", required=True, tracking=True, help="Clone URL or local path of the repository.")
    default_branch = fields.Char(required=True, default="main", tracking=True)
    pipeline_file = fields.Char(
        required=True,
        default=".influencegen/pipeline.yml",
        tracking=True,
        help="Path, inside the repository, of the pipeline file it carries.",
    )
    active = fields.Boolean(default=True)
    pipeline_ids = fields.Many2many(
        "release.pipeline", string="Pipelines", help="Pipelines a push to this repository may start (by their triggers)."
    )
    defined_pipeline_ids = fields.One2many("release.pipeline", "repository_id", string="Defined here")
    last_loaded_sha = fields.Char(readonly=True)
    last_load_error = fields.Text(readonly=True)

    _sql_constraints = [("name_unique", "unique(name)", "A repository name must be unique.")]

    def action_load_pipeline_file(self):
        """Read the pipeline file at the head of the default branch and sync its pipelines."""
        for repository in self:
            repository._load_pipeline_file(repository.default_branch)
        return True

    def _load_pipeline_file(self, ref):
        self.ensure_one()
        try:
            text, sha = read_file_at(self.url, ref, self.pipeline_file, self.env["release.settings"]._mirrors_dir())
        except GitSourceError as exc:
            self.last_load_error = str(exc)
            self.message_post(body=self.env._("Pipeline file not loaded: %(error)s", error=exc))
            raise UserError(str(exc)) from exc
        filename = f"{self.name}@{sha[:12]}:{self.pipeline_file}"
        pipelines = self.env["release.pipeline.loader"]._load_text(text, filename, repository=self)
        self.write({"last_loaded_sha": sha, "last_load_error": False, "pipeline_ids": [Command.link(p.id) for p in pipelines]})
        self.message_post(
            body=self.env._(
                "Pipeline file %(file)s loaded at %(sha)s: %(codes)s",
                file=self.pipeline_file,
                sha=sha[:12],
                codes=", ".join(pipelines.mapped("code")),
            )
        )
        return pipelines
