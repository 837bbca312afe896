from odoo import api, models

from ....engine.delivery.image import build as image_build
from ....engine.delivery.image import service as container_service
from ....engine.delivery.image.registry import Registry, RegistryError
from ....engine.execution.docker_runner import RunnerError


class ReleaseDeployerDocker(models.AbstractModel):
    """Container images: the environment is a registry (URL, login and credentials reference:
    what image pipelines push to) and a service that runs an image by digest on a runner host,
    health-checked; a rollback runs the previous digest again."""

    _name = "release.deployer.docker"
    _inherit = "release.deployer"
    _description = "Deployer: container image and service"

    _artifact_kind = "image"
    _exclusive = True

    def _deploy(self, environment, deployment, artifact, rollback_of=None, approved_digest=None):
        """Run ``artifact`` (a pushed image) as the environment's service: deployed, unchanged
        (that digest already runs), failed (the previous container still or again runs) or
        error (it could not be put back, or nothing started)."""
        manifest = artifact._manifest()
        digest, repository = manifest.get("digest"), manifest.get("repository")
        if not (digest and repository):
            deployment._finish("error", error=self.env._("%(name)s was never pushed: there is no digest to deploy.", name=artifact.name))
            return
        runner = environment.runner_id or self.env["release.runner"].search([], limit=1)
        match = {"influencegen.db": self.env.cr.dbname, container_service.SERVICE_LABEL: environment.code}
        plan = self.env._(
            "%(ref)s (%(tags)s) on %(runner)s, network %(network)s, health: %(health)s",
            ref=f"{repository}@{digest}",
            tags=", ".join(manifest.get("tags") or []),
            runner=runner.name or "-",
            network=environment.service_network,
            health=environment.health_url or self.env._("the image's HEALTHCHECK, else still running"),
        )
        try:
            if not runner:
                raise RunnerError(self.env._("no active runner host to run the service on"))
            client = runner._client()
            running = [c for c in container_service.containers(client, match) if c["running"]]
            if any(c["labels"].get("influencegen.digest") == digest for c in running) and len(running) == 1:
                deployment._finish("unchanged", plan=plan, timeline=self.env._("%(name)s already runs %(digest)s", name=running[0]["name"], digest=digest))
                return
            registry = self._registry(environment, manifest["registry"])
            reference = image_build.pull(client, repository, digest, registry.auth_config)
            spec = container_service.ServiceSpec(
                name=f"igr-svc-{self.env.cr.dbname}-{environment.code}-d{deployment.id}",
                image=reference,
                labels=dict(
                    match,
                    **{"influencegen.deployment": str(deployment.id), "influencegen.digest": digest, "influencegen.version": artifact.version or ""},
                ),
                network=environment.service_network,
                cpus=environment.service_cpus,
                memory_mb=environment.service_memory_mb,
                health_url=environment.health_url or "",
                health_timeout=environment.health_timeout,
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

    # -- helpers ------------------------------------------------------------------------------
    @api.model
    def _registry(self, environment, address=None, anonymous=False):
        """The registry at ``address`` (default: the environment's URL) with the environment's
        credentials: its login is the registry user, the password is resolved from the
        credentials reference now, for this call only."""
        environment.ensure_one()
        address = address or environment.url
        if not address:
            raise RegistryError(self.env._("%(env)s has no URL: set the registry address (host:port).", env=environment.code))
        if anonymous or not environment.credentials_ref:
            return Registry(address)
        try:
            password = self.env["release.settings"]._resolve(environment.credentials_ref)
        except ValueError as exc:
            raise RegistryError(str(exc)) from exc
        return Registry(address, environment.login or "", password)
