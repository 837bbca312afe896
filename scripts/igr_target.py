"""``igr target init``: turn an Odoo 18 database on this machine into a deploy target.

Run it on the target machine (as root, or as the user that may write the key file), with the
database already created. Each step first checks what is there and only does what is
missing, so a second run changes nothing and says so:

1. preconditions, all checked before anything changes: Odoo 18 runs under the interpreter,
   the database exists, the data folder is writable by the Odoo server's user, the first
   release (a package or a folder of modules) is valid, and the addon is somewhere on the
   addons path;
2. the managed addons folder ``<data_dir>/managed/<db>``: the first release unpacked into
   ``releases/<sha>`` (as a deploy would unpack it) and the ``current`` link;
3. the addon ``influencegen_release`` installed, and the data folder recorded in the database;
4. the deploy user (groups Internal User and Deploy target) and its expiring RPC API key,
   written to a file of mode 0600 (never printed; renewed only when missing or expired);
5. the deploy agent's own check (PostgreSQL tools, the database reachable, CREATEDB);
6. the settings to enter on the control plane and the target server's addons path.

The addon's engine is imported from the checkout this script belongs to (standard library
otherwise); nothing here imports Odoo: Odoo runs as subprocesses under its own interpreter.
"""

import argparse
import configparser
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADDON = "influencegen_release"
ADDON_DIR = os.path.join(ROOT, "addons", ADDON)
ODOO_VERSION = "18.0"
DEFAULT_DATA_DIR = "/var/lib/influencegen-release"
RESULT_MARK = "IGR-TARGET-INIT "
EXIT_FAILED, EXIT_PRECONDITION = 1, 2

# Runs inside ``odoo-bin shell`` (Odoo's interpreter, the target database, superuser). The
# key goes from Odoo straight into the key file: it never crosses a pipe or a terminal.
SHELL_SCRIPT = r"""
import datetime, json, os
from odoo import fields
changes = []
params = env["ir.config_parameter"]
if params.get_param("influencegen_release.data_dir") != os.environ["IGR_INIT_DATA_DIR"]:
    params.set_param("influencegen_release.data_dir", os.environ["IGR_INIT_DATA_DIR"])
    changes.append("data folder recorded: " + os.environ["IGR_INIT_DATA_DIR"])
groups = [env.ref("base.group_user"), env.ref("influencegen_release.group_release_deploy_target")]
login = os.environ["IGR_INIT_LOGIN"]
user = env["res.users"].with_context(active_test=False).search([("login", "=", login)])
if not user:
    user = env["res.users"].with_context(no_reset_password=True).create({
        "name": "Deployer (control plane)", "login": login, "email": login + "@deploy.invalid",
        "groups_id": [(6, 0, [g.id for g in groups])]})
    changes.append("deploy user created: " + login)
else:
    if not user.active:
        user.active = True
        changes.append("deploy user reactivated: " + login)
    missing = [g for g in groups if g not in user.groups_id]
    if missing:
        user.groups_id = [(4, g.id) for g in missing]
        changes.append("deploy user given its groups: " + ", ".join(g.full_name for g in missing))
path = os.environ["IGR_INIT_KEY_FILE"]
keys = env["res.users.apikeys"]
valid = None
if os.path.exists(path):
    with open(path, encoding="utf-8") as handle:
        key = handle.read().strip()
    valid = key and keys._check_credentials(scope="rpc", key=key) == user.id
if valid:
    expiry = min((k.expiration_date for k in user.api_key_ids if k.expiration_date), default=None)
else:
    expiry = fields.Datetime.now() + datetime.timedelta(days=int(os.environ["IGR_INIT_KEY_DAYS"]))
    key = keys.with_user(user).sudo()._generate("rpc", "deploys from the control plane (igr target init)", expiry)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    changes.append("API key written to " + path + " (expires " + str(expiry)[:10] + ")")
env.cr.commit()
print("IGR-TARGET-INIT " + json.dumps({"changes": changes, "user_id": user.id, "expires": str(expiry or "")[:10]}))
"""


