import base64
import json
import os
import shutil
import tarfile
import tempfile

from odoo import api, models

from ..engine import packaging, versioning
from ..engine.git_source import GitSourceError, open_mirror, resolve
from ..engine.odoo_target import TargetError, run_smoke, verify


class ActionError(Exception):
    """A built-in action that failed; the message is the job's failure reason."""


class ReleaseAction(models.AbstractModel):
    """Built-in actions (``uses:``) the product carries out itself, called by the scheduler.

    Each returns the lines for the job's log, or raises ActionError with the reason."""

    _name = "release.action"
    _description = "Built-in pipeline actions"

    @api.model
    def _run(self, job, task):
        handler = getattr(self, "_action_" + task["uses"].replace(".", "_"), None)
        if handler is None:
            raise ActionError(f"built-in action {task['uses']} is not available in this version")
        try:
            return handler(job, task)
        except (GitSourceError, packaging.PackageError, versioning.VersionError, TargetError, ValueError) as exc:
            raise ActionError(str(exc)) from exc

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
        artifact = self._package_of(run)
        previous = self._previous_manifest(run, artifact)
        modules = {name: info["version"] for name, info in artifact._manifest().get("modules", {}).items()} if artifact else {}
        errors = versioning.check_release(modules, {n: i["version"] for n, i in previous.get("modules", {}).items()})
        if errors:
            raise ActionError("; ".join(errors))
        return f"version {version}" + (f"; {len(modules)} module versions checked against the last release" if modules else "")

    def _action_artifact_package(self, job, task):
        """Zip the commit's Odoo modules into an immutable, versioned artifact."""
        run = job.run_id
        params = task.get("with") or {}
        version = self._version(run)
        workdir = tempfile.mkdtemp(prefix="igr-package-")
        try:
            tree = self._export_tree(run, workdir)
            addons = os.path.join(tree, params.get("source", "addons"))
            modules = params.get("modules") or packaging.find_modules(addons)
            if not modules:
                raise ActionError(f"no Odoo module in '{params.get('source', 'addons')}' at {run.commit_sha[:12]}")
            zip_path = os.path.join(workdir, "modules.zip")
            built = packaging.build_package(addons, modules, version, run.commit_sha, zip_path)
            with open(zip_path, "rb") as handle:
                content = handle.read()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        name = f"{run.pipeline_id.code}-{version}.zip"
        attachment = self.env["ir.attachment"].create(
            {"name": name, "datas": base64.b64encode(content), "res_model": "release.run", "res_id": run.id, "mimetype": "application/zip"}
        )
        self.env["release.artifact"].create(
            {
                "name": name,
                "run_id": run.id,
                "job_id": job.id,
                "kind": "odoo_modules",
                "version": version,
                "commit_sha": run.commit_sha,
                "sha256": built["sha256"],
                "size": built["size"],
                "attachment_id": attachment.id,
                "manifest_json": json.dumps(built["manifest"], sort_keys=True),
            }
        )
        listing = "\n".join(f"  {m} {i['version']} {i['checksum'][:12]}" for m, i in sorted(built["manifest"]["modules"].items()))
        return f"{name}: {built['size']} bytes, sha256 {built['sha256']}\n{listing}"

    def _action_artifact_publish(self, job, task):
        artifact = self._package_of(job.run_id)
        if not artifact:
            raise ActionError("nothing to publish: no package was built in this run (artifact.package)")
        url = f"{self.env['release.settings']._base_url()}/web/content/{artifact.attachment_id.id}?download=true"
        return f"{artifact.name} {artifact.version} sha256 {artifact.sha256} is in the artifact repository: {url}"

    # -- Odoo targets -----------------------------------------------------------------------
    def _action_odoo_deploy(self, job, task):
        environment, artifact = self._target(job)
        approval = job.run_id.approval_ids.filtered(lambda a: a.stage_key == job.stage_key and a.state == "approved")[-1:]
        deployment = environment._deploy(artifact, run=job.run_id, job=job, approved_digest=approval.plan_digest or None)
        lines = [f"deploy {artifact.version} to {environment.code}: {deployment.outcome}", deployment.plan or "", deployment.timeline or ""]
        if deployment.outcome not in ("deployed", "unchanged"):
            raise ActionError(f"deploy to {environment.code} {dict(deployment._fields['outcome'].selection)[deployment.outcome].lower()}: {deployment.error}")
        return "\n".join(line for line in lines if line)

    def _action_odoo_migrate(self, job, task):
        # Migrations run inside odoo.deploy (the target upgrades changed modules with -u).
        environment, artifact = self._target(job)
        deployment = environment.current_deployment_id
        if deployment.artifact_id != artifact:
            raise ActionError(f"{artifact.version} is not deployed on {environment.code}: run odoo.deploy first")
        return f"migrations of {artifact.version} ran during the deploy to {environment.code} ({deployment.plan or 'no plan'})"

    def _action_odoo_smoke(self, job, task):
        environment, artifact = self._target(job)
        target = environment._odoo_target()
        if not target.healthy():
            raise ActionError(f"{environment.url}/web/health does not answer 200")
        problems = verify(target, artifact._manifest()) + run_smoke(target, (task.get("with") or {}).get("checks", []))
        if problems:
            raise ActionError("; ".join(problems))
        return f"{environment.code} is healthy and runs {artifact.version} (versions and checksums verified)"

    # -- helpers ----------------------------------------------------------------------------
    def _mirror(self, run):
        return open_mirror(run.repository_id.url, self.env["release.settings"]._mirrors_dir())

    def _version(self, run):
        if not run.version:
            if not run.repository_id:
                raise ActionError("no repository: the version comes from its Git tags")
            repo = self._mirror(run)
            resolve(repo, run.repository_id.url, run.commit_sha)
            run.version = versioning.version_at(repo, run.commit_sha)
        return run.version

    def _export_tree(self, run, workdir):
        """The commit's files, from the mirror (``git archive``), in a fresh folder."""
        repo = self._mirror(run)
        resolve(repo, run.repository_id.url, run.commit_sha)
        archive = os.path.join(workdir, "tree.tar")
        with open(archive, "wb") as handle:
            repo.archive(handle, treeish=run.commit_sha, format="tar")
        tree = os.path.join(workdir, "tree")
        with tarfile.open(archive) as tar:
            _extract_plain(tar, tree)
        return tree

    def _package_of(self, run):
        return run.artifact_ids.filtered(lambda a: a.kind == "odoo_modules").sorted("id")[-1:]

    def _previous_manifest(self, run, artifact):
        previous = self.env["release.artifact"].search(
            [("pipeline_id", "=", run.pipeline_id.id), ("kind", "=", "odoo_modules"), ("id", "!=", artifact.id), ("run_id.state", "=", "succeeded")],
            order="id desc",
            limit=1,
        )
        return previous._manifest() if previous else {}

    def _target(self, job):
        stage = next(s for s in job.run_id._spec()["stages"] if s["key"] == job.stage_key)
        environment = self.env["release.environment"].search([("code", "=", stage.get("environment"))], limit=1)
        if not environment:
            raise ActionError(f"stage {stage['name']} deploys to no environment")
        artifact = self._package_of(job.run_id)
        if not artifact:
            raise ActionError("no package to deploy: this run built none (artifact.package)")
        return environment, artifact


def _extract_plain(tar, tree):
    """``git archive`` output from our own mirror: regular files and folders only."""
    for member in tar.getmembers():
        if member.name.startswith("/") or ".." in member.name.split("/"):
            raise ActionError(f"unsafe path in the commit's archive: {member.name}")
        if member.isfile() or member.isdir():
            tar.extract(member, tree)
