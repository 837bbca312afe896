from datetime import timedelta

from psycopg2 import OperationalError

from odoo import fields, models

LEASE_S = 15  # a worker that missed its heartbeats this long is dead: its job is recovered
HEARTBEAT_S = 3
TRANSIENT_RETRIES = 5  # a transient database error is retried this often, with back-off, then fails
BACKOFF_MAX_S = 60


def transient(exc):
    """Errors that a later try may not meet: serialization failures, deadlocks, lock
    timeouts, a lost connection (psycopg2 raises them all as OperationalError)."""
    return isinstance(exc, OperationalError)


def backoff_s(retries):
    return min(2**retries, BACKOFF_MAX_S)


class ReleaseJobLease(models.Model):
    """Who runs a built-in job now, kept apart from ``release.job`` so that heartbeats never
    touch the job's row while the worker's own transaction may be writing it (a concurrent
    update of one row fails a REPEATABLE READ transaction).

    A lease is *held* (``owner`` set): a worker thread of one server runs the job and renews
    ``expires_at`` every few seconds; or *waiting* (no owner): the job is queued again and no
    worker may take it before ``expires_at`` (the back-off after a transient error), and with
    ``adopt`` the next worker re-reads the target's state instead of starting the job over
    (the worker that ran it died). The scheduler's reconcile reads them; see
    ``release.scheduler``'s built-in part."""

    _name = "release.job.lease"
    _description = "Lease of a built-in job held by a worker"
    _log_access = False

    job_id = fields.Many2one("release.job", required=True, ondelete="cascade", index=True)
    owner = fields.Char(help="host:pid:pool of the worker holding the lease; empty while the job waits.")
    heartbeat_at = fields.Datetime()
    expires_at = fields.Datetime(required=True)
    adopt = fields.Boolean(help="The next worker re-reads the target's state: the one before it died mid-action.")
    retries = fields.Integer(help="Transient errors met so far (each waits longer before the next try).")

    _sql_constraints = [("job_unique", "unique(job_id)", "A job has one lease at a time.")]

    def _hold(self, job, owner):
        """The lease of ``job`` (locked, queued) held by ``owner`` from now; a waiting lease
        becomes it, with what it says (adopt, retries)."""
        now = fields.Datetime.now()
        vals = {"owner": owner, "heartbeat_at": now, "expires_at": now + timedelta(seconds=LEASE_S)}
        waiting = self.search([("job_id", "=", job.id)])
        if waiting:
            waiting.write(vals)
            return waiting
        return self.create(dict(vals, job_id=job.id))

    def _wait(self, job, seconds, adopt=False):
        """The job waits ``seconds`` before a worker may take it again."""
        self.search([("job_id", "=", job.id)]).unlink()
        return self.create(
            {"job_id": job.id, "expires_at": fields.Datetime.now() + timedelta(seconds=seconds), "adopt": adopt}
        )

    def _renew(self, owner, job_ids):
        """The heartbeat: one UPDATE of the lease rows only, never of the jobs' rows. Odoo
        datetimes are naive UTC."""
        self.env.cr.execute("SET LOCAL lock_timeout = '2s'")
        self.env.cr.execute(
            """UPDATE release_job_lease SET heartbeat_at = now() AT TIME ZONE 'UTC',
                      expires_at = now() AT TIME ZONE 'UTC' + make_interval(secs => %s)
               WHERE owner = %s AND job_id = ANY(%s)""",
            [LEASE_S, owner, list(job_ids)],
        )
