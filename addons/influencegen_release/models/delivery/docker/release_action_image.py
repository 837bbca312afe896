import json
import os
import shutil
import tempfile

from odoo import api, models

from ....engine.delivery.image import build as image_build
from ....engine.delivery.image.registry import RegistryError, check_name, check_tag, version_tag
from ....engine.execution import job_files
from ....engine.execution.docker_runner import ContainerSpec, LogCursor, task_limits
from ....engine.quality.reports import ReportError, parse_report
from ...run.release_action import ActionError

DEFAULT_SCANNER = "aquasec/trivy:0.56.2"
SCAN_COMMAND = "trivy image --input /src/image.tar --format json --output /workspace/trivy.json"
SCAN_REPORT = "trivy.json"
LOG_TAIL = 20  # build output lines kept in the job's log


class ReleaseActionImage(models.AbstractModel):
    """Built-in actions of container-image pipelines (PL-CONTAINER-IMG): build, scan, tag, log
    in, push and deploy an image on a runner host's Docker engine.

    The image is one ``release.artifact`` (kind ``image``) per run: ``image.build`` records it
    with its image id and runner host, ``image.tag`` adds the registry and tags, ``image.push``
    the digest the registry serves; from then on it is immutable (its sha256 is the digest)."""

    _name = "release.action.image"
    _inherit = "release.action"
    _description = "Built-in actions: container images"

    @api.model
    def _action_errors(self):
        return (*super()._action_errors(), image_build.ImageError, RegistryError)

    # -- build and scan -----------------------------------------------------------------------
    def _action_image_build(self, job, task):
        """Build the repository's Dockerfile at the run's exact commit on a runner host."""
        run = job.run_id
        params = task.get("with") or {}
        if not run.repository_id:
            raise ActionError("no repository: an image is built from a commit's Dockerfile")
        name = check_name(params.get("name") or self._image_name(run))
        runner = self._image_runner(params)
        version = self._version(run)
        workdir = tempfile.mkdtemp(prefix="igr-image-")
        try:
            tree = self._export_tree(run, workdir)
            context, dockerfile = image_build.context_paths(tree, params.get("context", "."), params.get("dockerfile", "Dockerfile"))
            labels = {
                "influencegen.db": self.env.cr.dbname,
                "influencegen.run": str(run.id),
                "org.opencontainers.image.revision": run.commit_sha,
                "org.opencontainers.image.version": version,
            }
            built = image_build.build(
                runner._client(), context, dockerfile, labels, network=task["network"], timeout=task["timeout"], memory_mb=task["memory"]
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        manifest = {
            "name": name,
            "image_id": built.image_id,
            "runner": runner.name,
            "runner_id": runner.id,
            "dockerfile": os.path.normpath(os.path.join(params.get("context", "."), params.get("dockerfile", "Dockerfile"))),
            "registry": None,
            "repository": None,
            "tags": [],
            "digest": None,
        }
        artifact = self.env["release.artifact"].create(
            {
                "name": name,
                "run_id": run.id,
                "job_id": job.id,
                "kind": "image",
                "version": version,
                "commit_sha": run.commit_sha,
                "size": built.size,
                "manifest_json": json.dumps(manifest, sort_keys=True),
            }
        )
        tail = "\n".join(built.log[-LOG_TAIL:])
        return f"{tail}\nbuilt {name} {version} from {manifest['dockerfile']} at {run.commit_sha[:12]} on {runner.name}: {built.image_id} ({built.size} bytes, artifact {artifact.id})"

    def _action_image_scan(self, job, task):
        """Scan the built image with Trivy (``with.image``, ``with.command``) in a limited
        container on its runner host; its JSON report becomes findings. When the scanner image
        is not on the host, the job records that the image was not scanned (``unknown``):
        a gate then fails, or only warns with ``unknown: warn``."""
        params = task.get("with") or {}
        artifact, manifest = self._built_image(job.run_id)
        runner = self._image_runner({"runner": manifest["runner"]})
        client = runner._client()
        scanner = params.get("image", DEFAULT_SCANNER)
        try:
            image_build.inspect(client, scanner)
        except image_build.ImageError:
            reason = f"scanner image {scanner} is not on runner {runner.name}: the image was not scanned for vulnerabilities"
            job.report_unknown = reason
            return f"{reason} (load the image and its vulnerability database on the runner host to scan)"
        name = f"igr-{self.env.cr.dbname}-j{job.id}-scan"
        root = self.env["release.settings"]._path("work")
        os.makedirs(root, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="igr-scan-", dir=root) as source:
            image_build.save(client, manifest["image_id"], os.path.join(source, "image.tar"))
            spec = ContainerSpec(
                name=name,
                image=scanner,
                command=params.get("command", SCAN_COMMAND),
                labels={"influencegen.scan": str(job.id)},
                **task_limits(task),
            )
            exit_code, output, report = self._run_to_end(client, spec, task["timeout"], source, SCAN_REPORT)
        try:
            if isinstance(report, Exception):
                raise report
            parsed = parse_report("trivy-json", report, SCAN_REPORT)
        except (job_files.JobFileError, ReportError) as exc:
            raise ActionError(f"{scanner} exited with {exit_code} and gave no readable report: {exc}\n{output}") from exc
        self.env["release.finding"]._record(job, parsed.findings, report=SCAN_REPORT)
        job.report_unknown = "\n".join(parsed.unknown) or False
        counts = {}
        for finding in parsed.findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        summary = ", ".join(f"{counts[s]} {s}" for s in ("critical", "high", "medium", "low", "info") if s in counts) or "no finding"
        return f"{scanner} scanned {artifact.name} {artifact.version} ({manifest['image_id'][:19]}): {summary}"

    @api.model
    def _run_to_end(self, client, spec, timeout, source, report):
        """Run ``spec`` on ``client`` with the local folder ``source`` as its /src, until it
        exits (killed after ``timeout`` s): its exit code, the last lines of its output, and
        the bytes of its workspace's file ``report`` (or the JobFileError saying why not).
        Files go in and out through the Docker API: the runner host sees no folder of ours."""
        with tempfile.TemporaryFile() as src, tempfile.TemporaryFile() as work:
            job_files.folder_archive(source, "src", src)
            job_files.workspace_archive(work)
            src.seek(0)
            work.seek(0)
            container_id = client.start(spec, [src, work])
        try:
            state, timed_out = client.wait_exit(container_id, timeout)
            if timed_out:
                raise ActionError(f"{spec.image} took longer than its timeout of {timeout} s and was stopped")
            output = []
            client.copy_logs(container_id, LogCursor(), output.append)
            lines = b"".join(output).decode("utf-8", "replace").splitlines()[-LOG_TAIL:]
            try:
                data = job_files.read_file(client, container_id, report, 64 * 1024 * 1024)
            except job_files.JobFileError as exc:
                data = exc
            return (state.exit_code if state else -1), "\n".join(lines), data
        finally:
            client.remove(container_id)
            client.remove_volume(spec.name)

    # -- registry -----------------------------------------------------------------------------
    def _action_image_tag(self, job, task):
        """Tag the built image ``<registry>/<name>:<version>`` and ``:<commit sha>`` (plus
        ``with.tags``) for the stage's environment's registry."""
        run = job.run_id
        environment = self._image_environment(job)
        artifact, manifest = self._built_image(run)
        extra = (task.get("with") or {}).get("tags") or []
        if not isinstance(extra, list):
            raise ActionError(f"task {task['name']}: with.tags: expected a list of tags")
        tags = list(dict.fromkeys([version_tag(artifact.version), run.commit_sha, *(check_tag(str(t)) for t in extra)]))
        registry = environment._deployer()._registry(environment, anonymous=True)
        repository = f"{registry.host}/{manifest['name']}"
        refs = image_build.tag(self._image_runner({"runner": manifest["runner"]})._client(), manifest["image_id"], repository, tags)
        artifact.manifest_json = json.dumps(dict(manifest, registry=registry.host, repository=repository, tags=tags), sort_keys=True)
        return "tagged " + manifest["image_id"][:19] + " as:\n  " + "\n  ".join(refs)

    def _action_registry_login(self, job, task):
        """Check the environment's registry credentials (resolved now, never stored or logged)."""
        environment = self._image_environment(job)
        registry = environment._deployer()._registry(environment)
        registry.login()
        return f"logged in to {registry.host} as {registry.username or 'anonymous'} (credentials from {environment.credentials_ref or 'nowhere'})"

    def _action_image_push(self, job, task):
        """Push every tag, then read the digest back from the registry: what Docker reported must
        be what the registry serves for each tag. The artifact then holds that digest."""
        environment = self._image_environment(job)
        artifact, manifest = self._built_image(job.run_id)
        if not manifest.get("tags"):
            raise ActionError(f"{artifact.name} has no tag: run image.tag first")
        registry = environment._deployer()._registry(environment)
        if manifest["registry"] != registry.host:
            raise ActionError(f"{artifact.name} is tagged for {manifest['registry']}, not for {registry.host} ({environment.code})")
        client = self._image_runner({"runner": manifest["runner"]})._client()
        lines, digests = [], set()
        for tag in manifest["tags"]:
            pushed = image_build.push(client, manifest["repository"], tag, registry.auth_config)
            served = registry.digest(manifest["name"], tag)
            if served != pushed:
                raise ActionError(f"{manifest['repository']}:{tag}: Docker pushed {pushed} but the registry serves {served}")
            digests.add(served)
            lines.append(f"  {manifest['repository']}:{tag} {served}")
        if len(digests) != 1:
            raise ActionError(f"the tags of {artifact.name} point at different digests: {', '.join(sorted(digests))}")
        digest = digests.pop()
        artifact.write(
            {
                "sha256": digest.split(":", 1)[1],
                "manifest_json": json.dumps(dict(manifest, digest=digest), sort_keys=True),
            }
        )
        return f"pushed {artifact.name} {artifact.version} to {registry.host}, digest {digest} (read back from the registry):\n" + "\n".join(lines)

    # -- deploy -------------------------------------------------------------------------------
    def _action_image_deploy(self, job, task):
        """Run the run's pushed image, by digest, as the stage environment's service container."""
        environment = self._image_environment(job)
        artifact = job.run_id.artifact_ids.filtered(lambda a: a.kind == "image" and a.sha256).sorted("id")[-1:]
        if not artifact:
            raise ActionError("no image to deploy: this run pushed none (image.push)")
        deployment = environment._deploy(artifact, run=job.run_id, job=job)
        return self._deploy_log(environment, artifact, deployment)

    # -- helpers ------------------------------------------------------------------------------
    def _image_environment(self, job):
        """The stage's environment, fixed on the job when the run was created: a docker one."""
        environment = job.environment_id
        if not environment:
            raise ActionError(f"stage {job.stage_id.name} names no environment: the registry and credentials come from it")
        if environment._deployer()._name != "release.deployer.docker":
            raise ActionError(f"environment {environment.code} is of kind {environment.kind}, not docker")
        return environment

    def _built_image(self, run):
        artifact = run.artifact_ids.filtered(lambda a: a.kind == "image").sorted("id")[-1:]
        if not artifact:
            raise ActionError("no image: this run built none (image.build)")
        return artifact, artifact._manifest()

    def _image_runner(self, params):
        """The runner host named ``with.runner``, else the first active one."""
        Runner = self.env["release.runner"]
        name = params.get("runner")
        runner = Runner.search([("name", "=", name)] if name else [], limit=1)
        if not runner:
            raise ActionError(f"no active runner host named {name!r}" if name else "no active runner host to build on")
        return runner

    @api.model
    def _image_name(self, run):
        """Default image name: the repository's name, lowercased, as a registry path."""
        base = "".join(c if c.isalnum() else "-" for c in (run.repository_id.name or "image").lower()).strip("-")
        return "-".join(part for part in base.split("-") if part) or "image"

