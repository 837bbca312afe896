import logging
import os
import time

from odoo import models

from ...engine.execution.docker_runner import LABEL, RunnerError

_logger = logging.getLogger(__name__)

# The one interval of the rare housekeeping, per database and server process: no tick lists
# Docker's containers and volumes more often than this (what it removes holds no slot and no job).
HOUSEKEEPING_S = 60
FOREIGN_AGE_S = 600  # a container of a dropped database is left this long (it may be another cluster's)
_LAST_HOUSEKEEPING = {}  # (database, pid) -> monotonic time of the last housekeeping


class ReleaseSchedulerSweep(models.AbstractModel):
    """The scheduler's housekeeping, every ``HOUSEKEEPING_S`` at most, apart from the tick's
    following of live jobs (which never lists what Docker has): on each host (archived ones
    too) one listing of the product's containers, then the host is marked seen; containers and
    volumes of this database whose job is over, gone or on a later attempt are removed; and
    so are containers left by a database that no longer exists (a test database dropped while
    a job was being created; no reconcile of another database looks at them): not running,
    older than ten minutes, with their job volumes. Shared source tars unused for an hour go."""

    _inherit = "release.scheduler"  # pylint: disable=consider-merging-classes-inherited

    def _housekeeping_due(self):
        """True, and the next one is due ``HOUSEKEEPING_S`` from now, when it is time for one."""
        key = (self.env.registry.db_name, os.getpid())
        now = time.monotonic()
        if key in _LAST_HOUSEKEEPING and now - _LAST_HOUSEKEEPING[key] < HOUSEKEEPING_S:
            return False
        _LAST_HOUSEKEEPING[key] = now
        return True

    def _housekeep(self):
        db = self.env.cr.dbname
        self.env["release.job"]._prune_sources()
        for runner in self.env["release.runner"].search([("active", "in", (True, False))]):
            try:
                client = runner._client()
                containers = client.containers(LABEL, {})
            except RunnerError as exc:
                if runner.last_error != str(exc):
                    runner.last_error = str(exc)
                continue
            self._mark_seen(runner)
            own = {c["Id"]: c.get("Labels") or {} for c in containers if (c.get("Labels") or {}).get("influencegen.db") == db}
            self._remove_orphans(client, own)
            self._sweep_dropped_databases(client, containers=containers)
            self.env["release.job"]._remove_orphan_volumes(client)

    def _sweep_dropped_databases(self, client, age_s=FOREIGN_AGE_S, only=None, containers=None):
        """Ids of the containers removed; ``only`` limits the sweep to one database (tests);
        ``containers``: Docker's listing of the product's containers, if made already."""
        self.env.cr.execute("SELECT datname FROM pg_database")
        existing = {row[0] for row in self.env.cr.fetchall()}
        cutoff = time.time() - age_s
        removed = []
        for container in client.containers(LABEL, {}) if containers is None else containers:
            labels = container.get("Labels") or {}
            database = labels.get("influencegen.db")
            # A warm container idles running (waiting for a job that its dropped database will
            # never give it); any other running one may be another cluster's job.
            running = container.get("State") == "running" and "influencegen.warm" not in labels
            if not database or database in existing or running or only not in (None, database):
                continue
            if container.get("Created", time.time()) > cutoff:
                continue
            try:
                client.remove(container["Id"])
                if labels.get("influencegen.name"):
                    client.remove_volume(labels["influencegen.name"])
            except RunnerError as exc:
                _logger.warning("container %s of dropped database %s: %s", container["Id"][:12], database, exc)
                continue
            _logger.info("removed container %s of dropped database %s", container["Id"][:12], database)
            removed.append(container["Id"])
        return removed
