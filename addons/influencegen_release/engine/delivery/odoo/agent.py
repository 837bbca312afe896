"""The deploy agent a target Odoo starts next to itself (no Odoo import: it outlives the server).

A running Odoo keeps its Python code in memory, so new module code cannot be loaded by the
server that receives it. The receiver (``release.target.receipt``) writes a job file and
starts this script as a separate process, which:

1. backs the database up before touching anything: a server-side copy
   (``CREATE DATABASE <db>_bk_<receipt> TEMPLATE <db>``, a file-level copy that needs the
   database closed to connections for its few hundred milliseconds), else ``pg_dump -Fc``
   when the server refuses the copy (agent_backup.py: the newest ``KEEP_BACKUPS`` copies are
   kept, each stamped for the upgrade rehearsal once the restarted server reported);
2. points the managed addons folder's ``current`` link at the new release (atomic rename);
3. runs ``odoo-bin -u <changed> -i <new> --stop-after-init`` against the database (nothing
   to install or upgrade: no backup and no upgrade run, only the code switch and restart);
4. on success, asks the server to restart (SIGHUP: Odoo re-executes itself with the new code);
5. on failure, restores the code link and the database (the failed database is kept under
   another name, never dropped), then restarts the server on the old code.

Progress goes to ``status.json`` next to the job file: the receiver reads it after restart.
``restore`` (asked by the deployer when smoke checks fail after a successful upgrade) runs
steps 5 only. ``check DB`` (run by ``igr target init``) says whether this interpreter finds
the PostgreSQL tools the agent needs and reaches the database. Usage:
``python3 agent.py deploy|restore JOB.json`` or ``python3 agent.py check DB``.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

try:  # run as a script on the target, or imported as part of the engine
    from . import agent_check
    from .agent_backup import COPY_RETRIES, DATABASE_REF, BackupMixin, ident, literal
    from .agent_server_upgrade import AgentError, ServerUpgradeMixin
    from .backup_stamp import stamp_sql
except ImportError:  # pragma: no cover - script mode
    import agent_check  # pylint: disable=import-error
    from agent_backup import COPY_RETRIES, DATABASE_REF, BackupMixin, ident, literal  # pylint: disable=import-error
    from agent_server_upgrade import AgentError, ServerUpgradeMixin  # pylint: disable=import-error
    from backup_stamp import stamp_sql  # pylint: disable=import-error

EXCEPTION_LINE = re.compile(r"^[\w.]*?(Error|Exception|Fault): ")  # a traceback's last line
COMMAND_LINE = re.compile(r"^\[agent\] [\d:. -]+ \$ ")  # the agent's log of a command it starts
UPGRADE_TIMEOUT_S = 1800
RESTORE_RETRIES = 10
RESTARTS = ("upgraded", "restored", "restore_failed")  # states the agent restarts the server after


def now():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Agent(BackupMixin, ServerUpgradeMixin):
    def __init__(self, job_path):
        self.job_path = job_path
        with open(job_path, encoding="utf-8") as handle:
            self.job = json.load(handle)
        self.folder = os.path.dirname(os.path.abspath(job_path))
        self.status_path = os.path.join(self.folder, "status.json")
        self.log_path = os.path.join(self.folder, "agent.log")
        self.status = self._read_status()

    # -- steps ------------------------------------------------------------------------------
    def deploy(self):
        changes = self.job.get("upgrade") or self.job.get("install")
        in_server = bool(changes and self.job.get("reexec"))  # the serving server runs the upgrade
        self.log(f"deploy started: upgrade {self.job.get('upgrade') or '-'}, install {self.job.get('install') or '-'}")
        self.held = False  # the re-executed server waits for the agent's word before it starts
        try:
            if changes and not in_server:
                self.start_upgrade()  # Odoo's code loads while the database is copied
                self._set(state="deploying", step="backup")
                self.backup()
            self._set(state="deploying", step="switch code")
            switch_link(self.job["current_link"], self.job["release_dir"])
            if in_server:  # the backup is taken while the server restarts (agent_server_upgrade.py)
                self.upgrade_in_server(UPGRADE_TIMEOUT_S)
            elif changes:
                self._set(step="upgrade")
                self.upgrade()
        except AgentError as exc:
            self.stop_upgrade()
            self.log(f"deploy failed: {exc}")
            self._set(error=str(exc))
            self.restore(reason=str(exc))
            return 1
        if in_server:  # restarted already: only a server started since the SIGHUP reports this
            self._set(state="upgraded", step="serve", upgraded_at=now(), restart_requested_at=self.restarted_at)
            self.accept_upgrade()
        else:
            self._set(state="upgraded", step="restart", upgraded_at=now())
            self.restart_server()
        backup = str(self.status.get("backup_path", ""))
        if backup.startswith(DATABASE_REF):  # off the deploy's path, once the restarted server reported
            self.wait_reported()
            name = backup[len(DATABASE_REF) :]
            self._set(backup_size=self.database_size(name))
            self.psql(stamp_sql(ident, literal, name, self.status["backup_at"], self.fingerprint(name)))  # for rehearsals
            self.prune_backups()
        return 0

    def restore(self, reason=""):
        """Put code and database back as they were before the deploy; keep what failed."""
        self._set(state="restoring", step="restore code", restore_reason=reason or self.status.get("error", ""))
        try:
            switch_link(self.job["current_link"], self.job["previous_dir"])
            if self.status.get("backup_done"):
                self._set(step="restore database")
                failed_name = self.restore_database()
                self._set(failed_database=failed_name)
        except AgentError as exc:
            self.log(f"restore failed: {exc}")
            self._set(state="restore_failed", error=str(exc), finished_at=now(), **self._restart_stamp())
            self.restart_server()
            return 2
        self._set(state="restored", step="restart", finished_at=now(), **self._restart_stamp())
        self.restart_server()
        return 0

    def _restart_stamp(self):
        """A server held before its start serves the restored code when released (no second
        restart): the servers started since the first SIGHUP report the outcome."""
        return {"restart_requested_at": self.restarted_at} if getattr(self, "held", False) else {}

    def upgrade_cmd(self):
        args = [
            f"--addons-path={self.job['addons_path']}",
            f"--data-dir={self.job['data_dir']}",
            "-d",
            self.job["db"],
            "--stop-after-init",
            "--no-http",
            "--max-cron-threads=0",
            "--log-level=info",
            *self.job.get("db_args", []),
        ]
        if self.job.get("upgrade"):
            args += ["-u", ",".join(self.job["upgrade"])]
        if self.job.get("install"):
            args += ["-i", ",".join(self.job["install"])]
        runner = self.job.get("upgrade_process")  # models/delivery/odoo/upgrade_process.py
        if not runner:
            return [self.job["python"], self.job["odoo_bin"], *args]
        refresh = ",".join(self.job.get("upgrade", []) + self.job.get("install", []))
        return [self.job["python"], runner, self.job["odoo_bin"], f"--refresh={refresh}", "--wait", "--", *args]

    def start_upgrade(self):
        """The upgrade process, started ahead: it waits for ``go`` (see upgrade_process.py)."""
        self.upgrade_process = None
        if not self.job.get("upgrade_process"):
            return
        with open(self.log_path, "a", encoding="utf-8") as log:
            try:
                self.upgrade_process = subprocess.Popen(
                    self.upgrade_cmd(), stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=self.pg_env()
                )
            except OSError as exc:
                raise AgentError(f"module upgrade failed: {exc}") from exc

    def stop_upgrade(self):
        process = getattr(self, "upgrade_process", None)
        if process and process.poll() is None:
            process.stdin.close()  # without ``go`` it exits untouched; before ``go`` it touched
            try:  # nothing, so it may as well be killed when still loading Odoo's code
                process.wait(2)
            except subprocess.TimeoutExpired:
                process.kill()

    def upgrade(self):
        process = getattr(self, "upgrade_process", None)
        if not process:
            self.run(self.upgrade_cmd(), "module upgrade", timeout=UPGRADE_TIMEOUT_S, check_log=True)
            return
        self.log(f"$ {' '.join(self.upgrade_cmd())}")
        try:
            process.stdin.write(b"go\n")
            process.stdin.close()
            returncode = process.wait(UPGRADE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            process.kill()
            raise AgentError(f"module upgrade failed: {exc}") from exc
        self.check_result("module upgrade", returncode, check_log=True)

    def restore_database(self):
        """Restore into a fresh database, then swap names: the live one is never half-restored."""
        db = self.job["db"]
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        fresh, failed = f"{db}_restore_{stamp}", f"{db}_failed_{stamp}"
        backup = self.status.get("backup_path") or self.job["backup_path"]
        if backup.startswith(DATABASE_REF):  # a copy: nobody connects to it, it copies at once
            for _attempt in range(COPY_RETRIES):  # but the stamp's reading session may still be closing
                copy = self.psql(f"CREATE DATABASE {ident(fresh)} TEMPLATE {ident(backup[len(DATABASE_REF):])}")
                if copy.returncode == 0 or "being accessed by other users" not in copy.stderr:
                    break
                time.sleep(0.2)
            if copy.returncode:
                raise AgentError(f"database restore failed: {copy.stderr.strip()}")
        else:
            self.run(["createdb", fresh], "create restore database")
            self.run(["pg_restore", "--no-owner", "-d", fresh, backup], "database restore")
        swap = (
            f'ALTER DATABASE "{db}" WITH ALLOW_CONNECTIONS false; '
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid(); "
            f'ALTER DATABASE "{db}" RENAME TO "{failed}"; '
            f'ALTER DATABASE "{fresh}" RENAME TO "{db}"; '
            f'ALTER DATABASE "{failed}" WITH ALLOW_CONNECTIONS true;'
        )
        for attempt in range(RESTORE_RETRIES):
            result = self.psql(swap)
            if result.returncode == 0:
                self.log(f"database {db} restored from {backup}; the failed one is kept as {failed}")
                return failed
            self.log(f"swap attempt {attempt + 1}: {result.stderr.strip()}")
            self.psql(f"ALTER DATABASE {ident(db)} WITH ALLOW_CONNECTIONS true")
            time.sleep(1)
        raise AgentError(f"could not swap the restored database in place of {db} (see agent.log)")

    def restart_server(self):
        """SIGHUP (Odoo re-executes itself); True when sent. A server held before its start
        (agent_server_upgrade.py) is released instead: it has no SIGHUP handler yet."""
        if getattr(self, "held", False):
            self.release_start("abort")
            self.log("the restarting server starts on the code in place")
            return True
        pid = self.job.get("server_pid")
        if pid:
            try:
                os.kill(int(pid), signal.SIGHUP)
                self.log(f"asked the server (pid {pid}) to restart")
                return True
            except OSError as exc:
                self.log(f"cannot signal the server (pid {pid}): {exc}")
        return False

    # -- helpers ----------------------------------------------------------------------------
    def run(self, cmd, what, timeout=600, check_log=False):
        self.log(f"$ {' '.join(cmd)}")
        try:
            with open(self.log_path, "a", encoding="utf-8") as log:
                result = subprocess.run(
                    cmd, stdout=log, stderr=subprocess.STDOUT, env=self.pg_env(), timeout=timeout, check=False
                )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AgentError(f"{what} failed: {exc}") from exc
        self.check_result(what, result.returncode, check_log)

    def check_result(self, what, returncode, check_log=False):
        if returncode != 0:
            raise AgentError(f"{what} failed (exit code {returncode}): {self.last_error()}")
        if check_log and self.last_error(since_marker=True):
            raise AgentError(f"{what} logged errors: {self.last_error(since_marker=True)}")

    def last_error(self, since_marker=False):
        """What went wrong, from the agent log: the last ERROR/CRITICAL line, and the last
        exception of a traceback (the migration's own message) when there is one."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return ""
        if since_marker:
            starts = [i for i, line in enumerate(lines) if COMMAND_LINE.match(line)]
            lines = lines[starts[-1] :] if starts else lines
        errors = [line for line in lines if " ERROR " in line or " CRITICAL " in line]
        message = errors[-1].split(" ERROR ", 1)[-1].split(" CRITICAL ", 1)[-1].strip() if errors else ""
        causes = [line.strip() for line in lines if EXCEPTION_LINE.match(line)]
        if causes and causes[-1] not in message:
            message = f"{causes[-1]} ({message})" if message else causes[-1]
        return message[:500]

    def psql(self, *statements, tuples=False, database="postgres"):
        """Statements on the server's ``postgres`` database (or ``database``), each in its own
        transaction (CREATE DATABASE may not run inside one)."""
        cmd = ["psql", "-w", "-X", "-v", "ON_ERROR_STOP=1", "-d", database, *(["-tA"] if tuples else [])]
        for statement in statements:
            cmd += ["-c", statement]
        return subprocess.run(cmd, capture_output=True, text=True, env=self.pg_env(), timeout=600, check=False)

    def pg_env(self):
        env = dict(os.environ)
        for key, name in (("db_host", "PGHOST"), ("db_port", "PGPORT"), ("db_user", "PGUSER")):
            if self.job.get(key):
                env[name] = str(self.job[key])
        return env

    def log(self, text):
        """One line, stamped to the millisecond (UTC, as Odoo's own lines): the deploy's steps
        can be timed from this log alone."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(f"[agent] {stamp} {text}\n")

    def _read_status(self):
        try:
            with open(self.status_path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def _set(self, **values):
        if values.get("state") in RESTARTS:
            # The server is restarted right after: only a server started since may report this
            # state (release.target.receipt), never the old one still answering meanwhile.
            values.setdefault("restart_requested_at", time.time())
        if values.get("step") and values.get("step") != self.status.get("step"):
            self.log(f"step: {values['step']}")
        self.status.update(values, updated_at=now())
        tmp = self.status_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(self.status, handle, sort_keys=True)
        os.replace(tmp, self.status_path)


def switch_link(link, target):
    """Point symlink ``link`` at ``target`` atomically (a new link renamed over the old one)."""
    if not os.path.isdir(target):
        raise AgentError(f"release folder {target} does not exist")
    tmp = f"{link}.new"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def main(argv):
    if len(argv) == 3 and argv[1] == "check":
        return agent_check.check(argv[2])
    if len(argv) != 3 or argv[1] not in ("deploy", "restore"):
        sys.stderr.write("usage: agent.py deploy|restore JOB.json | check DB\n")
        return 64
    agent = Agent(argv[2])
    return agent.deploy() if argv[1] == "deploy" else agent.restore()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
