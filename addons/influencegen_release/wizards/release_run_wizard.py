from odoo import api, fields, models
from odoo.exceptions import UserError

from ..engine.source.git_source import GitSourceError, open_mirror, resolve
from ..engine.source.push import full_ref


class ReleaseRunWizard(models.TransientModel):
    _name = "release.run.wizard"
    _description = "Run a pipeline on a branch"

    pipeline_id = fields.Many2one("release.pipeline", required=True)
    repository_id = fields.Many2one(
        "release.repository", required=True, domain="[('pipeline_ids', 'in', pipeline_id)]"
    )
    ref = fields.Char(string="Branch or tag", required=True)

    @api.onchange("repository_id")
    def _onchange_repository_id(self):
        if self.repository_id and not self.ref:
            self.ref = self.repository_id.default_branch

    def action_run(self):
        """Resolve the branch head, then start the run exactly as a push would."""
        self.ensure_one()
        ref = full_ref(self.ref)
        try:
            repo = open_mirror(self.repository_id.url, self.env["release.settings"]._path("git-mirrors"))
            sha = resolve(repo, self.repository_id.url, ref)
        except GitSourceError as exc:
            raise UserError(str(exc)) from exc
        result = self.env["release.run"].api_trigger(
            {
                "repository": self.repository_id.name,
                "ref": ref,
                "after": sha,
                "pipeline": self.pipeline_id.code,
                "pusher": self.env.user.login,
            }
        )
        return self.env["release.run"].browse(result["runs"][0]["id"])._action_open()