class InitError(Exception):
    def __init__(self, message, code=EXIT_PRECONDITION):
        super().__init__(message)
        self.code = code


def register(sub):
    """``igr target init`` in scripts/igr's parser (it needs no control-plane connection)."""
    target = sub.add_parser("target", help="prepare this machine's Odoo database as a deploy target",
                            description="Commands run on a target machine, next to its Odoo 18.")
    actions = target.add_subparsers(dest="target_command", metavar="ACTION", required=True)
    p = actions.add_parser(
        "init",
        help="turn a database into a deploy target (idempotent)",
        description="\n\n".join(__doc__.split("\n\n")[1:3]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-d", "--database", required=True, help="the target database (it must exist)")
    p.add_argument("--release", help="the first release: a package (.zip from artifact.package) or a folder of "
                   "modules; needed until the managed folder has one")
    p.add_argument("-c", "--config", help="the target server's odoo.conf (database host, user, password)")
    p.add_argument("--odoo-src", default=os.environ.get("ODOO_SRC", "/opt/odoo18"), help="Odoo 18's source tree (ODOO_SRC)")
    p.add_argument("--python", default=os.environ.get("IGR_PYTHON", "/usr/bin/python3"), help="Odoo's interpreter (IGR_PYTHON)")
    p.add_argument("--addons-path", help="the server's addons path without the managed folder "
                   "(default: Odoo's addons and, when it is there, this checkout's addons)")
    p.add_argument("--data-dir", default=os.environ.get("IGR_DATA_DIR", DEFAULT_DATA_DIR), help="InfluenceGen's data folder on the target (IGR_DATA_DIR)")
    p.add_argument("--server-user", help="the OS user the Odoo server runs as (default: the current user): it must "
                   "write the managed folder, which it is given")
    p.add_argument("--login", default="deployer", help="the deploy user's login (default deployer)")
    p.add_argument("--key-file", help="where the API key goes, mode 0600 (default /etc/influencegen/<db>.deployer.key)")
    p.add_argument("--key-days", type=int, default=90, help="the key's validity in days (default 90)")
    p.add_argument("--url", help="the target's URL as the control plane reaches it (default http://127.0.0.1:<http_port>)")
    p.set_defaults(local=cmd_init)


def cmd_init(args):
    if not engine_importable() and os.path.realpath(sys.executable) != os.path.realpath(args.python):
        # The engine needs the addon's dependencies (GitPython...): Odoo's interpreter has them.
        os.execv(args.python, [args.python, os.path.abspath(__file__), *sys.argv[sys.argv.index("target"):]])
    try:
        return TargetInit(args).run()
    except InitError as exc:
        print(f"igr target init: {exc}", file=sys.stderr)
        return exc.code


class TargetInit:
    def __init__(self, args):
        self.args = args
        self.db = args.database
        self.conf = read_conf(args.config)
        self.data_dir = os.path.abspath(args.data_dir)
        self.managed = os.path.join(self.data_dir, "managed", self.db)
        self.link = os.path.join(self.managed, "current")
        self.key_file = os.path.abspath(args.key_file or f"/etc/influencegen/{self.db}.{args.login}.key")
        base = args.addons_path or ",".join(
            p for p in (f"{args.odoo_src}/odoo/addons", f"{args.odoo_src}/addons", os.path.join(ROOT, "addons")) if os.path.isdir(p)
        )
        self.base_addons = [p.strip() for p in base.split(",") if p.strip() and p.strip() != self.link]
        self.addons_path = ",".join([*self.base_addons, self.link])
        self.changes = []

    def run(self):
        packaging = import_packaging()
        self.check_odoo()
        self.check_database()
        self.check_data_dir()
        release = self.check_release(packaging)
        self.layout(packaging, release)
        self.install()
        self.deploy_user()
        self.check_agent()
        self.report()
        return 0

    # -- preconditions ------------------------------------------------------------------------
    def check_odoo(self):
        odoo_bin = os.path.join(self.args.odoo_src, "odoo-bin")
        if not os.path.isfile(odoo_bin):
            raise InitError(f"no Odoo at {self.args.odoo_src}: {odoo_bin} is missing (--odoo-src, ODOO_SRC)")
        try:
            result = subprocess.run([self.args.python, odoo_bin, "--version"], capture_output=True, text=True, timeout=120, check=False)
        except OSError as exc:
            raise InitError(f"Odoo's interpreter {self.args.python} cannot run: {exc.strerror} (--python, IGR_PYTHON)") from None
        if result.returncode:
            raise InitError(f"{self.args.python} cannot run Odoo at {self.args.odoo_src}: {last_line(result.stderr)}")
        version = result.stdout.strip().removeprefix("Odoo Server ").strip()
        if not version.startswith(f"{ODOO_VERSION}-") and version != ODOO_VERSION:
            raise InitError(f"Odoo at {self.args.odoo_src} is version {version or '?'}; a deploy target needs Odoo {ODOO_VERSION}")
        self.odoo_bin = odoo_bin

    def check_database(self):
        result = self.psql("postgres", "SELECT 1 FROM pg_database WHERE datname = :'name'", name=self.db)
        if result.returncode:
            raise InitError(f"cannot reach PostgreSQL ({self.where()}): {last_line(result.stderr)}")
        if result.stdout.strip() != "1":
            raise InitError(f"database {self.db} does not exist on PostgreSQL ({self.where()}): create it first "
                            f"(createdb {self.db}, or restore the database to deliver to)")

    def check_data_dir(self):
        existing = self.data_dir
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            raise InitError(f"the data folder {self.data_dir} cannot be created: {existing} is not a folder")
        user = self.args.server_user
        if user:
            try:
                pwd.getpwnam(user)
            except KeyError:
                raise InitError(f"--server-user {user}: no such user") from None
        folder = self.managed if os.path.isdir(self.managed) else existing
        if not writable_by(folder, user):
            raise InitError(f"no write access to the data folder: {folder} is not writable by "
                            f"{user or pwd.getpwuid(os.getuid()).pw_name}, the Odoo server's user (--data-dir, --server-user)")

    def check_release(self, packaging):
        """The first release as a checked package: ``(zip path, sha256, module names)``."""
        if os.path.lexists(self.link):
            if not os.path.isdir(self.link):
                raise InitError(f"{self.link} exists but does not lead to a release folder: repair or remove it")
            return None
        source = self.args.release
        if not source:
            raise InitError(f"the managed folder {self.managed} has no release yet: give the first one with --release "
                            "(a package .zip or a folder of modules)")
        if os.path.isdir(source):
            modules = packaging.find_modules(source)
            if not modules:
                raise InitError(f"--release {source}: no Odoo module (a folder with __manifest__.py) in it")
            path = os.path.join(tempfile.mkdtemp(prefix="igr-target-init-"), "first-release.zip")
            try:
                packaging.build_package(source, modules, "0.0.0-init", "0" * 40, path)
            except packaging.PackageError as exc:
                raise InitError(f"--release {source}: {exc}") from None
        elif os.path.isfile(source):
            path = source
        else:
            raise InitError(f"--release {source}: no such file or folder")
        try:
            manifest = packaging.read_package_manifest(path)
        except packaging.PackageError as exc:
            raise InitError(f"--release {source}: {exc}") from None
        modules = sorted(manifest["modules"])
        if ADDON not in modules and not any(os.path.isdir(os.path.join(p, ADDON)) for p in self.base_addons):
            raise InitError(f"{ADDON} is neither on the addons path ({','.join(self.base_addons)}) nor in the release: "
                            "put it in one of them (--addons-path, --release)")
        return path, file_sha256(path), modules

    # -- changes ------------------------------------------------------------------------------
    def layout(self, packaging, release):
        """The first release where a deploy would put it: ``packages/<sha>.zip``,
        ``releases/<sha16>`` (so the same package deployed later is recognised) and ``current``."""
        if release is None:
            return
        path, sha256, modules = release
        os.makedirs(os.path.join(self.managed, "packages"), exist_ok=True)
        kept = os.path.join(self.managed, "packages", f"{sha256}.zip")
        if not os.path.exists(kept):
            shutil.copyfile(path, kept)
        release_dir = os.path.join(self.managed, "releases", sha256[:16])
        if not os.path.isdir(release_dir):
            try:
                packaging.safe_extract(kept, release_dir)
            except packaging.PackageError as exc:
                raise InitError(f"--release {self.args.release}: {exc}") from None
        tmp = f"{self.link}.new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(release_dir, tmp)
        os.replace(tmp, self.link)
        if self.args.server_user:
            owner = pwd.getpwnam(self.args.server_user)
            for top in (self.data_dir, os.path.join(self.data_dir, "managed")):
                os.chown(top, owner.pw_uid, owner.pw_gid)
            for folder, dirs, files in os.walk(self.managed):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    os.lchown(name, owner.pw_uid, owner.pw_gid)
        self.changes.append(f"managed folder laid out: {self.link} -> releases/{sha256[:16]} ({', '.join(modules)})")

    def install(self):
        state = self.psql(self.db, "SELECT state FROM ir_module_module WHERE name = :'name'", name=ADDON).stdout.strip()
        if state == "installed":
            return
        log = os.path.join(self.managed, "init.log")
        with open(log, "w", encoding="utf-8") as handle:
            result = subprocess.run(
                self.odoo("-i", ADDON, "--without-demo=all", "--stop-after-init", "--no-http", "--max-cron-threads=0", "--log-level=warn"),
                stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False,
            )
        if result.returncode:
            raise InitError(f"installing {ADDON} in {self.db} failed (exit code {result.returncode}); see {log}", EXIT_FAILED)
        self.changes.append(f"{ADDON} installed")

    def deploy_user(self):
        env = dict(
            self.pg_env(),
            IGR_INIT_DATA_DIR=self.data_dir,
            IGR_INIT_LOGIN=self.args.login,
            IGR_INIT_KEY_FILE=self.key_file,
            IGR_INIT_KEY_DAYS=str(self.args.key_days),
        )
        result = subprocess.run(self.odoo("shell", "--no-http", "--log-level=warn", command_first=True),
                                input=SHELL_SCRIPT, capture_output=True, text=True, env=env, check=False)
        lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT_MARK)]
        if result.returncode or not lines:
            raise InitError(f"setting up the deploy user failed: {last_line(result.stderr) or last_line(result.stdout)}", EXIT_FAILED)
        answer = json.loads(lines[-1][len(RESULT_MARK):])
        self.changes += answer["changes"]
        self.expires = answer["expires"]

    def check_agent(self):
        agent = next((os.path.join(p, ADDON, "engine", "delivery", "odoo", "agent.py") for p in self.addons_path.split(",")
                      if os.path.isfile(os.path.join(p, ADDON, "engine", "delivery", "odoo", "agent.py"))), None)
        if not agent:
            raise InitError(f"the deploy agent of {ADDON} is not on the addons path {self.addons_path}", EXIT_FAILED)
        result = subprocess.run([self.args.python, agent, "check", self.db], capture_output=True, text=True,
                                env=self.pg_env(), timeout=60, check=False)
        try:
            problems = json.loads(result.stdout)["problems"]
        except (ValueError, KeyError):
            problems = [last_line(result.stderr) or f"exit code {result.returncode}"]
        if problems:
            raise InitError(f"the deploy agent cannot run under {self.args.python}: {'; '.join(problems)}", EXIT_FAILED)

    def report(self):
        if self.changes:
            print(f"Target {self.db} prepared:")
            print("\n".join(f"  - {change}" for change in self.changes))
        else:
            print(f"Target {self.db} is already a deploy target: nothing to change.")
        url = self.args.url or f"http://127.0.0.1:{self.conf.get('http_port') or 8069}"
        print(f"""
On the control plane (Release > Configuration > Environments, kind "Odoo database"):
  URL                    {url}
  Database               {self.db}
  Deployer login         {self.args.login}
  Credentials reference  file:{self.key_file}
                         (the key is in that file, mode 0600, valid until {self.expires}: copy it to the
                         same path on the control plane; it is never printed)
The target's Odoo server (odoo.conf or command line):
  addons_path = {self.addons_path}
  Odoo's interpreter {self.args.python}; the agent's check passed.""")

    # -- helpers ------------------------------------------------------------------------------
    def odoo(self, *args, command_first=False):
        options = [f"--addons-path={self.addons_path}", "-d", self.db]
        if self.args.config:
            options[:0] = ["-c", self.args.config]
        if command_first:  # odoo-bin's subcommands (shell) come before the options
            return [self.args.python, self.odoo_bin, args[0], *options, *args[1:]]
        return [self.args.python, self.odoo_bin, *options, *args]

    def pg_env(self):
        env = dict(os.environ)
        for key, name in (("db_host", "PGHOST"), ("db_port", "PGPORT"), ("db_user", "PGUSER"), ("db_password", "PGPASSWORD")):
            value = self.conf.get(key)
            if value and value not in ("False", "None"):
                env[name] = str(value)
        return env

    def psql(self, db, sql, **variables):
        cmd = ["psql", "-w", "-X", "-tA", "-d", db]
        for name, value in variables.items():
            cmd += ["-v", f"{name}={value}"]
        try:
            return subprocess.run(cmd, input=sql, capture_output=True, text=True, env=self.pg_env(), timeout=60, check=False)
        except OSError as exc:
            raise InitError(f"psql cannot run: {exc.strerror} (install PostgreSQL's client)") from None

    def where(self):
        env = self.pg_env()
        return f"host {env.get('PGHOST') or 'local socket'}, user {env.get('PGUSER') or pwd.getpwuid(os.getuid()).pw_name}"


