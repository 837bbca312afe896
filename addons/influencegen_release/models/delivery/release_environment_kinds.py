import os
from urllib.parse import unquote, urlparse

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ...engine.delivery.image import build as image_build
from ...engine.delivery.image import service as container_service
from ...engine.delivery.image.registry import Registry, RegistryError
from ...engine.execution.docker_runner import RunnerError
from ...engine.vocabulary import DEPLOYMENT_SUCCESSFUL as SUCCESSFUL


class ReleaseEnvironment(models.Model):
    """Environments of kind docker and iac (the Odoo and n8n kinds are release_environment.py's).

    Docker: a container registry (URL, login and credentials reference: what image pipelines
    push to), and a service that runs an image by digest on a runner host, health-checked,
    with rollback to the previous digest.

    Infrastructure (iac): the folder Ansible applies to, the applies recorded as deployments
    of the plan artifact, and rollback as a revert run. The environment's URL is
    ``file:///absolute/folder``: its infrastructure, mounted at ``/target`` in the runner
    container (hosts of the inventory live in subfolders)."""

    _inherit = "release.environment"

    runner_id = fields.Many2one(
        "release.runner", string="Runner host", tracking=True, help="Docker environments: the Docker engine the service runs on (default: the first active runner host)."
    )
    service_network = fields.Selection(
        [("none", "None"), ("host", "Host (the service binds 127.0.0.1)")],
        string="Service network",
        default="none",
        required=True,
        tracking=True,
    )
    health_url = fields.Char(
        string="Health check URL", tracking=True, help="Docker environments: polled until it answers 200; empty: the image's HEALTHCHECK."
    )
    health_timeout = fields.Integer(string="Health timeout (s)", default=60, tracking=True)
    service_cpus = fields.Float(string="Service CPUs", default=0.5, tracking=True)
    service_memory_mb = fields.Integer(string="Service memory (MB)", default=256, tracking=True)

    def _registry(self, address=None, anonymous=False):
        """The registry at ``address`` (default: this environment's URL) with this environment's
        credentials: its login is the registry user, the password is resolved from the
        credentials reference now, for this call only."""
        self.ensure_one()
        address = address or self.url
        if not address:
            raise RegistryError(self.env._("%(env)s has no URL: set the registry address (host:port).", env=self.code))
        if anonymous or not self.credentials_ref:
            return Registry(address)
        try:
            password = self.env["release.settings"]._resolve(self.credentials_ref)
        except ValueError as exc:
            raise RegistryError(str(exc)) from exc
        return Registry(address, self.login or "", password)

    def _deploy_image(self, deployment, artifact, rollback_of=None):
        """Run ``artifact`` (a pushed image) as this environment's service and finish
        ``deployment``: deployed, unchanged (that digest already runs), failed (the previous
        container still or again runs) or error (it could not be put back, or nothing started)."""
        manifest = artifact._manifest()
        digest, repository = manifest.get("digest"), manifest.get("repository")
        if not (digest and repository):
            deployment._finish("error", error=self.env._("%(name)s was never pushed: there is no digest to deploy.", name=artifact.name))
            return
        runner = self.runner_id or self.env["release.runner"].search([], limit=1)
        match = {"influencegen.db": self.env.cr.dbname, container_service.SERVICE_LABEL: self.code}
        plan = self.env._(
            "%(ref)s (%(tags)s) on %(runner)s, network %(network)s, health: %(health)s",
            ref=f"{repository}@{digest}",
            tags=", ".join(manifest.get("tags") or []),
            runner=runner.name or "-",
            network=self.service_network,
            health=self.health_url or self.env._("the image's HEALTHCHECK, else still running"),
        )
        try:
            if not runner:
                raise RunnerError(self.env._("no active runner host to run the service on"))
            client = runner._client()
            running = [c for c in container_service.containers(client, match) if c["running"]]
            if any(c["labels"].get("influencegen.digest") == digest for c in running) and len(running) == 1:
                deployment._finish("unchanged", plan=plan, timeline=self.env._("%(name)s already runs %(digest)s", name=running[0]["name"], digest=digest))
                return
            registry = self._registry(manifest["registry"])
            reference = image_build.pull(client, repository, digest, registry.auth_config)
            spec = container_service.ServiceSpec(
                name=f"igr-svc-{self.env.cr.dbname}-{self.code}-d{deployment.id}",
                image=reference,
                labels=dict(
                    match,
                    **{"influencegen.deployment": str(deployment.id), "influencegen.digest": digest, "influencegen.version": artifact.version or ""},
                ),
                network=self.service_network,
                cpus=self.service_cpus,
                memory_mb=self.service_memory_mb,
                health_url=self.health_url or "",
                health_timeout=self.health_timeout,
            )
            result = container_service.deploy(client, spec, match)
        except (RunnerError, RegistryError, image_build.ImageError, container_service.ServiceError) as exc:
            deployment._finish("error", plan=plan, error=str(exc))
            return
        values = {"plan": plan, "timeline": "\n".join(result.timeline)}
        if result.ok:
            deployment._finish("deployed", **values)
        elif result.restored:
            replaced = ", ".join(result.replaced) or self.env._("none was running")
            deployment._finish("failed", error=self.env._("%(error)s\nPrevious container kept: %(names)s.", error=result.error, names=replaced), **values)
        else:
            deployment._finish("error", error=result.error, **values)

    # -- infrastructure (iac) ---------------------------------------------------------------
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
