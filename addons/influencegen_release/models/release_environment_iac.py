import os
from urllib.parse import unquote, urlparse

from odoo import api, models
from odoo.exceptions import AccessError, UserError

from .release_environment import SUCCESSFUL


class ReleaseEnvironment(models.Model):
    """Infrastructure environments (kind ``iac``): the folder Ansible applies to, the applies
    recorded as deployments of the plan artifact, and rollback as a revert run.

    The environment's URL is ``file:///absolute/folder``: its infrastructure, mounted at
    ``/target`` in the runner container (hosts of the inventory live in subfolders)."""

    _inherit = "release.environment"

    def action_rollback(self):
        if self.kind != "iac":
            return super().action_rollback()
        return self._iac_rollback()._action_open()

    @api.model
    def api_rollback(self, code):
        """For an infrastructure environment: the revert run's status (``rollback_of`` says which apply it undoes)."""
        environment = self.search([("code", "=", code)], limit=1)
        if environment.kind != "iac":
            return super().api_rollback(code)
        return environment._iac_rollback()._status()

    def _iac_rollback(self):
        """Start the revert run: the pipeline, ref and definition of the last good apply here,
        at its commit, labelled as a rollback of the apply it undoes.

        When the latest apply failed (or was refused), the last successful commit is applied
        again; when it succeeded, the latest earlier successful apply of another commit is the
        target (applies a rollback already undid are passed over, as for other environments)."""
        self.ensure_one()
        if not self.env.user.has_group("influencegen_release.group_release_release_manager"):
            raise AccessError(self.env._("Only a Release Manager rolls an environment back."))
        history = self.deployment_ids.sorted("id")
        successful = history.filtered(lambda d: d.outcome in SUCCESSFUL)
        latest = history[-1:]
        if not successful:
            raise UserError(self.env._("%(env)s has no successful apply to go back to.", env=self.name))
        if latest.outcome not in SUCCESSFUL:
            target = successful[-1:]
        else:
            undone = successful.filtered("is_rollback").rollback_of_id
            target = (successful - undone).filtered(lambda d: d.id < latest.id and d.commit_sha != latest.commit_sha)[-1:]
            if not target:
                raise UserError(self.env._("%(env)s has no earlier successful apply of another commit to go back to.", env=self.name))
        run = self.env["release.run"]._iac_revert_run(target, latest, self)
        self.message_post(
            body=self.env._(
                "Rollback requested by %(user)s: %(run)s re-applies commit %(sha)s (applied by %(good)s), undoing %(undone)s.",
                user=self.env.user.name,
                run=run.display_name,
                sha=target.commit_sha[:12],
                good=target.run_id.display_name,
                undone=latest.display_name,
            )
        )
        return run

    def _iac_folder(self):
        """The absolute folder of ``file://`` URL; ValueError naming the environment otherwise."""
        self.ensure_one()
        parsed = urlparse(self.url or "")
        path = unquote(parsed.path)
        if parsed.scheme != "file" or not os.path.isabs(path) or ".." in path.split("/"):
            raise ValueError(
                self.env._("%(env)s: URL must be file:///absolute/folder (its infrastructure), got %(url)r", env=self.code, url=self.url or "")
            )
        if not os.path.isdir(path):
            raise ValueError(self.env._("%(env)s: the folder %(path)s does not exist", env=self.code, path=path))
        return path

    def _iac_deployment(self, artifact, run, job):
        """The history record of one apply here (its outcome is set when it ends)."""
        return self.env["release.deployment"].create(
            {
                "environment_id": self.id,
                "artifact_id": artifact.id,
                "run_id": run.id,
                "job_id": job.id,
                "is_rollback": run.is_rollback,
                "rollback_of_id": run.rollback_of_deployment_id.id,
            }
        )
