"""The demo's stack on 127.0.0.1: a bare Git repository of this project with the product's
post-receive hook and a developer's clone, the control plane with one user per role, three
target Odoo databases and three n8n instances (Development, Staging, Production)."""

import concurrent.futures
import datetime
import os
import shutil
import subprocess

from influencegen_release.engine.delivery.n8n.client import N8nClient
from influencegen_release.engine.delivery.n8n.workflow import normalise, version_of
from influencegen_release.engine.delivery.odoo import packaging
from influencegen_release.engine.delivery.odoo.target import OdooTarget

from .. import ROOT
from ..n8n_server import N8nServer, missing_install_message
from ..odoo_server import DB, ODOO_SRC, PORT, Api, Server, create_database, drop_database
from ..odoo_target import Target
from .timeline import DemoFailure, Timeline

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


class Stack:
    """Starts and stops the servers, and reads what the targets run."""

    def __init__(self, workdir, quick):
        self.workdir, self.quick = workdir, quick
        self.timeline = Timeline()
        self.say = self.timeline.step
        self.control = None
        self.targets, self.n8n, self.n8n_keys = {}, {}, {}
        self.origin = os.path.join(workdir, "influencegen-release.git")
        self.clone = os.path.join(workdir, "developer")

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
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", self.clone], input=archive, check=True)
        head = git("-C", str(ROOT), "rev-parse", "--short=12", "HEAD")
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
        """The base commit's addon: each target's first release (``igr target init --release``)."""
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
            admin("ir.config_parameter", "set_param", f"igr_demo.n8n_{tier}", self.n8n_keys[tier])
            [odoo_env] = admin("release.environment", "search", [("code", "=", f"odoo-{tier}")])
            [n8n_env] = admin("release.environment", "search", [("code", "=", f"n8n-{tier}")])
            # What ``igr target init`` printed for this target (its key file is on this machine).
            admin("release.environment", "write", [odoo_env], {"url": target.url, "database": target.db, "login": "deployer",
                                                               "credentials_ref": f"file:{target.key_file}"})
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
        """Production's window: from the last full hour to three hours later (UTC), on the next
        day too when it runs past midnight (a demo started at 23:49 deploys after 00:00)."""
        now = datetime.datetime.now(datetime.UTC)
        start, end = float(now.hour), now.hour + 3.0
        days = [(now.weekday(), start, min(24.0, end))]
        if end > 24.0:
            days.append(((now.weekday() + 1) % 7, 0.0, end - 24.0))
        calendar = admin("resource.calendar", "create", {"name": "Demo maintenance window", "tz": "UTC", "attendance_ids": [(5, 0, 0)] + [(0, 0, {
            "name": "Demo window", "dayofweek": str(day), "hour_from": hour_from, "hour_to": hour_to,
            "day_period": "morning" if hour_from < 12 else "afternoon"}) for day, hour_from, hour_to in days]})
        self.say("release_manager", f"Production maintenance window: {start:05.2f}-{end % 24:05.2f} UTC from today")
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

