import hashlib
import json
import os
import shutil
import tempfile
import uuid

from odoo import api, models

from ....engine.delivery.iac import plan as iac_plan
from ....engine.delivery.iac.ansible_runner import (
    IacCall,
    IacRunError,
    facts_command,
    playbook_command,
    terraform_command,
)
from ....engine.delivery.iac.ansible_runner import run as run_tool
from ....engine.execution import workspace
from ....engine.execution.docker_runner import RunnerError
from ....engine.quality.reports import Finding, fingerprint
from ....engine.vocabulary import DEPLOYMENT_SUCCESSFUL as SUCCESSFUL
from ...run.release_action import ActionError

IAC_PLAN_FORMAT = 1
IAC_IMAGE = "influencegen/runner-iac:bookworm"
IAC_DEFAULTS = {
    "playbook": "ansible/site.yml",
    "inventory": "ansible/inventories/{environment}.yml",
    "terraform": "terraform",
    "image": IAC_IMAGE,
    "terraform_image": IAC_IMAGE,
}
PARITY_TOOL = "iac-parity"  # the tool name of iac.validate's findings


class ReleaseActionIac(models.AbstractModel):
    """Infrastructure as code: ``iac.plan``, ``iac.apply`` and ``iac.validate``.

    Ansible and Terraform run in a runner container (engine/delivery/iac/ansible_runner.py explains why), on
    the run's exact commit. The plan of every environment the run applies to is one immutable
    artifact (``iac_plan``); approvals bind to it (the run's artifact checksum, and the plan
    digest of their environment), and ``iac.apply`` plans again and refuses a different plan."""

    _name = "release.action.iac"
    _inherit = "release.action"
    _description = "Built-in actions: infrastructure as code"

    # -- actions ------------------------------------------------------------------------------
    def _action_iac_plan(self, job, task):
        """Plan (``--check --diff`` / ``terraform plan``) every environment the run applies to."""
        run = job.run_id
        params = self._iac_params(task)
        environments = self._iac_environments(job, params)
        with self._iac_tree(run) as tree:
            entries = {env.code: self._iac_plan_for(job, task, env, tree.path, params) for env in environments}
        artifact = self._iac_store_plan(job, params, entries)
        return f"{artifact.name}: sha256 {artifact.sha256}\n{artifact.plan}"

    def _action_iac_apply(self, job, task):
        """Plan again, refuse when the plan differs from the approved one, then apply it
        (``release.deployer.iac``); the apply is recorded in the environment's history."""
        run = job.run_id
        environment = self._iac_stage_environment(job)
        artifact = self._iac_plan_artifact(run)
        if not self._iac_document(artifact)["environments"].get(environment.code):
            raise ActionError(f"the plan {artifact.name} has no plan for {environment.code}: add it to the iac.plan task's environments")
        approval = run.approval_ids.filtered(lambda a: a.stage_key == job.stage_key and a.state == "approved")[-1:]
        if approval and not approval.plan_digest:
            raise ActionError(f"{approval.display_name} was approved without a plan ({approval.plan or 'none'}): nothing is applied")
        deployment = environment._deploy(
            artifact, run=run, job=job, rollback_of=run.rollback_of_deployment_id or None, approved_digest=approval.plan_digest or None
        )
        if deployment.outcome not in SUCCESSFUL:
            raise ActionError(deployment.error)
        return "\n".join([deployment.timeline or "", f"applied: {deployment.outcome}", deployment.plan or ""])

    def _action_iac_validate(self, job, task):
        """REQ-DI-ENVPAR: gather the local facts of the stage's environment and of
        ``with.compare_with`` and report every difference as a finding (tool iac-parity)."""
        run = job.run_id
        params = self._iac_params(task)
        environment = self._iac_stage_environment(job)
        other_code = (task.get("with") or {}).get("compare_with")
        other = self.env["release.environment"].search([("code", "=", other_code), ("kind", "=", "iac")], limit=1)
        if not other:
            raise ActionError(f"task {task['name']}: with.compare_with: {other_code!r} is not an infrastructure environment")
        with self._iac_tree(run) as tree:
            facts = {env.code: self._iac_facts(job, task, env, tree.path, params) for env in environment | other}
        differences = iac_plan.facts_parity(facts)
        report = {"environments": facts, "differences": [{"host": h, "fact": k, "values": v} for h, k, v in differences]}
        self._iac_store_report(job, f"{run.pipeline_id.code}-{run.commit_sha[:12]}-parity-{environment.code}.json", report)
        self.env["release.finding"]._record(
            job,
            [
                Finding(
                    PARITY_TOOL,
                    "missing" if None in values.values() else "drift",
                    "medium",
                    host,
                    0,
                    f"{host}: {key}: " + ", ".join(f"{env} {json.dumps(value)}" for env, value in values.items()),
                    fingerprint(PARITY_TOOL, "drift", host, key),
                )
                for host, key, values in differences
            ],
        )
        lines = [f"facts of {environment.code} compared with {other.code}: {len(differences)} difference(s)"]
        lines += [f"  {host}: {key}: " + ", ".join(f"{env} {json.dumps(value)}" for env, value in values.items()) for host, key, values in differences]
        if differences and (task.get("with") or {}).get("fail_on_drift"):
            raise ActionError("\n".join(lines))
        return "\n".join(lines)

    # -- planning -----------------------------------------------------------------------------
    def _iac_params(self, task):
        given = task.get("with") or {}
        params = {key: given.get(key, default) for key, default in IAC_DEFAULTS.items()}
        for key, value in params.items():
            if not isinstance(value, str) or not value.strip():
                raise ActionError(f"task {task['name']}: with.{key}: expected a non-empty string, got {value!r}")
        for key in ("playbook", "inventory", "terraform"):
            if params[key].startswith("/") or ".." in params[key].split("/"):
                raise ActionError(f"task {task['name']}: with.{key}: {params[key]!r} must be a relative path inside the repository")
        if given.get("environments") is not None and not (
            isinstance(given["environments"], list) and all(isinstance(code, str) for code in given["environments"])
        ):
            raise ActionError(f"task {task['name']}: with.environments: expected a list of environment codes")
        params["environments"] = given.get("environments")
        return params

    def _iac_environments(self, job, params):
        """``with.environments``, else the infrastructure environments of the run's stages that apply to its ref."""
        run = job.run_id
        codes = params["environments"]
        if codes is None:
            # The environments fixed on the jobs at the run's creation, in stage order.
            applying = run.job_ids.filtered(lambda j: j.state != "skipped").sorted(lambda j: (j.stage_sequence, j.sequence, j.id))
            codes = applying.environment_id.mapped("code")
        environments = self.env["release.environment"]
        for code in dict.fromkeys(codes):
            environment = environments.search([("code", "=", code), ("kind", "=", "iac")], limit=1)
            if not environment:
                raise ActionError(f"{code!r} is not an infrastructure environment (kind iac)")
            environments |= environment
        if not environments:
            raise ActionError(f"no infrastructure environment to plan: no stage of this run applies to {run.ref}")
        return environments

    def _iac_plan_for(self, job, task, environment, tree, params, workspace_dir=None):
        """``{params, plans: {ansible, terraform}, digest}`` of one environment at the run's commit."""
        inventory = params["inventory"].replace("{environment}", environment.code)
        plans, sha = {}, job.run_id.commit_sha[:12]
        if os.path.isfile(os.path.join(tree, params["playbook"])):
            if not os.path.isfile(os.path.join(tree, inventory)):
                raise ActionError(f"{environment.code}: the inventory {inventory} is not in commit {sha}")
            command = playbook_command(inventory, params["playbook"], check=True)
            doc = self._iac_tool(job, task, environment, tree, command, params["image"], workspace_dir=workspace_dir)
            plans["ansible"] = self._iac_parse(iac_plan.ansible_plan, doc, f"{environment.code}: ansible-playbook --check")
        if os.path.isdir(os.path.join(tree, params["terraform"])):
            var_file = f"{params['terraform']}/{environment.code}.tfvars"
            command = terraform_command(params["terraform"], var_file if os.path.isfile(os.path.join(tree, var_file)) else None)
            doc = self._iac_tool(job, task, None, tree, command, params["terraform_image"], workspace_dir=workspace_dir)
            plans["terraform"] = self._iac_parse(iac_plan.terraform_plan, doc, f"{environment.code}: terraform show -json")
        if not plans:
            raise ActionError(f"nothing to plan in commit {sha}: neither {params['playbook']} nor {params['terraform']}/")
        digests = {tool: iac_plan.digest(plan) for tool, plan in plans.items()}
        return {
            "params": {k: v for k, v in params.items() if k != "environments"},
            "inventory": inventory,
            "plans": plans,
            "digest": hashlib.sha256(iac_plan.canonical(digests).encode()).hexdigest(),
        }

    @api.model
    def _iac_parse(self, parser, doc, where):
        try:
            return parser(doc, where)
        except iac_plan.PlanError as exc:
            raise ActionError(str(exc)) from exc

    def _iac_apply_tools(self, job, task, environment, tree, params, fresh):
        """Apply what ``fresh`` planned; ``{tool: plan of what was done}``."""
        applied = {}
        if "ansible" in fresh["plans"]:
            command = playbook_command(fresh["inventory"], params["playbook"], check=False)
            doc = self._iac_tool(job, task, environment, tree.path, command, params["image"], writable=True, workspace_dir=tree.work)
            applied["ansible"] = self._iac_parse(iac_plan.ansible_plan, doc, f"{environment.code}: ansible-playbook")
        if "terraform" in fresh["plans"]:
            # The saved plan the re-plan just wrote (and whose digest matched) is what Terraform applies.
            chdir = f"-chdir=/src/{params['terraform']}"
            command = f"terraform {chdir} apply -input=false /workspace/tfplan >&2 && terraform {chdir} show -json /workspace/tfplan > /workspace/result.json"
            self._iac_tool(job, task, None, tree.path, command, params["terraform_image"], workspace_dir=tree.work)
            applied["terraform"] = fresh["plans"]["terraform"]
        return applied

    def _iac_facts(self, job, task, environment, tree, params):
        inventory = params["inventory"].replace("{environment}", environment.code)
        if not os.path.isfile(os.path.join(tree, inventory)):
            raise ActionError(f"{environment.code}: the inventory {inventory} is not in commit {job.run_id.commit_sha[:12]}")
        doc = self._iac_tool(job, task, environment, tree, facts_command(inventory), params["image"])
        return self._iac_parse(iac_plan.facts_of, doc, f"{environment.code}: ansible -m setup")

    def _iac_tool(self, job, task, environment, tree, command, image, writable=False, workspace_dir=None):
        """Run ``command`` in a runner container; its JSON result (ActionError when there is none)."""
        runner = self.env["release.runner"].search([("active", "=", True)], order="id", limit=1)
        if not runner:
            raise ActionError("no active runner host to run Ansible/Terraform on (Release > Configuration > Runner hosts)")
        work = workspace_dir or self._iac_workspace(tempfile.mkdtemp(prefix="ws-", dir=self._iac_root()))
        call = IacCall(
            name=f"igr-{self.env.cr.dbname}-iac-{job.id}-{uuid.uuid4().hex[:8]}",
            image=image,
            command=command,
            source_dir=tree,
            workspace_dir=work,
            target_dir=environment._deployer()._folder(environment) if environment else "",
            target_writable=writable,
            labels={"influencegen.iac": self.env.cr.dbname, "influencegen.iac.job": str(job.id)},
            timeout=task.get("timeout") or 600,
            cpus=task.get("cpus") or 1.0,
            memory_mb=task.get("memory") or 512,
        )
        try:
            code, result, log = run_tool(runner._client(), call)
        except (IacRunError, RunnerError) as exc:
            raise ActionError(str(exc)) from exc
        finally:
            if not workspace_dir:
                shutil.rmtree(work, ignore_errors=True)
        if result is None or (code and "plays" not in result):
            where = environment.code if environment else "terraform"
            raise ActionError(f"{where}: {command.split()[0]} ended with exit code {code} and no result:\n{log.strip()[-4000:]}")
        return result

    # -- artifacts ----------------------------------------------------------------------------
    def _iac_store_plan(self, job, params, entries):
        run = job.run_id
        document = {"format": IAC_PLAN_FORMAT, "commit": run.commit_sha, "environments": entries}
        content = (json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()
        manifest = {
            code: {"digest": e["digest"], "inventory": e["inventory"], "summary": {t: p["summary"] for t, p in e["plans"].items()}}
            for code, e in entries.items()
        }
        return self.env["release.artifact"]._store(
            f"{run.pipeline_id.code}-{run.commit_sha[:12]}-plan.json",
            content,
            run,
            job,
            kind="iac_plan",
            mimetype="application/json",
            version=run.version or run.commit_sha[:12],
            plan="\n".join(line for code in sorted(entries) for line in self._iac_text(entries[code], code)),
            manifest_json=json.dumps(manifest, sort_keys=True),
        )

    def _iac_store_report(self, job, name, report):
        content = (json.dumps(report, sort_keys=True, indent=1) + "\n").encode()
        return self.env["release.artifact"]._store(name, content, job.run_id, job, kind="report", mimetype="application/json")

    @api.model
    def _iac_text(self, entry, code=None):
        """What an approver reads of one environment's plan: digest, counts, changes."""
        head = f"{code}: " if code else ""
        lines = [f"{head}plan digest {entry['digest']} (inventory {entry['inventory']})"]
        for tool in sorted(entry["plans"]):
            lines += ["  " + line for line in iac_plan.describe(entry["plans"][tool])]
        return lines

    def _iac_plan_artifact(self, run):
        artifact = run.artifact_ids.filtered(lambda a: a.kind == "iac_plan").sorted("id")[-1:]
        if not artifact:
            raise ActionError("no infrastructure plan in this run: an iac.plan task comes before iac.apply")
        return artifact

    @api.model
    def _iac_document(self, artifact):
        """The plan document, read back; ValueError when its bytes no longer match its sha256."""
        content = artifact.attachment_id.raw or b""
        if hashlib.sha256(content).hexdigest() != artifact.sha256:
            raise ActionError(f"the plan {artifact.name} does not match its recorded sha256 {artifact.sha256[:12]}: nothing is applied")
        document = json.loads(content)
        if document.get("format") != IAC_PLAN_FORMAT:
            raise ActionError(f"the plan {artifact.name} is not of format {IAC_PLAN_FORMAT}")
        return document

    # -- helpers ------------------------------------------------------------------------------
    def _iac_stage_environment(self, job):
        """The stage's environment, fixed on the job when the run was created: an iac one."""
        environment = job.environment_id
        if not environment or environment._deployer()._name != "release.deployer.iac":
            raise ActionError(f"stage {job.stage_id.name} has no infrastructure environment (kind iac)")
        return environment

    def _iac_root(self):
        root = self.env["release.settings"]._path("iac")
        os.makedirs(root, exist_ok=True)
        return root

    @staticmethod
    def _iac_workspace(path):
        """A folder the container's user (uid 1000) may write."""
        try:
            os.chown(path, workspace.JOB_UID, workspace.JOB_UID)
        except PermissionError:
            os.chmod(path, 0o777)  # nosec B103 - not root: see workspace.prepare
        return path

    def _iac_tree(self, run):
        return _Tree(self, run)


class _Tree:
    """The run's commit exported to a temporary folder (``path``) with a workspace (``work``)."""

    def __init__(self, action, run):
        self.action, self.run = action, run

    def __enter__(self):
        self.base = tempfile.mkdtemp(prefix="run-", dir=self.action._iac_root())
        self.path = self.action._export_tree(self.run, self.base)
        os.makedirs(os.path.join(self.base, "workspace"))
        self.work = self.action._iac_workspace(os.path.join(self.base, "workspace"))
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.base, ignore_errors=True)
        return False
