import json
import os
import shutil
import tempfile

from odoo import api, models

from ...engine.delivery.n8n.client import N8nError
from ...engine.delivery.n8n.workflow import WorkflowError, load_workflow, normalise, scan_secrets, validate, version_of
from ...engine.delivery.odoo import packaging
from ...engine.delivery.odoo.target import TargetError, run_smoke, verify
from ...engine.execution import workspace
from ...engine.quality.reports import Finding, fingerprint
from ...engine.source import versioning
from ...engine.source.git_source import GitSourceError, open_mirror, resolve

ODOO_FORMAT = "odoo-modules"
N8N_FORMAT = "n8n-workflows"
PACKAGE_KINDS = {ODOO_FORMAT: "odoo_modules", N8N_FORMAT: "n8n_workflows"}
N8N_TOOL = "n8n-validate"  # the tool name of n8n.validate's findings (as the n8n-structure report)
# Actions of whole domains live in models of their own that inherit this one's helpers:
# ``uses: image.build`` runs release.action.image's ``_action_image_build``.
DOMAIN_MODELS = {"image": "release.action.image", "registry": "release.action.image", "iac": "release.action.iac"}


class ActionError(Exception):
    """A built-in action that failed; the message is the job's failure reason."""


class ReleaseAction(models.AbstractModel):
    """Built-in actions (``uses:``) the product carries out itself, called by the scheduler.

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
            TargetError,
            N8nError,
            WorkflowError,
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
            return self._package_n8n(job, task)
        run = job.run_id
        params = task.get("with") or {}
        version = self._version(run)
        source = self._source(params, "addons")
        workdir = tempfile.mkdtemp(prefix="igr-package-")
        try:
            tree = self._export_tree(run, workdir)
            addons = os.path.join(tree, source)
            modules = params.get("modules") or packaging.find_modules(addons)
            if not modules:
                raise ActionError(f"no Odoo module in '{source}' at {run.commit_sha[:12]}")
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
            built = self._package_n8n(job, task) + "\n"
        artifact = self._package_of(job.run_id, kind)
        if not artifact:
            raise ActionError("nothing to publish: no package was built in this run (artifact.package)")
        url = f"{self.env['release.settings']._base_url()}/web/content/{artifact.attachment_id.id}?download=true"
        return f"{built}{artifact.name} {artifact.version} sha256 {artifact.sha256} is in the artifact repository: {url}"

    def _package_n8n(self, job, task):
        """The commit's workflows, checked, normalised and versioned, as one JSON package."""
        run = job.run_id
        params = task.get("with") or {}
        version = self._version(run)
        workflows, problems = self._load_n8n_workflows(job, task)
        if problems:
            raise ActionError(self._problems_text(problems, "not packaged"))
        artifact = self.env["release.artifact"]._create_n8n_package(run, job, version, workflows)
        listing = "\n".join(
            f"  {entry['file']}: {name} {entry['version'][:12]} {'active' if entry['active'] else 'inactive'}"
            for name, entry in sorted(workflows.items())
        )
        source = self._source(params, "workflows")
        return f"{artifact.name}: {len(workflows)} workflow(s) from '{source}', {artifact.size} bytes, sha256 {artifact.sha256}\n{listing}"

    # -- Odoo targets -----------------------------------------------------------------------
    def _action_odoo_deploy(self, job, task):
        environment, artifact = self._target(job)
        approval = job.run_id.approval_ids.filtered(lambda a: a.stage_key == job.stage_key and a.state == "approved")[-1:]
        deployment = environment._deploy(artifact, run=job.run_id, job=job, approved_digest=approval.plan_digest or None)
        return self._deploy_log(environment, artifact, deployment)

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

    # -- n8n targets ------------------------------------------------------------------------
    def _action_n8n_validate(self, job, task):
        """Check every workflow file of the commit: JSON, structure, trigger when active, secrets.
        Problems are recorded as findings (tool n8n-validate) and fail the job, all listed."""
        workflows, problems = self._load_n8n_workflows(job, task)
        self.env["release.finding"]._record(
            job,
            [
                Finding(N8N_TOOL, rule, "critical", file, 0, message, fingerprint(N8N_TOOL, rule, file, f"{node}\x1f{message}"))
                for file, rule, node, message in problems
            ],
        )
        if problems:
            raise ActionError(self._problems_text(problems, "not valid"))
        listing = "\n".join(
            f"  {entry['file']}: {name} {entry['version'][:12]} {'active' if entry['active'] else 'inactive'}"
            for name, entry in sorted(workflows.items())
        )
        return f"{len(workflows)} workflow(s) valid, no secret found:\n{listing}"

    def _action_n8n_deploy(self, job, task):
        environment, artifact = self._target(job, "n8n_workflows")
        deployment = environment._deploy(artifact, run=job.run_id, job=job)
        return self._deploy_log(environment, artifact, deployment)

    def _load_n8n_workflows(self, job, task):
        """``(workflows, problems)`` of the ``*.json`` files under ``with.source`` (default
        ``workflows``) at the run's commit: ``{name: {file, active, version, workflow}}`` for the
        files without problem, and ``[(file, rule, node, "file: path: message")]``.

        A workflow is active when its file says ``"active": true`` or ``with.active`` names it."""
        run = job.run_id
        params = task.get("with") or {}
        source = self._source(params, "workflows")
        wanted = params.get("active") or []
        if not isinstance(wanted, list) or not all(isinstance(name, str) for name in wanted):
            raise ActionError(f"task {task['name']}: with.active: expected a list of workflow names")
        workdir = tempfile.mkdtemp(prefix="igr-n8n-")
        try:
            tree = self._export_tree(run, workdir)
            folder = os.path.join(tree, source)
            files = sorted(
                os.path.relpath(os.path.join(root, name), tree)
                for root, _dirs, names in os.walk(folder)
                for name in names
                if name.endswith(".json")
            )
            if not files:
                raise ActionError(f"no workflow file (*.json) under '{source}' at {run.commit_sha[:12]}")
            workflows, problems, named = {}, [], {}
            for file in files:
                with open(os.path.join(tree, file), "rb") as handle:
                    text = handle.read()
                entry, found = self._check_workflow(text, file, wanted, named)
                problems += found
                if entry:
                    workflows[entry["workflow"]["name"]] = entry
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        problems += [
            (source, "unknown-workflow", "", f"task {task['name']}: with.active: no workflow named {name!r} under '{source}'")
            for name in wanted
            if name not in named
        ]
        return workflows, problems

    @api.model
    def _check_workflow(self, text, file, wanted, named):
        """``(entry or None, problems)`` of one workflow file; ``named`` maps names to files seen."""
        try:
            workflow = load_workflow(text, file)
        except WorkflowError as exc:
            return None, [(file, "unreadable", "", str(exc))]
        flag = workflow.get("active", False)
        problems = [] if isinstance(flag, bool) else [(file, "bad-type", "", f"{file}: active: must be true or false, got {flag!r}")]
        name = workflow.get("name")
        active = flag is True or name in wanted
        problems += [(file, p.rule, p.node, str(p)) for p in validate(workflow, file, active)]
        problems += [(file, "secret", f.node, f"{file}: {f} (use an n8n credential or an expression)") for f in scan_secrets(workflow)]
        if isinstance(name, str) and name in named:
            message = f"{file}: name: {named[name]} has the same workflow name {name!r}; n8n workflows are matched by name"
            problems.append((file, "duplicate-workflow-name", "", message))
        if isinstance(name, str):
            named.setdefault(name, file)
        if problems:
            return None, problems
        normalised = normalise(workflow)
        return {"file": file, "active": active, "version": version_of(normalised), "workflow": normalised}, []

    @staticmethod
    def _problems_text(problems, what):
        files = len({file for file, _rule, _node, _message in problems})
        lines = "\n  ".join(message for _file, _rule, _node, message in problems)
        return f"workflows {what}: {len(problems)} problem(s) in {files} file(s):\n  {lines}"

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

    def _target(self, job, kind="odoo_modules"):
        stage = next(s for s in job.run_id._spec()["stages"] if s["key"] == job.stage_key)
        environment = self.env["release.environment"].search([("code", "=", stage.get("environment"))], limit=1)
        if not environment:
            raise ActionError(f"stage {stage['name']} deploys to no environment")
        artifact = self._package_of(job.run_id, kind)
        if not artifact:
            if kind == "n8n_workflows":
                raise ActionError(
                    "no workflows to deploy: this run built no n8n package (artifact.package or artifact.publish with format: n8n-workflows)"
                )
            raise ActionError("no package to deploy: this run built none (artifact.package)")
        return environment, artifact
