import logging
import os
import time

from odoo import models

from ...engine.execution.docker_runner import LABEL, RunnerError

_logger = logging.getLogger(__name__)

SWEEP_EVERY_S = 300  # per engine and process: one listing of every product container
FOREIGN_AGE_S = 600  # a container of a dropped database is left this long (it may be another cluster's)
_LAST_SWEEP = {}  # (engine URL, pid) -> monotonic time of the last sweep


class ReleaseSchedulerSweep(models.AbstractModel):
    """Containers left by a database that no longer exists (a test database dropped while a
    job was being created): no reconcile ever looks at them, since each reconciles its own
    database's containers only. Every few minutes, the containers of the product on an
    engine whose database is not on this PostgreSQL server, not running, and older than ten
    minutes are removed with their job volumes."""

    _inherit = "release.scheduler"  # pylint: disable=consider-merging-classes-inherited

    def _sweep_dropped_databases(self, client, age_s=FOREIGN_AGE_S, only=None):
        """Ids of the containers removed; ``only`` limits the sweep to one database (tests)."""
        key = (client.base_url, os.getpid())
        now = time.monotonic()
        if only is None and key in _LAST_SWEEP and now - _LAST_SWEEP[key] < SWEEP_EVERY_S:
            return []
        if only is None:
            _LAST_SWEEP[key] = now
        self.env.cr.execute("SELECT datname FROM pg_database")
        existing = {row[0] for row in self.env.cr.fetchall()}
        cutoff = time.time() - age_s
        removed = []
        for container in client.containers(LABEL, {}):
            labels = container.get("Labels") or {}
            database = labels.get("influencegen.db")
            if not database or database in existing or container.get("State") == "running" or only not in (None, database):
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
