import json
import os
import shutil
import tempfile

from odoo import api, models

from ...engine.delivery.odoo import packaging
from ...engine.execution import workspace
from ...engine.source import versioning
from ...engine.source.git_source import GitSourceError, open_mirror, resolve

ODOO_FORMAT = "odoo-modules"
N8N_FORMAT = "n8n-workflows"
PACKAGE_KINDS = {ODOO_FORMAT: "odoo_modules", N8N_FORMAT: "n8n_workflows"}
# Actions of whole domains live in models of their own that inherit this one's helpers:
# ``uses: image.build`` runs release.action.image's ``_action_image_build``.
DOMAIN_MODELS = {
    "odoo": "release.action.odoo",
    "n8n": "release.action.n8n",
    "image": "release.action.image",
    "registry": "release.action.image",
    "iac": "release.action.iac",
}


class ActionError(Exception):
    """A built-in action that failed; the message is the job's failure reason."""


class ReleaseAction(models.AbstractModel):
    """Built-in actions (``uses:``) the product carries out itself, called by the scheduler:
    the generic ones (source, runner hosts, artifacts) and the helpers the domains share.

    Each returns the lines for the job's log, or raises ActionError with the reason."""

    _name = "release.action"
    _description = "Built-in pipeline actions"

    @api.model
    def _run(self, job, task):
        owner = self.env[DOMAIN_MODELS.get(task["uses"].split(".", 1)[0], self._name)]
        handler = getattr(owner, "_action_" + task["uses"].replace(".", "_"), None)
        if handler is None:
            raise ActionError(f"built-in action {task['uses']} is not available in this version")
        try:
            return handler(job, task)
        except (
            GitSourceError,
            workspace.WorkspaceError,
            packaging.PackageError,
            versioning.VersionError,
            ValueError,
            *owner._action_errors(),
        ) as exc:
            raise ActionError(str(exc)) from exc

    @api.model
    def _action_errors(self):
        """Engine exceptions whose message is the failure reason, for the actions of a domain."""
        return ()

    # -- source -----------------------------------------------------------------------------
    def _action_git_checkout(self, job, task):
        run = job.run_id
        if not run.repository_id:
            return "no repository: nothing to check out"
        repo = self._mirror(run)
        sha = resolve(repo, run.repository_id.url, run.commit_sha)
        return f"{run.repository_id.name} at {sha} ({run.ref}) is available to every job of this run"

    def _action_docker_info(self, job, task):
        lines = []
        for runner in self.env["release.runner"].search([("active", "=", True)]):
            info = runner._client().info()
            lines.append(f"{runner.name}: Docker {info.get('ServerVersion')}, {info.get('NCPU')} CPUs, capacity {runner.capacity}")
        return "\n".join(lines) or "no runner host configured"

    # -- artifacts --------------------------------------------------------------------------
    def _action_artifact_version(self, job, task):
        """SemVer from Git tags; every module's manifest version checked against the last deploy."""
        run = job.run_id
        version = self._version(run)
        if self._format(task) == N8N_FORMAT:
            return f"version {version}; each workflow is versioned by its content (sha256 of the normalised workflow)"
        artifact = self._package_of(run)
        previous = self._previous_manifest(run, artifact)
        modules = {name: info["version"] for name, info in artifact._manifest().get("modules", {}).items()} if artifact else {}
        errors = versioning.check_release(modules, {n: i["version"] for n, i in previous.get("modules", {}).items()})
        if errors:
            raise ActionError("; ".join(errors))
        return f"version {version}" + (f"; {len(modules)} module versions checked against the last release" if modules else "")

    def _action_artifact_package(self, job, task):
        """Zip the commit's Odoo modules (or, ``format: n8n-workflows``, gather its workflows)
        into an immutable, versioned artifact."""
        if self._format(task) == N8N_FORMAT:
            return self.env["release.action.n8n"]._package_n8n(job, task)
        run = job.run_id
        params = task.get("with") or {}
        version = self._version(run)
        # Without with.source the modules are found by their manifests anywhere in the commit.
        source = self._source(params, "") if params.get("source") else ""
        workdir = tempfile.mkdtemp(prefix="igr-package-")
        try:
            tree = self._export_tree(run, workdir)
            addons = os.path.join(tree, source) if source else tree
            modules = params.get("modules") or sorted(packaging.discover_modules(addons))
            if not modules:
                raise ActionError(f"no Odoo module (no __manifest__.py) in '{source or '.'}' at {run.commit_sha[:12]}")
            zip_path = os.path.join(workdir, "modules.zip")
            built = packaging.build_package(addons, modules, version, run.commit_sha, zip_path)
            with open(zip_path, "rb") as handle:
                content = handle.read()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        name = f"{run.pipeline_id.code}-{version}.zip"
        self.env["release.artifact"]._store(
            name,
            content,
            run,
            job,
            kind="odoo_modules",
            mimetype="application/zip",
            version=version,
            sha256=built["sha256"],
            size=built["size"],
            manifest_json=json.dumps(built["manifest"], sort_keys=True),
        )
        listing = "\n".join(f"  {m} {i['version']} {i['checksum'][:12]}" for m, i in sorted(built["manifest"]["modules"].items()))
        return f"{name}: {built['size']} bytes, sha256 {built['sha256']}\n{listing}"

    def _action_artifact_publish(self, job, task):
        """Name the run's package in the artifact repository. An n8n package is built here when
        the run has none yet (PL-N8N-WF versions, then publishes the workflow files)."""
        kind = PACKAGE_KINDS[self._format(task)]
        built = ""
        if kind == "n8n_workflows" and not self._package_of(job.run_id, kind):
            built = self.env["release.action.n8n"]._package_n8n(job, task) + "\n"
        artifact = self._package_of(job.run_id, kind)
        if not artifact:
            raise ActionError("nothing to publish: no package was built in this run (artifact.package)")
        url = f"{self.env['release.settings']._base_url()}/web/content/{artifact.attachment_id.id}?download=true"
        return f"{built}{artifact.name} {artifact.version} sha256 {artifact.sha256} is in the artifact repository: {url}"

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _deploy_log(environment, artifact, deployment):
        """The job's log lines of a deployment; raises ActionError when it did not succeed."""
        lines = [f"deploy {artifact.version} to {environment.code}: {deployment.outcome}", deployment.plan or "", deployment.timeline or ""]
        if deployment.outcome not in ("deployed", "unchanged"):
            raise ActionError(f"deploy to {environment.code} {dict(deployment._fields['outcome'].selection)[deployment.outcome].lower()}: {deployment.error}")
        return "\n".join(line for line in lines if line)

    def _format(self, task):
        value = (task.get("with") or {}).get("format", ODOO_FORMAT)
        if value not in PACKAGE_KINDS:
            raise ActionError(f"task {task['name']}: with.format: {value!r} is not a package format ({', '.join(PACKAGE_KINDS)})")
        return value

    @staticmethod
    def _source(params, default):
        """``with.source``: a folder of the repository, never outside it."""
        source = params.get("source", default)
        if not isinstance(source, str) or not source.strip("/") or source.startswith("/") or ".." in source.split("/"):
            raise ActionError(f"with.source: {source!r} is not a folder of the repository (a relative path)")
        return source.strip("/")

    def _mirror(self, run):
        return open_mirror(run.repository_id.url, self.env["release.settings"]._path("git-mirrors"))

    def _version(self, run):
        if not run.version:
            if not run.repository_id:
                raise ActionError("no repository: the version comes from its Git tags")
            repo = self._mirror(run)
            resolve(repo, run.repository_id.url, run.commit_sha)
            run.version = versioning.version_at(repo, run.commit_sha)
        return run.version

    def _export_tree(self, run, workdir):
        """The commit's files, from the mirror, in a fresh folder (as jobs see them in /src)."""
        return workspace.export(run.repository_id.url, run.commit_sha, self.env["release.settings"]._path("git-mirrors"), os.path.join(workdir, "tree"))

    def _package_of(self, run, kind="odoo_modules"):
        return run.artifact_ids.filtered(lambda a: a.kind == kind).sorted("id")[-1:]

    def _previous_manifest(self, run, artifact):
        previous = self.env["release.artifact"].search(
            [("pipeline_id", "=", run.pipeline_id.id), ("kind", "=", "odoo_modules"), ("id", "!=", artifact.id), ("run_id.state", "=", "succeeded")],
            order="id desc",
            limit=1,
        )
        return previous._manifest() if previous else {}

    def _deploy_target(self, job, kind, missing):
        """``(environment, artifact)`` of a deploy: the stage's environment (fixed on the job when
        the run was created) and the run's latest artifact of ``kind`` (ActionError ``missing``)."""
        environment = job.environment_id
        if not environment:
            raise ActionError(f"stage {job.stage_id.name} deploys to no environment")
        artifact = self._package_of(job.run_id, kind)
        if not artifact:
            raise ActionError(missing)
        return environment, artifact