def read_conf(path):
    if not path:
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path):
        raise InitError(f"-c {path}: cannot read that file")
    return dict(parser["options"]) if parser.has_section("options") else {}


def engine_importable():
    try:
        import_packaging()
    except ImportError:
        return False
    return True


def main(argv):
    """``python3 igr_target.py target init ...``: the same command without scripts/igr."""
    parser = argparse.ArgumentParser(prog="igr")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.local(args)


def import_packaging():
    """The addon's engine without Odoo (it never imports odoo): a bare namespace package."""
    if not os.path.isdir(ADDON_DIR):
        raise InitError(f"{ADDON_DIR} is missing: run the igr of a complete checkout of InfluenceGen Release")
    if ADDON not in sys.modules:
        package = types.ModuleType(ADDON)
        package.__path__ = [ADDON_DIR]
        sys.modules[ADDON] = package
    from influencegen_release.engine.delivery.odoo import packaging

    return packaging


def writable_by(path, user):
    """Whether ``user`` (default: this process's) may create files in ``path``; checked in
    a child process that becomes that user, since root may write anywhere."""
    if not user or pwd.getpwnam(user).pw_uid == os.getuid():
        return os.access(path, os.W_OK | os.X_OK)
    owner = pwd.getpwnam(user)
    pid = os.fork()
    if pid == 0:  # the child: drop to the user, answer with the exit code
        try:
            os.setgroups(os.getgrouplist(user, owner.pw_gid))
            os.setgid(owner.pw_gid)
            os.setuid(owner.pw_uid)
            os._exit(0 if os.access(path, os.W_OK | os.X_OK) else 1)
        except BaseException:  # a child must never return into the parent's code
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
