import os
import shutil
import tempfile

from odoo import api, models

from ....engine.delivery.n8n.client import N8nError
from ....engine.delivery.n8n.workflow import WorkflowError, load_workflow, normalise, scan_secrets, validate, version_of
from ....engine.quality.reports import Finding, fingerprint
from ...run.release_action import ActionError

N8N_TOOL = "n8n-validate"  # the tool name of n8n.validate's findings (as the n8n-structure report)


class ReleaseActionN8n(models.AbstractModel):
    """Built-in actions of n8n instances (``n8n.*``): validate the commit's workflow files,
    deploy the run's package to the stage's environment; and the n8n package that
    ``artifact.package`` / ``artifact.publish`` build with ``format: n8n-workflows``."""

    _name = "release.action.n8n"
    _inherit = "release.action"
    _description = "Built-in actions: n8n workflows"

    @api.model
    def _action_errors(self):
        return (*super()._action_errors(), N8nError, WorkflowError)

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
        return f"{len(workflows)} workflow(s) valid, no secret found:\n{self._listing(workflows)}"

    def _action_n8n_deploy(self, job, task):
        environment, artifact = self._deploy_target(
            job,
            "n8n_workflows",
            "no workflows to deploy: this run built no n8n package (artifact.package or artifact.publish with format: n8n-workflows)",
        )
        approval = job.run_id.approval_ids.filtered(lambda a: a.stage_key == job.stage_key and a.state == "approved")[-1:]
        deployment = environment._deploy(artifact, run=job.run_id, job=job, approved_digest=approval.plan_digest or None)
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
    def _listing(workflows):
        return "\n".join(
            f"  {entry['file']}: {name} {entry['version'][:12]} {'active' if entry['active'] else 'inactive'}"
            for name, entry in sorted(workflows.items())
        )

    @staticmethod
    def _problems_text(problems, what):
        files = len({file for file, _rule, _node, _message in problems})
        lines = "\n  ".join(message for _file, _rule, _node, message in problems)
        return f"workflows {what}: {len(problems)} problem(s) in {files} file(s):\n  {lines}"

    def _package_n8n(self, job, task):
        """The commit's workflows, checked, normalised and versioned, as one JSON package."""
        run = job.run_id
        params = task.get("with") or {}
        version = self._version(run)
        workflows, problems = self._load_n8n_workflows(job, task)
        if problems:
            raise ActionError(self._problems_text(problems, "not packaged"))
        artifact = self.env["release.artifact"]._create_n8n_package(run, job, version, workflows)
        source = self._source(params, "workflows")
        return f"{artifact.name}: {len(workflows)} workflow(s) from '{source}', {artifact.size} bytes, sha256 {artifact.sha256}\n{self._listing(workflows)}"
