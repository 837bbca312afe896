import functools
import logging
import os
import socket
import threading
import time
import traceback
import uuid

from markupsafe import Markup
from psycopg2 import OperationalError

from odoo import SUPERUSER_ID, api, fields, models
from odoo.modules.registry import Registry
from odoo.service import server as service
from odoo.tools import config

from ...engine.delivery.odoo.target import TargetError, verify
from ...engine.execution.docker_runner import RunnerError
from ...engine.execution.worker_pool import WorkerPool
from .release_action import ActionError
from .release_job_lease import HEARTBEAT_S, TRANSIENT_RETRIES, backoff_s, transient
from .release_scheduler import TICK_BUDGET_S
from .release_scheduler_loop import CHANNEL, DEFER_UI, loop_of, running_loop

_logger = logging.getLogger(__name__)

WORKERS = 8  # built-in jobs running at once per server process (each holds a thread and a cursor)
_POOLS = {}  # (database, pid) -> WorkerPool: a forked process gets pools of its own
_POOLS_LOCK = threading.Lock()


def _heartbeat(db_name, owner, job_ids):
    with Registry(db_name).cursor() as cr:
        api.Environment(cr, SUPERUSER_ID, {})["release.job.lease"]._renew(owner, job_ids)


class ReleaseSchedulerWorkers(models.AbstractModel):
    """Work outside the cron's tick. The loop: each serving process runs the scheduler in a
    thread of its own (``release_scheduler_loop.Loop``), woken by NOTIFY; the cron only
    starts it. Built-in jobs (``uses:``) run outside the tick, by worker threads of the server, under
    a lease with a heartbeat (``release.job.lease``). The tick only hands them over and, in
    the reconcile, ends those whose timeout passed, whose run was cancelled or whose worker
    died (the lease expired): a deploy is then adopted by the next worker, which re-reads the
    target's agent state instead of deploying again; other actions fail with the reason.

    In tests (one shared test cursor) the worker's part runs in the tick's thread."""

    _inherit = "release.scheduler"  # pylint: disable=consider-merging-classes-inherited

    # -- the loop: this process's scheduler ----------------------------------------------------
    @api.model
    def _cron_tick(self, budget=None):
        """The cron (and any trigger) makes sure this process's loop runs and wakes it. With a
        ``budget`` (scripts, tests) the ticks run here, in the caller's thread, as long."""
        if budget is None and self._loop_allowed():
            self._loop().wake()
            return
        super()._cron_tick(budget or TICK_BUDGET_S)

    @api.model
    def _wake(self):
        """Work is waiting: every server's loop wakes when this transaction commits (NOTIFY),
        and the cron starts a loop where none runs yet."""
        self.env.cr.execute("SELECT pg_notify(%s, %s)", [CHANNEL, self.env.cr.dbname])
        self.env.ref("influencegen_release.ir_cron_release_scheduler").sudo()._trigger()
        if self._loop_allowed() and not config["workers"]:  # threaded server: HTTP and cron share the process
            self._loop()

    def _loop(self):
        return loop_of(self.env.cr.dbname)

    def _watch_events(self, client):
        """The loop of this process follows ``client``'s engine's events (a container that
        ends wakes it); without a loop (tests, scripts) the poll alone does."""
        loop = running_loop(self.env.cr.dbname) if self._loop_allowed() else None
        if loop is not None:
            loop.watch((client.base_url, repr(client.tls)), client.base_url, client.tls)

    def _loop_allowed(self):
        """Loops run in serving processes only: not in tests (one shared cursor), not in a
        shell or an install (no server)."""
        return getattr(self.env.registry, "test_cr", None) is None and service.server is not None

    # -- the tick's part ----------------------------------------------------------------------
    def _hand_over_builtins(self):
        for job_id in self._step("_checklist_job_ids"):
            self._guarded("_open_checklist", job_id)
        pool = self._builtin_pool()
        limit = pool.free() if pool else WORKERS
        if limit <= 0:
            return
        owner = self._lease_owner()
        for job_id, adopt in self._guarded("_claim_builtins", owner, limit) or []:
            # A worker outlives the tick: what it changes is told at once, not at the tick's end.
            work = functools.partial(self.with_context(**{DEFER_UI: False})._execute_builtin, job_id, owner, adopt)
            if pool is None:
                work()
            elif not pool.submit(job_id, work):
                self._guarded("_unclaim_builtin", job_id)

    def _checklist_job_ids(self):
        self.env.cr.execute("SELECT id FROM release_job WHERE state = 'queued' AND mode = 'checklist' ORDER BY id")
        return [row[0] for row in self.env.cr.fetchall()]

    def _open_checklist(self, job_id):
        self.env.cr.execute(
            "SELECT id FROM release_job WHERE id = %s AND state = 'queued' FOR UPDATE SKIP LOCKED", [job_id]
        )
        if self.env.cr.fetchone():
            self.env["release.job"].browse(job_id)._run_checklist()

    def _claim_builtins(self, owner, limit):
        """Queued built-in jobs, up to ``limit``, leased to ``owner`` and running from now;
        ``[(job id, adopt)]``. Jobs in their back-off wait."""
        self.env.cr.execute(
            """SELECT j.id FROM release_job j
               WHERE j.state = 'queued' AND j.mode = 'uses' AND NOT EXISTS (
                   SELECT 1 FROM release_job_lease l WHERE l.job_id = j.id AND l.expires_at > %s)
               ORDER BY j.id LIMIT %s FOR UPDATE OF j SKIP LOCKED""",
            [fields.Datetime.now(), limit],
        )
        claimed = []
        for job in self.env["release.job"].browse([row[0] for row in self.env.cr.fetchall()]):
            try:
                with self.env.cr.savepoint():
                    lease = self.env["release.job.lease"]._hold(job, owner)
                    job._start()
                    claimed.append((job.id, lease.adopt))
            except Exception:  # this job's data is broken: it fails alone
                _logger.exception("job %s: handing it to a worker failed", job.id)
                self._fail_unexpected(job, traceback.format_exc())
        return claimed

    def _unclaim_builtin(self, job_id):
        job = self.env["release.job"].browse(job_id)
        self.env["release.job.lease"].search([("job_id", "=", job_id)]).unlink()
        job._requeue("no free worker")

    def _recover_builtins(self):
        """Running built-in jobs past their timeout, of a cancelled run, or whose lease expired."""
        now = fields.Datetime.now()
        # NO KEY UPDATE: a worker's transaction holds KEY SHARE locks on its job (the rows it
        # creates refer to it), which must not hide the job from its timeout.
        self.env.cr.execute(
            """SELECT j.id FROM release_job j JOIN release_run r ON r.id = j.run_id
               LEFT JOIN release_job_lease l ON l.job_id = j.id
               WHERE j.state = 'running' AND j.mode = 'uses'
                 AND (l.id IS NULL OR l.owner IS NULL OR l.expires_at < %s OR j.deadline_at < %s OR r.cancel_requested)
               ORDER BY j.id FOR NO KEY UPDATE OF j SKIP LOCKED""",
            [now, now],
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _recover_builtin(self, job_id):
        self.env.cr.execute(
            "SELECT id FROM release_job WHERE id = %s AND state = 'running' FOR NO KEY UPDATE SKIP LOCKED", [job_id]
        )
        if not self.env.cr.fetchone():
            return
        job = self.env["release.job"].browse(job_id)
        lease = self.env["release.job.lease"].search([("job_id", "=", job_id)])
        now = fields.Datetime.now()
        late = "; what the action did is added to this log if it ends"
        if job.run_id.cancel_requested:
            lease.unlink()
            job._finish("cancelled", reason="cancelled while the action ran" + late)
        elif job.deadline_at and now > job.deadline_at:
            lease.unlink()
            job._fail(f"timed out after {job._spec()['timeout']} s" + late)
        elif not (lease.owner and lease.expires_at >= now):
            self._worker_died(job, lease)

    def _worker_died(self, job, lease):
        """The worker holding the job stopped (its server was killed): a deploy goes to the
        next worker, which re-reads the target's state; any other action fails, as it may have
        changed things half-way and is not repeated behind anyone's back."""
        who = (
            self.env._("worker %(owner)s (last heartbeat %(at)s UTC)", owner=lease.owner, at=lease.heartbeat_at)
            if lease.owner
            else self.env._("a worker that left no lease")
        )
        if job._spec()["uses"] in self._adoptable():
            lease.unlink()
            job._requeue(f"{who} stopped")
            self.env["release.job.lease"]._wait(job, 0, adopt=True)
            body = self.env._(
                "%(job)s: %(who)s stopped; the next worker reads the target's deploy state and goes on from there.",
                job=job.name,
                who=who,
            )
        else:
            reason = self.env._(
                "%(who)s stopped while running this action; it is not started again, as it may have changed things half-way: retry the run",
                who=who,
            )
            lease.unlink()
            job._fail(reason)
            body = f"{job.name}: {reason}"
        job.run_id.message_post(body=body)

    # -- the worker's part --------------------------------------------------------------------
    def _execute_builtin(self, job_id, owner, adopt=False):
        """One built-in job in a worker: the action in its own transaction (a failed deploy's
        records are kept with the failure), then the outcome in another one, if the lease is
        still this worker's (the reconcile may have ended the job meanwhile)."""
        threading.current_thread().dbname = self.env.registry.db_name
        try:
            outcome = self._step("_builtin_action", job_id, adopt)
        except Exception as exc:  # the action's transaction is rolled back; the job says why
            outcome = ("transient" if transient(exc) else "error", traceback.format_exc())
        for attempt in range(3):
            try:
                self._step("_settle_builtin", job_id, owner, *outcome)
                return
            except OperationalError:  # the reconcile ended the job at the same moment: read again
                time.sleep(0.2 * (attempt + 1))
            except Exception:
                _logger.exception("job %s: recording its outcome failed", job_id)
                break
        _logger.error("job %s: its outcome could not be recorded; the reconcile ends it by its lease", job_id)

    def _builtin_action(self, job_id, adopt):
        job = self.env["release.job"].browse(job_id)
        task = job._spec()
        try:
            adopt_method = adopt and self._adoptable().get(task["uses"])
            message = (
                getattr(self, adopt_method)(job, task) if adopt_method else self.env["release.action"]._run(job, task)
            )
        except (ActionError, RunnerError) as exc:
            return ("failed", str(exc))
        return ("succeeded", message)

    def _settle_builtin(self, job_id, owner, outcome, text):
        cr = self.env.cr
        # The job's row first, then its lease: the reconcile locks them in that order too.
        cr.execute("SELECT id FROM release_job WHERE id = %s FOR NO KEY UPDATE", [job_id])
        cr.execute("SELECT id FROM release_job_lease WHERE job_id = %s AND owner = %s FOR UPDATE", [job_id, owner])
        held = cr.fetchone()
        job = self.env["release.job"].browse(job_id)
        if not held or job.state != "running":
            job._append_log(f"\n[influencegen] the action ended after the job was closed ({outcome}): {text}\n")
            return
        lease = self.env["release.job.lease"].browse(held[0])
        self.env.cr.execute("SELECT pg_notify(%s, %s)", [CHANNEL, self.env.cr.dbname])  # the run goes on at once
        if outcome == "succeeded":
            lease.unlink()
            job._append_log(text + "\n")
            job._finish("succeeded", exit_code=0)
        elif outcome == "failed":
            lease.unlink()
            job._fail(text)
        elif outcome == "transient" and lease.retries < TRANSIENT_RETRIES:
            delay = backoff_s(lease.retries)
            job._append_log(
                f"\n[influencegen] a transient database error stopped the action; it runs again in {delay} s:\n{text}\n"
            )
            job._requeue("transient database error")
            lease.write(
                {
                    "owner": False,
                    "expires_at": fields.Datetime.add(fields.Datetime.now(), seconds=delay),
                    "retries": lease.retries + 1,
                }
            )
        else:
            lease.unlink()
            self._fail_unexpected(job, text)

    def _fail_unexpected(self, job, text):
        """An error nobody expected: the traceback in the job's log and the run's chatter.
        When even that fails (the job's snapshot is unreadable, so its secrets cannot be
        masked), the job fails with the error's last line only."""
        last = text.strip().splitlines()[-1] if text.strip() else "?"
        intro = self.env._("%(job)s failed on an unexpected error:", job=job.name)
        try:
            with self.env.cr.savepoint():
                text = job._masker().mask(text)
                job._append_log(f"\n[influencegen] unexpected error:\n{text}\n")
                job._fail(f"unexpected error: {job._masker().mask(last)}")
                job.run_id.message_post(body=Markup("<p>%s</p><pre>%s</pre>") % (intro, text))
        except Exception:
            _logger.exception("job %s: its unexpected error cannot be logged", job.id)
            job.write({"state": "failed", "finished_at": fields.Datetime.now(), "failure_reason": f"unexpected error: {last}"})
            job.run_id.message_post(body=Markup("<p>%s</p><pre>%s</pre>") % (intro, last))

    # -- adopting a deploy whose worker died ------------------------------------------------
    def _adoptable(self):
        """Actions that a new worker can take over from a dead one: ``{uses: method}``."""
        return {"odoo.deploy": "_adopt_odoo_deploy"}

    def _adopt_odoo_deploy(self, job, task):
        """The target's deploy agent keeps the receipt of every package it got: the newest one
        of this package says how far the deploy went. Planned only (or none): nothing changed
        on the target, the deploy runs from the start; deploying: wait for the agent; done:
        record what it did, as the dead worker would have."""
        Action = self.env["release.action.odoo"]
        environment, artifact = Action._odoo_stage(job)
        try:
            target = self.env["release.deployer.odoo"]._target(environment)
            found = target.call("search_read", [("package_sha256", "=", artifact.sha256)], ["state"], 0, 1, "id desc")
        except (TargetError, ValueError) as exc:
            raise ActionError(
                f"the worker running this deploy stopped, and {environment.code}'s deploy state cannot be read: {exc}"
            ) from exc
        if not found or found[0]["state"] == "planned":
            log = self.env["release.action"]._run(job, task)
            return f"the worker running this deploy stopped before {environment.code} started it: deployed from the start\n{log}"
        deployment = environment._new_deployment(artifact, job.run_id, job)
        try:
            summary = target.wait(found[0]["id"], timeout=task["timeout"])
            if summary["state"] != "upgraded":
                raise TargetError(f"the upgrade failed and code and database were restored: {summary.get('error')}")
            target.wait_healthy()
            problems = verify(target, artifact._manifest())
            if problems:
                raise TargetError("; ".join(problems))
        except TargetError as exc:
            deployment._finish("error", error=str(exc))
            return Action._deploy_log(environment, artifact, deployment)
        plan = summary.get("plan") or {}
        deployment._finish(
            "deployed" if plan.get("install") or plan.get("upgrade") else "unchanged",
            plan="\n".join(
                f"{key}: {', '.join(plan.get(key) or []) or '-'}" for key in ("install", "upgrade", "unchanged")
            ),
            backup_ref=summary.get("backup_path") or False,
            target_receipt=summary["receipt"],
            timeline=f"adopted receipt {summary['receipt']} after the worker that started it stopped",
        )
        return Action._deploy_log(environment, artifact, deployment)

    # -- helpers ----------------------------------------------------------------------------
    def _builtin_pool(self):
        """This process's worker pool for this database; None in tests (one shared cursor)."""
        if getattr(self.env.registry, "test_cr", None) is not None:
            return None
        key = (self.env.registry.db_name, os.getpid())
        with _POOLS_LOCK:
            if key not in _POOLS:
                token = uuid.uuid4().hex[:8]
                beat = functools.partial(_heartbeat, key[0], self._lease_owner(token))
                _POOLS[key] = WorkerPool(WORKERS, beat, HEARTBEAT_S, name=f"igr-builtin-{key[0]}", token=token)
            return _POOLS[key]

    def _lease_owner(self, token=None):
        if token is None:
            pool = self._builtin_pool()
            token = pool.token if pool else "inline"
        return f"{socket.gethostname()}:{os.getpid()}:{token}"

    def _guarded(self, method, *args):
        """A step whose failure concerns only what it acts on: logged, and the tick goes on."""
        try:
            return self._step(method, *args)
        except Exception:
            _logger.exception("scheduler step %s%s failed", method, args)
            return None
