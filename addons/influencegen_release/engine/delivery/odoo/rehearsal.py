"""The upgrade rehearsal a target runs beside itself (no Odoo import), before the CAB decides.

Started by ``release.target.receipt.api_rehearse`` as its own process, like the deploy agent
(whose helpers it reuses), with a job file naming the planned receipt:

1. a copy of production without touching it: ``CREATE DATABASE ... TEMPLATE`` of the newest
   backup database (``<db>_bk_*``: nobody is connected to one, so the server copies its files at
   once) whose module table is production's as it is now (a fingerprint over every module's
   name, state, version and last write: a deploy since the backup changes it) and that is at
   most ``BASE_MAX_AGE_S`` old; without one, production is copied by ``pg_dump -Fd`` (only
   read, none of its sessions is closed) restored straight into the rehearsal database: no
   other copy of production is made or kept. A deploy's own backup is taken before its
   upgrade, so it seldom fits;
2. that copy is the rehearsal database ``<db>_rehearsal_<receipt>_<time>``, the rehearsal's
   alone (rehearsals at the same time share nothing);
3. neutralized (``odoo-bin neutralize``: no outgoing mail, crons off, payment providers off);
4. exactly the planned upgrade (``-u`` / ``-i``) run there with the package's code;
5. the report: modules installed and upgraded, duration, warnings and errors of the log,
   database size (after the upgrade; the copy's when the upgrade failed), where the copy came
   from; then the rehearsal database and its files are dropped, whatever happened.

Progress and the report go to ``status.json`` beside the job file. Usage:
``python3 rehearsal.py JOB.json``. ``start_rehearsal`` and ``rehearsal_report`` are the
control plane's side.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime

try:  # run as a script beside agent.py (the target), or imported as part of the engine
    from . import agent
    from .backup_stamp import read_stamp
except ImportError:  # pragma: no cover - script mode
    import agent  # pylint: disable=import-error
    from backup_stamp import read_stamp  # pylint: disable=import-error

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (WARNING|ERROR|CRITICAL) \S+ (.*)$")
MAX_LINES = 50  # warnings and errors reported, each list
DONE = ("passed", "failed")
BASE_MAX_AGE_S = 24 * 3600  # an older backup is not copied: the rehearsal would miss a day of data
OLD_BASE_SUFFIX = "_bk_rehearsal"  # the copy of production earlier versions kept: dropped
DUMP_ATTEMPTS = 3


class Rehearsal(agent.Agent):
    def rehearse(self):
        job = self.job
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        rehearsal_db = f"{job['db']}_rehearsal_{job['receipt']}_{stamp}"
        data_dir = os.path.join(self.folder, "data")
        started = time.monotonic()
        self._set(state="running", step="copy", database=rehearsal_db, started_at=agent.now())
        try:
            source = self._copy(rehearsal_db)
            self._set(step="neutralize", copied_from=source, size_bytes=self.database_size(rehearsal_db))
            self.run([*self._odoo("neutralize", rehearsal_db, data_dir)], "neutralize")
            self._set(step="upgrade")
            upgrade_started = time.monotonic()
            self.run(self._upgrade_cmd(rehearsal_db, data_dir), "rehearsed upgrade", timeout=agent.UPGRADE_TIMEOUT_S, check_log=True)
            self._set(upgrade_s=round(time.monotonic() - upgrade_started, 2), size_bytes=self.database_size(rehearsal_db))
            state, error = "passed", ""
        except agent.AgentError as exc:
            state, error = "failed", str(exc)
            self.log(f"rehearsal failed: {exc}")
        finally:
            self._drop(rehearsal_db, data_dir)
        warnings, errors = log_findings(self.log_path)
        self._set(
            state=state,
            step="done",
            error=error,
            warnings=warnings,
            errors=errors,
            install=job.get("install", []),
            upgrade=job.get("upgrade", []),
            duration_s=round(time.monotonic() - started, 2),
            finished_at=agent.now(),
        )
        return 0 if state == "passed" else 1

    def _odoo(self, command, database, data_dir):
        job = self.job
        return [
            job["python"], job["odoo_bin"], *([command] if command else []),
            f"--addons-path={job['addons_path']}", f"--data-dir={data_dir}", "-d", database,
            *([] if command else ["--stop-after-init", "--no-http", "--max-cron-threads=0", "--log-level=info"]),
            *job.get("db_args", []),
        ]  # fmt: skip

    def _upgrade_cmd(self, database, data_dir):
        """The deploy's own upgrade process when the target names it (upgrade_process.py: the
        same module-list refresh and exit), so that the rehearsal times what the deploy runs."""
        job = self.job
        python, odoo_bin, *args = [*self._odoo(None, database, data_dir), *self._plan_args()]
        if not job.get("upgrade_process"):
            return [python, odoo_bin, *args]
        refresh = ",".join(job.get("upgrade", []) + job.get("install", []))
        return [python, job["upgrade_process"], odoo_bin, f"--refresh={refresh}", "--", *args]

    def _plan_args(self):
        args = []
        if self.job.get("upgrade"):
            args += ["-u", ",".join(self.job["upgrade"])]
        if self.job.get("install"):
            args += ["-i", ",".join(self.job["install"])]
        return args

    def _copy(self, rehearsal_db):
        """``rehearsal_db`` as a copy of the newest backup that fits, else of production by
        ``pg_dump`` restored straight into it; returns where it came from. Production is only
        read (its fingerprint, or a pg_dump); nothing but the rehearsal database is created."""
        db = self.job["db"]
        self._drop_old_base()
        fingerprint = self.fingerprint(db)
        source = next((name for name, stamp in self._backups() if self._fits(name, stamp, fingerprint)), None)
        if source == db:
            raise agent.AgentError(f"refusing to copy {db} itself: a rehearsal never touches production")
        self._set(created=True)
        if not source:
            self._dump_into(rehearsal_db)
            return f"{db} (pg_dump)"
        for attempt in range(agent.COPY_RETRIES):  # a session that read the backup may still be closing
            result = self.psql(f"CREATE DATABASE {agent.ident(rehearsal_db)} TEMPLATE {agent.ident(source)}")
            if result.returncode == 0:
                self.log(f"rehearsal database {rehearsal_db} copied from the backup {source}")
                return source
            self.log(f"copy attempt {attempt + 1}: {result.stderr.strip()}")
            time.sleep(0.2)
        raise agent.AgentError(f"copy of the backup {source} failed: {result.stderr.strip()}")

    def _backups(self):
        """This database's backup databases stamped by the agent or a rehearsal, newest first,
        at most BASE_MAX_AGE_S old: ``[(name, stamp)]``."""
        db = self.job["db"]
        pattern = agent.literal(db.replace("_", "\\_") + "\\_bk\\_%")
        listed = self.psql(
            "SELECT coalesce(json_agg(json_build_object('name', datname, 'comment', shobj_description(oid, 'pg_database'))), '[]') "
            f"FROM pg_database WHERE datname LIKE {pattern} AND datallowconn",
            tuples=True,
        )
        backups = []
        for row in json.loads(listed.stdout.strip() or "[]") if listed.returncode == 0 else []:
            stamp = read_stamp(row.get("comment"))
            if stamp and time.time() - stamp["taken_at"] <= BASE_MAX_AGE_S:
                backups.append((stamp["taken_at"], row["name"], stamp))
        return [(name, stamp) for _taken, name, stamp in sorted(backups, reverse=True)]

    def _fits(self, name, stamp, fingerprint):
        fits = bool(fingerprint) and stamp["modules"] == fingerprint
        verdict = "fits" if fits else "its modules are not production's now"
        self.log(f"backup {name} taken at {stamp['taken_at']}: {verdict}")
        return fits

    def _dump_into(self, rehearsal_db):
        """Production by ``pg_dump`` (it only reads; its own file per rehearsal, so rehearsals
        at the same time never share anything), restored into ``rehearsal_db``. A dump ended by
        a deploy's backup (which closes production's sessions for its copy) is taken again."""
        db = self.job["db"]
        dump = os.path.join(self.folder, "production.dump")
        for attempt in range(DUMP_ATTEMPTS):
            shutil.rmtree(dump, ignore_errors=True)
            try:  # a directory dump, uncompressed, two jobs: read and restored at once, then removed
                self.run(["pg_dump", "-Fd", "--jobs=2", "--compress=0", "--no-owner", "-f", dump, db], "copy of the production database")
                break
            except agent.AgentError:
                if attempt + 1 == DUMP_ATTEMPTS:
                    raise
                self.log(f"pg_dump attempt {attempt + 1} failed: taking it again")
                time.sleep(1)
        self.run(["createdb", rehearsal_db], "create the rehearsal database")
        # One transaction: one commit instead of one per table and index (twice as fast here).
        self.run(["pg_restore", "--no-owner", "--single-transaction", "-d", rehearsal_db, dump], "restore into the rehearsal database")
        shutil.rmtree(dump, ignore_errors=True)
        self.log(f"rehearsal database {rehearsal_db} restored from a pg_dump of {db}")

    def _drop_old_base(self):
        """The full copy of production earlier versions kept for the next rehearsals: dropped."""
        base = f"{self.job['db']}{OLD_BASE_SUFFIX}"
        result = self.psql(f"DROP DATABASE IF EXISTS {agent.ident(base)}")
        if "does not exist" not in result.stderr:
            self.log(f"{base} dropped: {result.stderr.strip() or 'done'}")

    def _drop(self, database, data_dir):
        """The rehearsal database never outlives the rehearsal (only it: never the production one)."""
        if database == self.job["db"] or "_rehearsal_" not in database:
            raise agent.AgentError(f"refusing to drop {database}: not a rehearsal database")
        result = subprocess.run(
            ["dropdb", "--if-exists", "--force", database], capture_output=True, text=True, env=self.pg_env(), check=False
        )
        self.log(f"dropped {database}" if result.returncode == 0 else f"dropping {database} failed: {result.stderr.strip()}")
        self._set(dropped=result.returncode == 0)
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(os.path.join(self.folder, "production.dump"), ignore_errors=True)


def log_findings(log_path):
    """``(warnings, errors)``: the WARNING and ERROR/CRITICAL lines of the Odoo log, plus the last
    exception of each traceback (a migration's own message), at most MAX_LINES each."""
    warnings, errors = [], []
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return warnings, errors
    for line in lines:
        match = LOG_LINE.match(line)
        if match:
            (warnings if match.group(1) == "WARNING" else errors).append(match.group(2)[:300])
        elif agent.EXCEPTION_LINE.match(line) and line.strip() not in errors:
            errors.append(line.strip()[:300])
    return warnings[:MAX_LINES], errors[:MAX_LINES]


def start_rehearsal(target, package_path, sha256, manifest):
    """The control plane's side: plan the package on ``target`` (an OdooTarget) and have it
    rehearse that plan; returns the plan (``receipt``, ``plan``, ``plan_digest``)."""
    planned = target.plan(package_path, sha256, manifest.get("version", ""), manifest.get("commit", ""))
    target.call("api_rehearse", [planned["receipt"]], planned["plan_digest"])
    return planned


def rehearsal_report(target, receipt):
    """The rehearsal's report so far (``state`` in DONE once it ended)."""
    return target.call("api_rehearsal", [receipt])


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: rehearsal.py JOB.json\n")
        return 64
    return Rehearsal(argv[1]).rehearse()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
