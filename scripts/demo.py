"""InfluenceGen Release delivers itself, end to end, on this machine (``scripts/demo``).

What it builds, all on 127.0.0.1 and in a fresh work folder:

* a bare Git repository holding this project (HEAD of the checkout), with the product's
  post-receive hook, and a developer's clone that pushes to it;
* the control plane: an Odoo 18 server with the addon, one user per role, the repository and
  its trigger user (with a 90-day key made by the Release Manager's "Generate key");
* three target Odoo 18 databases (Development, Staging, Production), each on its own port and
  each running the addon from its managed folder, first unpacked from the base commit;
* three n8n instances (Development, Staging, Production).

Then the release of a change goes the Git-flow way, through the hook each time: a push to
``develop`` (CI in Docker, packaging, automatic deploy to Development), to ``release/1.1``
(UAT evidence and sign-off by the QA Lead and the Product Owner, deploy to Staging), and to
``main`` (Go/No-Go by two CAB members inside the maintenance window, the pre-cutover
checklist, deploy to Production with a backup, smoke test and post-cutover validation).
PL-ODOO-MOD and PL-N8N-WF both follow each push. Last, a deliberately broken release fails
on Staging (a failing migration; a workflow n8n refuses) and is put back.

Every step is verified where it happened: module versions and code checksums read from each
target database, workflow versions read from each n8n, backups on disk. The timeline is
printed; the exit code is 0 only when every check passed.

``--quick`` (the test suite's variant) narrows PL-ODOO-MOD's two test tasks to a few tests
through the repository's own pipeline file; every boundary is still crossed.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import tests  # noqa: E402, F401 - registers the addon as a bare namespace: the engine imports without Odoo
from influencegen_release.engine.delivery.n8n.client import N8nClient  # noqa: E402
from influencegen_release.engine.delivery.n8n.workflow import normalise, version_of  # noqa: E402
from influencegen_release.engine.delivery.odoo import packaging  # noqa: E402
from influencegen_release.engine.delivery.odoo.target import OdooTarget  # noqa: E402
from tests.integration.harness import DB, ODOO_SRC, PORT, Api, Server, create_database, drop_database  # noqa: E402
from tests.integration.targets import Target  # noqa: E402
from tests.n8n_server import N8nServer, missing_install_message  # noqa: E402

MODULE = "influencegen_release"
REPOSITORY = "influencegen-release"
WORKFLOW = "InfluenceGen lead sync"
TIERS = ("dev", "staging", "prod")
ROLES = {  # login -> groups (the password is the login: a throwaway demo database)
    "developer": ["group_release_developer"],
    "qa_lead": ["group_release_qa_lead"],
    "product_owner": ["group_release_product_owner"],
    "integration_lead": ["group_release_integration_lead"],
    "cab1": ["group_release_cab_member"],
    "cab2": ["group_release_cab_member"],
    "release_manager": ["group_release_release_manager"],
}
QUICK_TESTS = {  # PL-ODOO-MOD's test tasks in --quick: a few real tests each
    "-m \"not services\"": "-m \"not services\" -k \"test_versioning or test_gates\"",
    '--test-tags="$tags"': '--test-tags="/influencegen_release:TestSeedPipelines"',
}


class DemoFailure(Exception):
    """A step that could not be verified; the message says what was expected and found."""


class Timeline:
    def __init__(self):
        self.started = time.monotonic()
        self.rows = []

    def step(self, actor, text):
        row = (time.monotonic() - self.started, actor, text)
        self.rows.append(row)
        print(f"[demo] {row[0]:7.1f}s  {actor:<16} {text}", flush=True)

    def check(self, condition, text, found=None):
        if not condition:
            raise DemoFailure(f"{text}: not verified{f' (found {found})' if found is not None else ''}")
        self.step("verified", text)

    def print(self, ok):
        print("\nTimeline")
        for seconds, actor, text in self.rows:
            print(f"  {seconds:7.1f}s  {actor:<16} {text}")
        print(f"\n{'DEMO PASSED' if ok else 'DEMO FAILED'} in {time.monotonic() - self.started:.0f} s")


class Demo:
    def __init__(self, workdir, quick):
        self.workdir, self.quick = workdir, quick
        self.timeline = Timeline()
        self.say = self.timeline.step
        self.control = None
        self.targets, self.n8n, self.n8n_keys = {}, {}, {}
        self.origin = os.path.join(workdir, "influencegen-release.git")
        self.clone = os.path.join(workdir, "developer")

    # -- the stack -----------------------------------------------------------------------------
    def start(self):
        missing = missing_install_message()
        if missing:
            raise DemoFailure(missing)
        self.base_sha = self.make_repository()
        bootstrap = self.bootstrap_package()
        odoo_only = f"{ODOO_SRC}/odoo/addons,{ODOO_SRC}/addons"
        for offset, tier in enumerate(TIERS, 1):
            self.targets[tier] = Target(os.path.join(self.workdir, f"odoo-{tier}"), PORT + 10 * offset, f"{DB}_{tier}", base_addons=odoo_only, bootstrap=bootstrap)
            self.n8n[tier] = N8nServer(os.path.join(self.workdir, f"n8n-{tier}"))
        # PL-ODOO-MOD's Odoo tests log in as igr_ci, a role that may only create databases; its
        # password reaches the task as a declared secret (masked in the job's log).
        self.control = Server(self.workdir, env={"IGR_TEST_DB_PASSWORD": ci_database_password()}, name="control-plane")
        # Seven servers start side by side: most of their start-up is waiting on PostgreSQL.
        with concurrent.futures.ThreadPoolExecutor(max_workers=7) as pool:
            started = [pool.submit(server.start) for server in (*self.targets.values(), *self.n8n.values())]
            started.append(pool.submit(lambda: (create_database(), self.control.start())))
            for future in started:
                future.result()
        for tier in TIERS:
            self.n8n_keys[tier] = self.n8n[tier].create_api_key()
            target = self.targets[tier]
            self.say("target", f"Odoo {tier} on {target.url} (database {target.db}) runs {MODULE} {self.installed(tier)[0]}; n8n {tier} on {self.n8n[tier].url}")
        self.say("control plane", f"Odoo on http://127.0.0.1:{PORT} (database {DB})")
        self.configure()

    def stop(self):
        if self.control:
            self.control.stop()
            drop_database()
        for target in self.targets.values():
            target.stop()  # with the database the agent kept aside after the broken upgrade
        for server in self.n8n.values():
            server.stop()

    def make_repository(self):
        git("init", "-q", "--bare", "-b", "main", self.origin)
        git("init", "-q", "-b", "main", self.clone)
        archive = subprocess.run(["git", "-C", ROOT, "archive", "HEAD"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", self.clone], input=archive, check=True)
        head = git("-C", ROOT, "rev-parse", "--short=12", "HEAD")
        for key, value in (("user.name", "Dana Developer"), ("user.email", "developer@demo.example"), ("remote.origin.url", self.origin)):
            git("-C", self.clone, "config", key, value)
        if self.quick:
            path = os.path.join(self.clone, "pipelines", "pl-odoo-mod.yml")
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            for old, new in QUICK_TESTS.items():
                if old not in text:
                    raise DemoFailure(f"--quick: {old!r} is no longer in pipelines/pl-odoo-mod.yml")
                text = text.replace(old, new)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        git("-C", self.clone, "add", "-A")
        git("-C", self.clone, "commit", "-q", "-m", f"InfluenceGen Release at {head}")
        git("-C", self.clone, "tag", "v1.0.0")
        git("-C", self.clone, "push", "-q", "origin", "main", "main:develop", "v1.0.0")
        sha = git("-C", self.clone, "rev-parse", "HEAD")
        self.say("git", f"bare repository {self.origin}: this project at {head} as v1.0.0 ({sha[:12]})")
        return sha

    def bootstrap_package(self):
        """The base commit's addon, unpacked by hand into each target's managed folder."""
        path = os.path.join(self.workdir, "bootstrap.zip")
        built = packaging.build_package(os.path.join(self.clone, "addons"), [MODULE], "1.0.0", self.base_sha, path)
        self.base_checksum = built["manifest"]["modules"][MODULE]["checksum"]
        return path

    def configure(self):
        admin = Api()
        admin("ir.config_parameter", "set_param", "influencegen_release.data_dir", os.path.join(self.workdir, "data"))
        admin("ir.config_parameter", "set_param", "web.base.url", f"http://127.0.0.1:{PORT}")
        groups = {
            row["name"]: row["res_id"]
            for row in admin("ir.model.data", "search_read", [("module", "in", ("base", "influencegen_release")), ("model", "=", "res.groups")], ["name", "res_id"])
        }
        self.users = {}
        for login, names in ROLES.items():
            group_ids = [groups["group_user"]] + [groups[name] for name in names]
            self.users[login] = admin("res.users", "create", {"name": login.replace("_", " ").title(), "login": login, "password": login,
                                                              "email": f"{login}@demo.example", "groups_id": [(6, 0, group_ids)]})
        self.say("control plane", "users: " + ", ".join(ROLES))
        for tier in TIERS:
            target = self.targets[tier]
            admin("ir.config_parameter", "set_param", f"igr_demo.odoo_{tier}", target.key)
            admin("ir.config_parameter", "set_param", f"igr_demo.n8n_{tier}", self.n8n_keys[tier])
            [odoo_env] = admin("release.environment", "search", [("code", "=", f"odoo-{tier}")])
            [n8n_env] = admin("release.environment", "search", [("code", "=", f"n8n-{tier}")])
            admin("release.environment", "write", [odoo_env], {"url": target.url, "database": target.db, "login": "deployer",
                                                               "credentials_ref": f"param:igr_demo.odoo_{tier}"})
            admin("release.environment", "write", [n8n_env], {"url": self.n8n[tier].url, "credentials_ref": f"param:igr_demo.n8n_{tier}"})
        window = self.maintenance_window(admin)
        prod_envs = admin("release.environment", "search", [("code", "in", ("odoo-prod", "n8n-prod"))])
        admin("release.environment", "write", prod_envs, {"calendar_id": window})
        pipelines = {code: pid for pid, code in ((p["id"], p["code"]) for p in admin("release.pipeline", "search_read", [], ["code"]))}
        # Images and infrastructure are not part of this demo: their pipelines stay out of the
        # chain (PL-ODOO-MOD's on_success) and of the repository.
        admin("release.pipeline", "write", [pipelines["PL-CONTAINER-IMG"], pipelines["PL-IAC"]], {"active": False})
        repo_id = admin("release.repository", "create", {"name": REPOSITORY, "url": self.origin, "trigger_user_id": self.users["developer"],
                                                         "pipeline_ids": [(6, 0, [pipelines["PL-ODOO-MOD"], pipelines["PL-N8N-WF"]])]})
        if self.quick:
            admin("release.repository", "write", [repo_id], {"pipeline_file": "pipelines/pl-odoo-mod.yml"})
            admin("release.repository", "action_load_pipeline_file", [repo_id])
            self.say("control plane", "--quick: PL-ODOO-MOD loaded from the repository's own file (narrowed tests)")
        answer = self.as_user("release_manager")("release.repository", "action_generate_trigger_key", [repo_id])
        key = answer["params"]["message"].split("\n")[0].strip()
        keyfile = os.path.join(self.workdir, "trigger.key")
        with open(keyfile, "w", encoding="utf-8") as handle:
            handle.write(key)
        os.chmod(keyfile, 0o600)
        hook = os.path.join(self.origin, "hooks", "post-receive")
        shutil.copy(os.path.join(ROOT, "scripts", "git-hooks", "post-receive"), hook)
        os.chmod(hook, 0o755)
        for key_name, value in (("url", f"http://127.0.0.1:{PORT}"), ("db", DB), ("user", "developer"), ("keyfile", keyfile), ("repository", REPOSITORY)):
            git("-C", self.origin, "config", f"influencegen.{key_name}", value)
        self.say("release_manager", f"repository {REPOSITORY}: trigger user 'developer', 90-day key generated, post-receive hook installed")

    def maintenance_window(self, admin):
        """Production's window: today, from the last full hour to three hours later (UTC)."""
        now = datetime.datetime.now(datetime.UTC)
        start, end = float(now.hour), min(24.0, now.hour + 3.0)
        calendar = admin("resource.calendar", "create", {"name": "Demo maintenance window", "tz": "UTC", "attendance_ids": [(5, 0, 0), (0, 0, {
            "name": "Demo window", "dayofweek": str(now.weekday()), "hour_from": start, "hour_to": end,
            "day_period": "morning" if start < 12 else "afternoon"})]})
        self.say("release_manager", f"Production maintenance window: today {start:05.2f}-{end:05.2f} UTC")
        return calendar

    # -- helpers ---------------------------------------------------------------------------
    def as_user(self, login):
        return Api(login=login, password=login)

    def installed(self, tier):
        """(version, checksum) of the addon, read from the target database itself."""
        target = self.targets[tier]
        info = OdooTarget(target.url, target.db, "deployer", target.key).state([MODULE])["modules"][MODULE]
        return info["version"], info["checksum"], info["state"]

    def workflow_on(self, tier):
        client = N8nClient(self.n8n[tier].url, self.n8n_keys[tier], timeout=30)
        found = client.find_by_name(WORKFLOW)
        if not found:
            return None
        remote = client.get(found[0]["id"])
        return version_of(normalise(remote)), remote["active"]

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
        self.timeline.check(prod["outcome"] == "deployed" and os.path.isfile(prod["backup_ref"] or ""),
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
    return {
        "name": WORKFLOW,
        "nodes": [
            {"id": "0f4c8f5e-0000-4000-8000-000000000001", "name": "Start", "type": "n8n-nodes-base.manualTrigger",
             "typeVersion": 1, "position": [0, 0], "parameters": {}},
            {"id": "0f4c8f5e-0000-4000-8000-000000000002", "name": "Tag source", "type": "n8n-nodes-base.set",
             "typeVersion": 3.4, "position": [220, 0],
             "parameters": {"assignments": {"assignments": [
                 {"id": "0f4c8f5e-0000-4000-8000-000000000003", "name": "source", "value": value, "type": "string"}]},
                 "options": {}}},
        ],
        "connections": {"Start": {"main": [[{"node": "Tag source", "type": "main", "index": 0}]]}},
        "settings": {"executionOrder": "v1"},
        "active": False,
    }  # fmt: skip


def ci_database_password():
    """The password of PostgreSQL's igr_ci role (LOGIN CREATEDB), made by scripts/setup."""
    path = os.path.join(os.environ.get("IGR_DATA_DIR", "/var/lib/influencegen-release"), "ci-db-password")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as exc:
        raise DemoFailure(f"{path}: {exc.strerror}; run scripts/setup, which creates the igr_ci role and this file") from None


def git(*args):
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    if result.returncode:
        raise DemoFailure(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="narrow PL-ODOO-MOD's test tasks to a few tests (the test suite's variant)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, repositories, backups) even when the demo passes")
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="igr-demo-")
    demo = Demo(workdir, args.quick)
    ok = False
    try:
        demo.start()
        good_artifact, good_workflow = demo.release()
        demo.broken_release(good_artifact, good_workflow)
        ok = True
    except Exception as exc:
        demo.say("FAILED", str(exc))
        traceback.print_exc()
    finally:
        demo.timeline.print(ok)
        demo.stop()
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work folder kept: {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
