"""The demo's story: a release goes the Git-flow way through the hook (develop, release/1.1,
main), each step verified where it happened, then a broken release is put back."""

import json
import os
import re
import subprocess
import time

from influencegen_release.engine.delivery.n8n.workflow import normalise, version_of

from ..n8n_server import manual_workflow
from ..odoo_server import Api, databases
from .stack import MODULE, WORKFLOW, Stack, git
from .timeline import DemoFailure


class Demo(Stack):
    """The people of the story (developer, QA Lead, Product Owner, CAB) and what they check."""

    def push(self, refspec, *extra):
        started = time.monotonic()
        result = subprocess.run(["git", "-C", self.clone, "push", "origin", refspec, *extra], capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        hook = "; ".join(line.replace("remote: influencegen: ", "").split(": http")[0] for line in result.stderr.splitlines() if " run #" in line)
        if result.returncode:
            raise DemoFailure(f"git push {refspec} failed: {result.stderr}")
        self.say("developer", f"git push {refspec} ({seconds:.1f} s): {hook or 'no hook output'}")
        return hook

    def runs_of(self, sha, branch):
        api = Api()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = api("release.run", "search_read", [("commit_sha", "=", sha), ("ref", "=", f"refs/heads/{branch}")], ["pipeline_id"])
            runs = {self.pipeline_code(row["pipeline_id"][0]): row["id"] for row in rows}
            if {"PL-ODOO-MOD", "PL-N8N-WF"} <= set(runs):
                return runs
            time.sleep(0.5)
        raise DemoFailure(f"the push of {branch} did not start PL-ODOO-MOD and PL-N8N-WF (runs: {rows})")

    def pipeline_code(self, pipeline_id):
        return Api()("release.pipeline", "read", [pipeline_id], ["code"])[0]["code"]

    def wait(self, run_id, states, timeout=1800):
        status = Api().wait_run(run_id, states=(*states, "succeeded", "failed", "cancelled"), timeout=timeout)
        return status

    def expect(self, status, state, what):
        if status["state"] != state:
            failing = [f"{j['name']}: {j['reason']}" for s in status["stages"] for j in s["jobs"] if j["state"] == "failed"]
            gates = [f"{s['name']}/{g['name']}: {g['result']}" for s in status["stages"] for g in s["gates"] if g["result"] == "failed"]
            raise DemoFailure(f"{what}: run {status['id']} ({status['pipeline']}) is {status['state']}, expected {state}; failed jobs {failing}; failed gates {gates}")

    def pending(self, status, stage_prefix):
        for approval in status["approvals"]:
            if approval["stage"].startswith(stage_prefix) and approval["state"] == "pending":
                return approval
        raise DemoFailure(f"run {status['id']}: no pending approval on '{stage_prefix}' ({status['approvals']})")

    def decide(self, login, approval, comment):
        self.as_user(login)("release.approval", "api_decide", approval["id"], "approve", comment)
        self.say(login, f"approves '{approval['stage']}' of run {approval.get('run', '')}: {comment}")

    def uat(self, login, run_id, tier="dev"):
        api = self.as_user(login)
        [env_id] = Api()("release.environment", "search", [("code", "=", f"{'odoo' if 'ODOO' in self.pipeline_of(run_id) else 'n8n'}-{tier}")])
        session = api("release.uat.session", "create", {"run_id": run_id, "environment_id": env_id, "scenario_ids": [
            (0, 0, {"name": "Campaign brief to influencer shortlist", "result": "pass", "note": "as expected"}),
            (0, 0, {"name": "Approval dashboards load for every role", "result": "pass", "note": "as expected"})]})
        api("release.uat.session", "action_submit", [session])
        self.say(login, f"UAT session {session} on run {run_id}: 2 scenarios passed, submitted")

    def pipeline_of(self, run_id):
        return Api()("release.run", "read", [run_id], ["pipeline_id"])[0]["pipeline_id"][1]

    def artifact(self, run_id, kind):
        rows = Api()("release.artifact", "search_read", [("run_id", "=", run_id), ("kind", "=", kind)], ["name", "sha256", "version", "manifest_json"])
        if not rows:
            raise DemoFailure(f"run {run_id} published no {kind} artifact")
        row = rows[0]
        row["manifest"] = json.loads(row["manifest_json"] or "{}")
        return row

    def check_odoo(self, tier, artifact, label):
        version, checksum, state = self.installed(tier)
        expected = artifact["manifest"]["modules"][MODULE]
        self.timeline.check((state, version, checksum) == ("installed", expected["version"], expected["checksum"]),
                            f"Odoo {tier} runs {MODULE} {version}, checksum {checksum[:12]} = {label} {artifact['name']}",
                            (state, version, checksum))

    def check_n8n(self, tier, expected_version, label):
        found = self.workflow_on(tier)
        self.timeline.check(found is not None and found[0] == expected_version,
                            f"n8n {tier} holds '{WORKFLOW}' version {expected_version[:12]} ({label})", found)

    def deployments(self, code):
        return Api()("release.deployment", "search_read", [("environment_id.code", "=", code)],
                     ["version", "outcome", "backup_ref", "is_rollback", "error"], order="id")

    def checklists(self, run_id, task, login):
        """Confirm the open items of ``task`` as ``login`` once the run waits for them."""
        api = Api()
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            status = api("release.run", "api_status", run_id)
            items = [i for i in status["checklists"] if i["task"] == task and i["state"] == "todo"]
            if items:
                self.as_user(login)("release.checklist.item", "api_check", [i["id"] for i in items], "done", "")
                self.say(login, f"checklist {task}: {len(items)} item(s) done")
                return
            if status["state"] in ("succeeded", "failed", "cancelled"):
                self.expect(status, "waiting_checklist", f"checklist {task}")
            time.sleep(0.5)
        raise DemoFailure(f"run {run_id}: checklist {task} never opened")

    # -- the story -----------------------------------------------------------------------------
    def change(self, version, message, workflow, migration=None):
        manifest = os.path.join(self.clone, "addons", MODULE, "__manifest__.py")
        with open(manifest, encoding="utf-8") as handle:
            text = handle.read()
        text = re.sub(r'"version": "[^"]+"', f'"version": "{version}"', text, count=1)
        with open(manifest, "w", encoding="utf-8") as handle:
            handle.write(text)
        if migration:
            path = os.path.join(self.clone, "addons", MODULE, "migrations", version, "pre-migrate.py")
            os.makedirs(os.path.dirname(path))
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(f'def migrate(cr, version):\n    raise Exception("{migration}")\n')
        os.makedirs(os.path.join(self.clone, "workflows"), exist_ok=True)
        with open(os.path.join(self.clone, "workflows", "lead-sync.json"), "w", encoding="utf-8") as handle:
            json.dump(workflow, handle, indent=2)
        git("-C", self.clone, "add", "-A")
        git("-C", self.clone, "commit", "-q", "-m", message)
        return git("-C", self.clone, "rev-parse", "HEAD")

    def release(self):
        sha = self.change("18.0.1.0.1", "Release 1.1.0: version bump and the lead-sync workflow", lead_sync("crm"))
        git("-C", self.clone, "tag", "v1.1.0")
        expected_workflow = version_of(normalise(lead_sync("crm")))

        # develop: CI in Docker, packaging, automatic deploy to Development.
        self.push("HEAD:develop", "v1.1.0")
        runs = self.runs_of(sha, "develop")
        for code, run_id in sorted(runs.items()):
            status = self.wait(run_id, ())
            self.expect(status, "succeeded", f"{code} on develop")
            self.say("control plane", f"{code} run {run_id} on develop succeeded: " + stages_line(status))
        odoo_artifact = self.artifact(runs["PL-ODOO-MOD"], "odoo_modules")
        self.timeline.check(odoo_artifact["version"] == "1.1.0", f"artifact {odoo_artifact['name']} is version 1.1.0 (tag v1.1.0)", odoo_artifact["version"])
        self.check_odoo("dev", odoo_artifact, "the package of run {}".format(runs["PL-ODOO-MOD"]))
        self.check_n8n("dev", expected_workflow, "PL-N8N-WF run {}".format(runs["PL-N8N-WF"]))
        self.timeline.check(self.installed("staging")[1] == self.base_checksum, "Odoo staging still runs the base release")

        # release/1.1: UAT sign-off by the QA Lead and the Product Owner, deploy to Staging.
        self.push("HEAD:release/1.1")
        runs = self.runs_of(sha, "release/1.1")
        self.sign_off_staging(runs)
        for code, run_id in sorted(runs.items()):
            status = self.wait(run_id, ())
            self.expect(status, "succeeded", f"{code} on release/1.1")
            self.say("control plane", f"{code} run {run_id} on release/1.1 succeeded: " + stages_line(status))
        staging_artifact = self.artifact(runs["PL-ODOO-MOD"], "odoo_modules")
        self.timeline.check(staging_artifact["sha256"] == odoo_artifact["sha256"],
                            f"the release branch rebuilt the same package, byte for byte (sha256 {odoo_artifact['sha256'][:12]})")
        self.check_odoo("staging", staging_artifact, "the package")
        self.check_n8n("staging", expected_workflow, "PL-N8N-WF run {}".format(runs["PL-N8N-WF"]))

        # main: Go/No-Go by two CAB members in the window, checklists, deploy to Production.
        self.push("HEAD:main")
        runs = self.runs_of(sha, "main")
        for code, run_id in sorted(runs.items()):
            status = self.wait(run_id, ("waiting_approval",))
            self.expect(status, "waiting_approval", f"{code} on main")
            go = self.pending(status, "Deploy to Production")
            go["run"] = run_id
            self.say("control plane", f"{code} run {run_id}: Go/No-Go awaits {go['awaiting']} (artifact {str(go['artifact_sha256'])[:12]})")
            self.decide("cab1", go, "Go: UAT passed on staging, rollback artifact 1.0.0 identified")
            self.decide("cab2", go, "Go: inside the maintenance window")
        self.checklists(runs["PL-ODOO-MOD"], "prod_precutover", "release_manager")
        self.checklists(runs["PL-ODOO-MOD"], "prod_postvalid", "qa_lead")
        for code, run_id in sorted(runs.items()):
            status = self.wait(run_id, ())
            self.expect(status, "succeeded", f"{code} on main")
            self.say("control plane", f"{code} run {run_id} on main succeeded: " + stages_line(status))
        prod_artifact = self.artifact(runs["PL-ODOO-MOD"], "odoo_modules")
        self.check_odoo("prod", prod_artifact, "the package")
        self.check_n8n("prod", expected_workflow, "PL-N8N-WF run {}".format(runs["PL-N8N-WF"]))
        [*_, prod] = self.deployments("odoo-prod")
        backup = prod["backup_ref"] or ""  # a copy of the database on its server, else a dump file
        kept = databases(backup.removeprefix("database:")) if backup.startswith("database:") else os.path.isfile(backup)
        self.timeline.check(prod["outcome"] == "deployed" and bool(kept),
                            f"Production was backed up before the upgrade: {prod['backup_ref']}", prod)
        return odoo_artifact, expected_workflow

    def sign_off_staging(self, runs):
        """UAT evidence, then the staging sign-offs of both runs, in their rules' order."""
        for code, signers in (
            ("PL-ODOO-MOD", (("qa_lead", "UAT passed on Development"), ("product_owner", "Demo accepted"))),
            ("PL-N8N-WF", (("integration_lead", "Lead sync tested against Staging Odoo"), ("qa_lead", "UAT passed"))),
        ):
            run_id = runs[code]
            status = self.wait(run_id, ("waiting_approval",))
            self.expect(status, "waiting_approval", f"{code} on the release branch")
            self.uat("qa_lead", run_id)
            approval = self.pending(status, "Deploy to Staging")
            approval["run"] = run_id
            for login, comment in signers:
                self.decide(login, approval, comment)

    def broken_release(self, good_artifact, good_workflow):
        # n8n refuses to activate it: a node type it does not know (validation cannot know
        # every installed node), in a workflow with a schedule trigger, asked to be active.
        broken = lead_sync("crm-v2")
        broken["nodes"][0].update(type="n8n-nodes-base.scheduleTrigger", typeVersion=1.2,
                                  parameters={"rule": {"interval": [{"field": "hours", "hoursInterval": 6}]}})
        broken["nodes"][1]["type"] = "n8n-nodes-base.doesNotExist"
        broken["active"] = True
        sha = self.change("18.0.1.0.2", "Release 1.1.1: a migration that fails", broken, migration="demo: this migration fails on purpose")
        git("-C", self.clone, "tag", "v1.1.1")
        self.push("HEAD:release/1.2", "v1.1.1")
        runs = self.runs_of(sha, "release/1.2")
        self.sign_off_staging(runs)
        for code, run_id in sorted(runs.items()):
            status = self.wait(run_id, ())
            self.expect(status, "failed", f"the broken {code} on release/1.2")
            deploy = [j for s in status["stages"] for j in s["jobs"] if j["state"] == "failed"]
            self.say("control plane", f"{code} run {run_id} failed as intended: {deploy[0]['name']}: {(deploy[0]['reason'] or '')[:160]}")
        [*_, odoo_deploy] = self.deployments("odoo-staging")
        [*_, n8n_deploy] = self.deployments("n8n-staging")
        self.timeline.check(odoo_deploy["version"] == "1.1.1" and odoo_deploy["outcome"] in ("restored", "failed"),
                            f"the 1.1.1 deploy to Odoo staging is recorded as {odoo_deploy['outcome']}", odoo_deploy)
        self.check_odoo("staging", good_artifact, "1.1.0 again, code and database restored from the backup:")
        self.timeline.check(n8n_deploy["outcome"] == "failed", "the n8n staging deploy of 1.1.1 is recorded as failed", n8n_deploy)
        self.check_n8n("staging", good_workflow, "1.1.0 again: n8n refused the broken workflow and the previous one was put back")
        self.check_odoo("prod", good_artifact, "untouched by the broken release:")



def stages_line(status):
    return ", ".join(f"{s['name']} {s['state']}" for s in status["stages"])


def lead_sync(value):
    """A small manual workflow (inactive): the demo's n8n release."""
    return manual_workflow(WORKFLOW, "0f4c8f5e", "Tag source", "source", value)
