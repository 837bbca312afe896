import base64
import hashlib
import json
import os
import subprocess
import sys
import time

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.modules.module import get_module_path
from odoo.tools import config

from ...engine.delivery.odoo import agent as target_agent
from ...engine.delivery.odoo import packaging

DEPLOY_TARGET = "influencegen_release.group_release_deploy_target"
MAX_PACKAGE_BYTES = 200 * 1024 * 1024
AGENT = os.path.abspath(target_agent.__file__)
# The agent's upgrade process: a script beside the Odoo deployer (it imports Odoo; engine/ may not).
UPGRADE_PROCESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "odoo", "upgrade_process.py")
SERVER_STARTED = time.time()  # this module is imported anew when the server restarts


class ReleaseTargetReceipt(models.Model):
    """A deploy received by this database when it is the *target* of another InfluenceGen
    Release (its deployer calls the ``api_*`` methods over XML-RPC with an API key).

    Packages are checked (sha256, zip-slip and symlink safe) and unpacked into the managed
    addons folder, one folder per release, with a ``current`` link the server's addons path
    points to. The deploy itself runs in ``engine/delivery/odoo/agent.py``: backup, code switch,
    ``-u`` of the changed modules only, restart; on failure it restores code and database.
    """

    _name = "release.target.receipt"
    _description = "Received Deploy (this database as a target)"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(required=True, readonly=True)
    version = fields.Char(readonly=True)
    commit_sha = fields.Char(string="Commit", readonly=True)
    package_sha256 = fields.Char(string="Package SHA-256", readonly=True, index=True)
    package_size = fields.Integer(readonly=True)
    state = fields.Selection(
        [
            ("planned", "Planned"),
            ("deploying", "Deploying"),
            ("upgraded", "Upgraded"),
            ("restoring", "Restoring"),
            ("restored", "Failed, restored"),
            ("restore_failed", "Restore failed"),
        ],
        required=True,
        default="planned",
        readonly=True,
        tracking=True,
    )
    plan_json = fields.Text(string="Plan (JSON)", readonly=True)
    plan_digest = fields.Char(readonly=True)
    release_dir = fields.Char(readonly=True)
    previous_dir = fields.Char(readonly=True)
    backup_path = fields.Char(readonly=True)
    failed_database = fields.Char(readonly=True, help="The database as the failed upgrade left it, kept for analysis.")
    error = fields.Text(readonly=True)
    requested_by_id = fields.Many2one("res.users", default=lambda self: self.env.user, readonly=True)

    # -- API (called by the deployer) -----------------------------------------------------
    @api.model
    def api_state(self, modules=None):
        """Installed versions and code checksums of the managed modules (or of ``modules``)."""
        self._check_deployer()
        link = self._current_link()
        names = list(modules or [])
        if not names and os.path.isdir(link):
            names = packaging.find_modules(os.path.realpath(link))
        return {
            "database": self.env.cr.dbname,
            "managed_link": link,
            "managed_in_addons_path": link in self._addons_paths(),
            "current_release": os.path.realpath(link) if os.path.lexists(link) else False,
            "modules": self._installed(names),
        }

    @api.model
    def api_plan(self, package_b64, sha256, version="", commit=""):
        """Receive a package: check it, unpack it, and say what deploying it would change."""
        self._check_deployer()
        data = base64.b64decode(package_b64 or b"")
        if len(data) > MAX_PACKAGE_BYTES:
            raise UserError(self.env._("The package is larger than %(max)s bytes.", max=MAX_PACKAGE_BYTES))
        actual = hashlib.sha256(data).hexdigest()
        if actual != (sha256 or "").lower():
            raise UserError(self.env._("The package's sha256 is %(actual)s, not %(expected)s: refused.", actual=actual, expected=sha256))
        root = self._managed_root()
        package_path = os.path.join(root, "packages", f"{actual}.zip")
        os.makedirs(os.path.dirname(package_path), exist_ok=True)
        with open(package_path, "wb") as handle:
            handle.write(data)
        release_dir = os.path.join(root, "releases", actual[:16])
        try:
            manifest = packaging.read_package_manifest(package_path)
            if not os.path.isdir(release_dir):
                packaging.safe_extract(package_path, release_dir, max_bytes=MAX_PACKAGE_BYTES)
        except packaging.PackageError as exc:
            raise UserError(self.env._("Package refused: %(error)s", error=exc)) from exc
        plan = self._plan(manifest)
        receipt = self.create(
            {
                "name": f"{manifest.get('version') or version} ({actual[:12]})",
                "version": manifest.get("version") or version,
                "commit_sha": manifest.get("commit") or commit,
                "package_sha256": actual,
                "package_size": len(data),
                "plan_json": json.dumps(plan, sort_keys=True),
                "plan_digest": packaging.plan_digest(plan),
                "release_dir": release_dir,
            }
        )
        receipt.message_post(body=self.env._("Package received and planned: %(plan)s", plan=receipt._plan_text()))
        return receipt._summary()

    def api_deploy(self, plan_digest):
        """Deploy a planned receipt if the plan is still the one the deployer was shown."""
        self._check_deployer()
        self.ensure_one()
        if self.state != "planned":
            raise UserError(self.env._("Receipt %(name)s is %(state)s, not planned.", name=self.name, state=self.state))
        manifest = packaging.read_package_manifest(os.path.join(self._managed_root(), "packages", f"{self.package_sha256}.zip"))
        plan = self._plan(manifest)
        if packaging.plan_digest(plan) != plan_digest or self.plan_digest != plan_digest:
            raise UserError(
                self.env._(
                    "The plan changed since it was approved (now: %(plan)s): plan and approve again.",
                    plan=json.dumps(plan, sort_keys=True),
                )
            )
        self._start_agent("deploy", plan)
        return self._summary()

    def api_result(self):
        """The deploy's progress, read from the agent's status file (it survives restarts).
        Once upgraded (only the restarted server says so), also the package's modules as this
        server runs them: the deployer verifies them without asking again."""
        self._check_deployer()
        self.ensure_one()
        self._sync_status()
        summary = self._summary()
        if self.state == "upgraded":
            plan = json.loads(self.plan_json or "{}")
            summary["modules"] = self._installed([name for key in ("install", "upgrade", "unchanged") for name in plan.get(key) or []])
        return summary

    def api_restore(self, reason):
        """Restore code and database as they were before this deploy (failed smoke checks)."""
        self._check_deployer()
        self.ensure_one()
        if self.state not in ("upgraded", "deploying"):
            raise UserError(self.env._("Receipt %(name)s is %(state)s: nothing to restore.", name=self.name, state=self.state))
        self.message_post(body=self.env._("Restore requested: %(reason)s", reason=reason))
        self._start_agent("restore", json.loads(self.plan_json))
        return self._summary()

    # -- helpers ----------------------------------------------------------------------------
    def _check_deployer(self):
        if not self.env.user.has_group(DEPLOY_TARGET):
            raise AccessError(self.env._("Only the deployer's technical user (group Release: deploy target) may deploy here."))

    def _managed_root(self):
        return self.env["release.settings"]._path("managed")

    def _current_link(self):
        return os.path.join(self._managed_root(), "current")

    def _addons_paths(self):
        """The server's addons path with the managed release folder named by its ``current``
        link: Odoo resolves links when it reads its options, and the upgrade must load the
        release the link points to after the switch, not the one the server started with."""
        link = self._current_link()
        releases = os.path.join(self._managed_root(), "releases")
        paths = []
        for path in (config["addons_path"] or "").split(","):
            path = path.strip()
            paths.append(link if path == link or os.path.dirname(path) == releases else path)
        return paths

    def _installed(self, names):
        Module = self.env["ir.module.module"]  # readable by the deploy group (security/ir.model.access.csv)
        result = {}
        for module in Module.search([("name", "in", names)]):
            path = get_module_path(module.name, display_warning=False)
            result[module.name] = {
                "state": module.state,
                "version": module.latest_version or False,
                "checksum": packaging.module_checksum(path) if path and module.state == "installed" else False,
                "path": path or False,
            }
        return result

    def _plan(self, manifest):
        installed = {
            name: info for name, info in self._installed(list(manifest["modules"])).items() if info["state"] == "installed"
        }
        return packaging.upgrade_plan(installed, manifest)

    def _plan_text(self):
        plan = json.loads(self.plan_json or "{}")
        return "; ".join(f"{key}: {', '.join(plan.get(key) or []) or '-'}" for key in ("install", "upgrade", "unchanged"))

    def _start_agent(self, action, plan):
        folder = os.path.join(self._managed_root(), "deploys", str(self.id))
        os.makedirs(folder, exist_ok=True)
        link = self._current_link()
        if not os.path.lexists(link):
            raise UserError(self.env._("The managed addons folder %(link)s is missing: see the target's setup.", link=link))
        previous = self.previous_dir or os.path.realpath(link)
        job = {
            "db": self.env.cr.dbname,
            "db_host": config["db_host"] or "",
            "db_port": config["db_port"] or "",
            "db_user": config["db_user"] or "",
            "python": sys.executable,
            "odoo_bin": os.path.abspath(sys.argv[0]),
            "upgrade_process": UPGRADE_PROCESS,
            "addons_path": ",".join(self._addons_paths()),
            "data_dir": config["data_dir"],
            "current_link": link,
            "release_dir": self.release_dir,
            "previous_dir": previous,
            "upgrade": plan.get("upgrade", []),
            "install": plan.get("install", []),
            "backup_path": os.path.join(folder, f"{self.env.cr.dbname}.dump"),
            "server_pid": self._server_pid(),
        }
        if action == "deploy" and (job["upgrade"] or job["install"]):
            job["reexec"] = self._arm_reexec(folder, job)
        job_path = os.path.join(folder, "job.json")
        with open(job_path, "w", encoding="utf-8") as handle:
            json.dump(job, handle, sort_keys=True)
        env = dict(os.environ)
        if config["db_password"]:
            env["PGPASSWORD"] = config["db_password"]  # to the agent's environment, never to a file
        # The backup (a database copy, else a dump at job["backup_path"]) is the agent's to report.
        self.write({"state": "deploying" if action == "deploy" else "restoring", "previous_dir": previous})
        self.message_post(body=self.env._("Deploy agent started (%(action)s) with plan %(plan)s.", action=action, plan=self._plan_text()))
        # The agent must see this transaction's outcome committed before it restarts the server;
        # nothing is written after it: the agent's backup waits for this request to end.
        self.env.cr.commit()  # pylint: disable=invalid-commit
        subprocess.Popen([sys.executable, AGENT, action, job_path], start_new_session=True, env=env, close_fds=True)

    def _arm_reexec(self, folder, job):
        """The upgrade run by this server's own restart (server_reexec.py), when this process is
        the one that restarts: a threaded server (with workers, the master restarts) serving
        this database alone or among others it names (``-u`` with several is refused by Odoo).
        Returns the agent's side of it, or None (the agent runs a separate upgrade process)."""
        from odoo.service import server as odoo_server  # the running server, for its kind

        from .odoo import server_reexec  # wraps Odoo's restart once imported (after the models it needs)

        names = [name for name in (config["db_name"] or "").split(",") if name]
        if config["workers"] or not isinstance(getattr(odoo_server, "server", None), odoo_server.ThreadedServer):
            return None
        if names and job["db"] not in names:
            return None
        spec = {name: os.path.join(folder, f"upgrade.{name}") for name in ("go", "start", "result", "verdict")}
        refresh = ",".join(job["upgrade"] + job["install"])
        head = [sys.executable, UPGRADE_PROCESS, job["odoo_bin"], f"--refresh={refresh}", f"--serve={job['db']}",
                f"--upgrade={','.join(job['upgrade'])}", f"--install={','.join(job['install'])}",
                f"--start={spec['start']}", f"--result={spec['result']}", f"--verdict={spec['verdict']}", f"--log={os.path.join(folder, 'agent.log')}", "--"]  # fmt: skip
        server_reexec.arm(spec["go"], head)
        plan = " ".join(([f"-u {','.join(job['upgrade'])}"] if job["upgrade"] else []) + ([f"-i {','.join(job['install'])}"] if job["install"] else []))
        spec["command"] = f"(the server re-executes) {' '.join(head)} <its own arguments>, applying {plan}"
        return spec

    def _server_pid(self):
        from odoo.service import server as odoo_server  # the running server, for the restart signal

        running = getattr(odoo_server, "server", None)
        return getattr(running, "pid", None) or os.getpid()

    def _sync_status(self):
        path = os.path.join(self._managed_root(), "deploys", str(self.id), "status.json")
        try:
            with open(path, encoding="utf-8") as handle:
                status = json.load(handle)
        except (OSError, ValueError):
            return
        state = status.get("state")
        values = {
            "error": status.get("error") or self.error,
            "failed_database": status.get("failed_database") or self.failed_database,
            # the agent's backup: a database copy (database:<name>) or, failing that, a dump file
            "backup_path": status.get("backup_path") or self.backup_path,
        }
        if status.get("restart_requested_at", 0) > SERVER_STARTED:
            state = self.state  # the agent restarts this server: the restarted one reports the outcome
        if state in ("upgraded", "restored", "restore_failed", "restoring") and state != self.state:
            values["state"] = state
        self.write(values)

    def _summary(self):
        self.ensure_one()
        return {
            "receipt": self.id,
            "state": self.state,
            "version": self.version or False,
            "package_sha256": self.package_sha256,
            "plan": json.loads(self.plan_json or "{}"),
            "plan_digest": self.plan_digest,
            "backup_path": self.backup_path or False,
            "failed_database": self.failed_database or False,
            "error": self.error or False,
        }
