"""The deploy agent's backups (agent.py's ``Agent`` mixes this in): a server-side copy of the
database (``CREATE DATABASE ... TEMPLATE``), else a ``pg_dump``; the newest ``KEEP_BACKUPS``
copies kept; each copy's size and stamp (backup_stamp.py) written once the restarted server
reported, off the deploy's path."""

import os
import time

try:  # run as a script on the target, or imported as part of the engine
    from .backup_stamp import FINGERPRINT
except ImportError:  # pragma: no cover - script mode
    from backup_stamp import FINGERPRINT  # pylint: disable=import-error

KEEP_BACKUPS = 2  # backup databases kept per target: a rollback restores the newest deploy's
COPY_RETRIES = 5
DATABASE_REF = "database:"  # a backup that is a database of the same server, not a dump file


class BackupMixin:
    def backup(self, wait_idle=True):
        copy = None if self.job.get("backup") == "dump" else self.copy_database(wait_idle)
        if copy:
            self._set(backup_done=True, backup_path=f"{DATABASE_REF}{copy}", backup_at=time.time())
            return
        path = self.job["backup_path"]
        self.run(["pg_dump", "-Fc", "--no-owner", "-f", path, self.job["db"]], "database backup")
        self._set(backup_done=True, backup_path=path, backup_size=os.path.getsize(path))

    def copy_database(self, wait_idle=True):
        """``CREATE DATABASE ... TEMPLATE`` needs the source without connections: the server's
        pooled ones are closed and new ones refused for the copy's duration (the server answers
        errors meanwhile: that is the deploy's downtime, measured by the deployer). Returns the
        copy's name, or None when the server refuses (then a dump is taken). ``wait_idle``
        False: the server is stopping (its requests are ended anyway), the first attempt does
        not wait for its sessions."""
        db = self.job["db"]
        name = f"{db}_bk_{os.path.basename(self.folder)}"
        self.psql(f"DROP DATABASE IF EXISTS {ident(name)}")  # a copy an interrupted deploy left
        for attempt in range(COPY_RETRIES):
            self.wait_idle(db, timeout=2.0 if wait_idle or attempt else 0.0)
            started = time.monotonic()
            result = self.psql(
                f"ALTER DATABASE {ident(db)} WITH ALLOW_CONNECTIONS false",
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {literal(db)} AND pid <> pg_backend_pid()",
                f"CREATE DATABASE {ident(name)} TEMPLATE {ident(db)}",
            )
            self.psql(f"ALTER DATABASE {ident(db)} WITH ALLOW_CONNECTIONS true")  # always, whatever happened
            if result.returncode == 0:
                self.log(f"database {db} copied to {name} in {time.monotonic() - started:.2f} s")
                return name
            self.log(f"copy attempt {attempt + 1}: {result.stderr.strip()}")
            if "permission denied" in result.stderr or "must be owner" in result.stderr:
                break
            time.sleep(0.2)
        self.log("the database server would not copy the database: taking a pg_dump instead")
        return None

    def wait_idle(self, db, timeout=2.0):
        """Until no session of ``db`` is inside a transaction (the request that started this
        agent is still committing): closing it then would fail that request. Bounded."""
        busy = (f"SELECT count(*) FROM pg_stat_activity WHERE datname = {literal(db)} "
                "AND state IS DISTINCT FROM 'idle' AND pid <> pg_backend_pid()")
        started = time.monotonic()
        while time.monotonic() < started + timeout and self.psql(busy, tuples=True).stdout.strip() not in ("0", ""):
            time.sleep(0.05)
        self.log(f"waited {time.monotonic() - started:.2f} s for the sessions of {db} to leave their transactions")

    def wait_reported(self, timeout=120):
        """Until the restarted server recorded this deploy's outcome (the deployer asked it):
        dropping an old backup forces a checkpoint, whose writes would slow the restart."""
        receipt = os.path.basename(self.folder)
        query = f"SELECT state FROM release_target_receipt WHERE id = {int(receipt) if receipt.isdigit() else 0}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.psql(query, tuples=True, database=self.job["db"]).stdout.strip() == "deploying":
            time.sleep(0.5)

    def prune_backups(self):
        db = self.job["db"]
        pattern = literal(db.replace("_", "\\_") + "\\_bk\\_%")
        listed = self.psql(f"SELECT datname FROM pg_database WHERE datname LIKE {pattern}", tuples=True)
        prefix = f"{db}_bk_"
        copies = sorted((int(n[len(prefix):]), n) for n in listed.stdout.split() if n[len(prefix):].isdigit())
        for _number, name in copies[:-KEEP_BACKUPS]:
            self.psql(f"DROP DATABASE IF EXISTS {ident(name)}")
            self.log(f"older backup {name} dropped (the newest {KEEP_BACKUPS} are kept)")

    def database_size(self, name):
        result = self.psql(f"SELECT pg_database_size({literal(name)})", tuples=True)
        if result.returncode or not result.stdout.strip().isdigit():
            self.log(f"size of {name} unknown: {result.stderr.strip() or result.stdout.strip()}")
            return 0
        return int(result.stdout.strip())

    def fingerprint(self, database):
        """The module table's fingerprint (backup_stamp.py), read in ``database``; "" if unreadable."""
        result = self.psql(FINGERPRINT, tuples=True, database=database)
        return result.stdout.strip() if result.returncode == 0 else ""


def ident(name):
    return '"' + name.replace('"', '""') + '"'


def literal(value):
    return "'" + value.replace("'", "''") + "'"
