import logging
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models

from ...engine.execution.docker_runner import RunnerError
from ...engine.vocabulary import RUN_TERMINAL
from .release_job_lease import TRANSIENT_RETRIES, backoff_s, transient

_logger = logging.getLogger(__name__)

TICK_BUDGET_S = 25  # one cron run loops this long while work exists, then re-triggers itself
POLL_S = 0.1
START_THREADS = 8  # containers of one tick are started side by side (Docker calls wait on I/O)
STALE_START_S = 60  # a claimed job nobody started for this long goes back to the queue
LOCK_NAMESPACE = 7_471_001  # pg advisory locks: (namespace, job id) held while starting a job
_RUN_BACKOFF = {}  # (database, run id) -> (transient errors so far, monotonic time of the next try)


class ReleaseScheduler(models.AbstractModel):
    """The worker loop: reconcile with Docker, advance runs, claim and start jobs.

    Each step runs in its own transaction (a new cursor), so what a step decided is committed
    before the next one acts on Docker: a claim is committed before its container starts, and
    a worker killed at any point leaves a state the next tick of any worker can finish.
    What a job goes through is told by ``release.job``'s transitions; this model decides when.
    """

    _name = "release.scheduler"
    _description = "Release Job Scheduler"

    @api.model
    def _cron_tick(self, budget=TICK_BUDGET_S):
        deadline = time.monotonic() + budget
        busy = True
        while busy and time.monotonic() < deadline:
            busy = self._tick_once()
            if busy:
                time.sleep(POLL_S)
        if busy:
            self.env.ref("influencegen_release.ir_cron_release_scheduler")._trigger()

    @api.model
    def _tick_once(self):
        """One pass; nothing in it waits for a target: built-in jobs are handed to workers.
        Each run advances in its own transaction, so one that fails harms no other. One query
        says what is live; a step with nothing live to act on is not run (with nothing live
        at all, the tick is that query), and the housekeeping runs once a minute at most."""
        live = self._step("_live_work")
        if not live:
            if self._housekeeping_due():
                self._guarded("_housekeep")
            return False
        ended = self._step("_reconcile") if live["on_runner"] else []
        if live["builtins"]:
            for job_id in self._step("_recover_builtins"):
                self._guarded("_recover_builtin", job_id)
        self._advance_runs()
        self._hand_over_builtins()
        runner_ids = self._step("_runner_ids")
        for runner_id in runner_ids:  # containers created ahead take the free slots first
            self._guarded("_start_ready", runner_id)
        self._start_all("_start", [claim for runner_id in runner_ids for claim in self._step("_claim", runner_id)])
        self._start_all("_prepare", [claim for rid in runner_ids for claim in self._guarded("_claim_ahead", rid) or []])
        self._advance_runs()
        if ended:  # after the runs went on: removing containers and volumes keeps nobody waiting
            self._guarded("_remove_ended", ended)
        if self._housekeeping_due():  # last, for the same reason
            self._guarded("_housekeep")
        return self._step("_has_work")

    def _start_all(self, method, claimed):
        """``method`` (``_start`` or ``_prepare``) of each claim, side by side outside tests."""
        self._side_by_side(lambda claim: self._start_step(*claim, method=method), claimed)

    def _side_by_side(self, call, items):
        """``[call(item)]``, in threads outside tests (Docker calls wait on I/O); ``call`` must
        not touch this environment's records (each thread has its own step, or none)."""
        if len(items) > 1 and getattr(self.env.registry, "test_cr", None) is None:
            with ThreadPoolExecutor(max_workers=min(START_THREADS, len(items))) as pool:
                return [future.result() for future in [pool.submit(call, item) for item in items]]
        return [call(item) for item in items]

    def _start_step(self, job_id, token, method="_start"):
        try:
            self._step(method, job_id, token)
        except Exception as exc:  # one job's start must not stop the others
            _logger.exception("starting job %s failed", job_id)
            if not transient(exc):  # the job's own data is broken (a transient error: the reconcile recovers it)
                self._guarded("_fail_start", job_id, token, traceback.format_exc())

    def _fail_start(self, job_id, token, text):
        self.env.cr.execute(
            "SELECT id FROM release_job WHERE id = %s AND state = 'starting' AND claim_token = %s FOR UPDATE SKIP LOCKED",
            [job_id, token],
        )
        if self.env.cr.fetchone():
            self._fail_unexpected(self.env["release.job"].browse(job_id), text)

    def _step(self, method, *args):
        with self.env.registry.cursor() as cr:
            if getattr(self.env.registry, "test_cr", None) is None:
                # Steps are short and lock what they change (SKIP LOCKED), then read it again:
                # READ COMMITTED lets steps of several servers meet on one row without a
                # serialization failure (REPEATABLE READ would fail the later one).
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            scheduler = self.with_env(self.env(cr=cr))
            result = getattr(scheduler, method)(*args)
            # Flush while the environment is alive: the cursor's transaction only keeps weak
            # references to environments, and a temporary one may be gone by commit time.
            scheduler.env.flush_all()
            return result

    # -- steps ------------------------------------------------------------------------------
    def _runner_ids(self):
        return self.env["release.runner"].search([("active", "=", True)]).ids

    def _advance_runs(self):
        """Every live run, each in its own transaction: an unexpected error fails that run
        alone (traceback in its chatter); a transient one is retried with back-off. What the
        caller's environment wrote is flushed first and its cache dropped after (tests and
        buttons call this directly)."""
        self.env.flush_all()
        db, now = self.env.registry.db_name, time.monotonic()
        for run_id in self._step("_live_run_ids"):
            if _RUN_BACKOFF.get((db, run_id), (0, 0))[1] > now:
                continue
            try:
                self._step("_advance_run", run_id)
            except Exception as exc:
                retries = _RUN_BACKOFF.pop((db, run_id), (0, 0))[0]
                if transient(exc) and retries < TRANSIENT_RETRIES:
                    _RUN_BACKOFF[(db, run_id)] = (retries + 1, now + backoff_s(retries))
                    _logger.warning("run %s: transient error, advanced again in %s s: %s", run_id, backoff_s(retries), exc)
                    continue
                _logger.exception("run %s: advancing it failed; the run fails", run_id)
                self._guarded("_fail_run", run_id, traceback.format_exc())
            else:
                _RUN_BACKOFF.pop((db, run_id), None)
        self.env.invalidate_all()

    def _live_run_ids(self):
        self.env.cr.execute("SELECT id FROM release_run WHERE state NOT IN %s ORDER BY id", [RUN_TERMINAL])
        return [row[0] for row in self.env.cr.fetchall()]

    def _advance_run(self, run_id):
        # NO KEY UPDATE: a built-in job's worker holds KEY SHARE on its run while it acts (the
        # deployment it records refers to the run); that must not keep the run from advancing.
        self.env.cr.execute(
            "SELECT id FROM release_run WHERE id = %s AND state NOT IN %s FOR NO KEY UPDATE SKIP LOCKED",
            [run_id, RUN_TERMINAL],
        )
        if self.env.cr.fetchone():
            self.env["release.run"].browse(run_id)._advance()

    def _fail_run(self, run_id, text):
        """A run whose advance raised: the traceback goes to its chatter, then it fails as
        runs fail (what has not started never will); if failing raises too, it is marked failed."""
        self.env.cr.execute(
            "SELECT id FROM release_run WHERE id = %s AND state NOT IN %s FOR NO KEY UPDATE", [run_id, RUN_TERMINAL]
        )
        if not self.env.cr.fetchone():
            return
        run = self.env["release.run"].browse(run_id)
        intro = self.env._("The scheduler met an unexpected error in this run; it fails:")
        run.message_post(body=Markup("<p>%s</p><pre>%s</pre>") % (intro, text))
        run.job_ids.filtered(lambda j: j.state == "queued")._cancel()
        try:
            with self.env.cr.savepoint():
                run._fail()
        except Exception:  # the error is in the run's own end (its spec, its notifications)
            _logger.exception("run %s: failing it raised too; marked failed", run_id)
            run.job_ids.filtered(lambda j: j.state == "pending")._skip()
            run.write({"state": "failed", "finished_at": fields.Datetime.now()})

    def _lock_runner(self, runner_id):
        """The active runner locked for this transaction (one claimer per host at a time) and
        its free slots; ``(None, 0)`` when another server holds it or it is archived."""
        self.env.cr.execute("SELECT id FROM release_runner WHERE id = %s AND active FOR UPDATE SKIP LOCKED", [runner_id])
        if not self.env.cr.fetchone():
            return None, 0
        runner = self.env["release.runner"].browse(runner_id)
        return runner, runner.capacity - self._busy_slots(runner_id)

    def _claim(self, runner_id):
        """Lock the runner, then claim jobs up to its free slots."""
        runner, free = self._lock_runner(runner_id)
        if free <= 0:
            return []
        return self._claim_eligible(runner, free)

    def _claim_eligible(self, runner, limit, ahead=False):
        """Claim up to ``limit`` eligible jobs for ``runner``: [(job id, claim token)]."""
        claimed = []
        for job in self.env["release.job"].browse(self._eligible(runner, limit)):
            token = uuid.uuid4().hex
            job._set_claimed(runner, token, ahead=ahead)
            claimed.append((job.id, token))
        return claimed

    def _eligible(self, runner, limit):
        """Ids of up to ``limit`` queued container jobs that ``runner``'s labels allow, in queue
        order, locked (SKIP LOCKED: another claimer's are left to it)."""
        cr = self.env.cr
        cr.execute(
            """SELECT id, required_labels FROM release_job WHERE state = 'queued' AND mode = 'run'
               ORDER BY run_id, stage_sequence, sequence, id"""
        )
        labels = runner._label_set()
        eligible = [
            job_id
            for job_id, required in cr.fetchall()
            if {x.strip() for x in (required or "").split(",") if x.strip()} <= labels
        ]
        if not eligible:
            return []
        cr.execute(
            """SELECT id FROM release_job WHERE id = ANY(%s) AND state = 'queued'
               ORDER BY run_id, stage_sequence, sequence, id LIMIT %s FOR UPDATE SKIP LOCKED""",
            [eligible, limit],
        )
        return [row[0] for row in cr.fetchall()]

    def _start(self, job_id, token):
        job = self._locked_claim(job_id, token)
        container_id = job and self._create_container(job)
        if container_id and self._start_container(job, container_id):
            job._start(container_id)

    def _locked_claim(self, job_id, token, ahead=False):
        """The job claimed with ``token``, locked for this transaction (nobody else starts
        it meanwhile), or None. ``ahead``: True for a job claimed ahead, or the value of its
        ``ahead`` field (``"warm"``)."""
        cr = self.env.cr
        cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, job_id])
        if not cr.fetchone()[0]:
            return None
        cr.execute("SELECT state, claim_token, ahead FROM release_job WHERE id = %s FOR UPDATE", [job_id])
        if cr.fetchone() != ("starting", token, {True: "preparing", False: None}.get(ahead, ahead)):
            return None
        return self.env["release.job"].browse(job_id)

    def _reconcile(self):
        """Follow the container jobs starting or running, on every host (archived ones too:
        their jobs must still be followed to the end), by the container each recorded; Docker
        is asked for its containers by label only for a claim that recorded none (a start
        that died: its container is found by name and adopted). Returns ``[(runner id,
        container id, volume)]`` of the jobs that ended: removed once this is committed
        (``_remove_ended``; the housekeeping removes what a worker killed meanwhile left)."""
        self.env.cr.execute(
            """SELECT id FROM release_job WHERE state IN ('starting', 'running') AND runner_id IS NOT NULL
               ORDER BY id FOR UPDATE SKIP LOCKED"""
        )
        jobs = self.env["release.job"].browse([row[0] for row in self.env.cr.fetchall()])
        ended = []
        for runner in jobs.runner_id:
            client = runner._client()
            self._watch_events(client)
            on_runner = jobs.filtered(lambda j, r=runner: j.runner_id == r)
            by_name = {}
            if any(job.state == "starting" and not job.container_id for job in on_runner):
                try:
                    found = client.find({"influencegen.db": self.env.cr.dbname})
                except RunnerError as exc:
                    if runner.last_error != str(exc):
                        runner.last_error = str(exc)
                    continue
                by_name = {labels.get("influencegen.name"): cid for cid, labels in found.items()}
            for job in on_runner:
                container_id = job.container_id or by_name.get(job._container_name())
                if job.state == "starting":
                    self._recover_start(job, container_id)
                    continue
                ended += self._follow_isolated(job, client, container_id)
        return ended

    def _remove_ended(self, ended):
        for runner_id, container_id, volume in ended:
            client = self.env["release.runner"].browse(runner_id)._client()
            try:
                client.remove(container_id)
                client.remove_volume(volume)
            except RunnerError as exc:  # the housekeeping removes it later
                _logger.warning("ended container %s: %s", container_id[:12], exc)

    def _follow_isolated(self, job, client, container_id):
        """``_follow`` of one job; an unexpected error fails that job alone, with its traceback.
        Returns what ``_follow`` says to remove (nothing when it was rolled back)."""
        ended = []
        try:
            with self.env.cr.savepoint():
                self._follow(job, client, container_id, ended)
            return ended
        except RunnerError as exc:
            _logger.warning("job %s: %s", job.id, exc)
        except Exception as exc:
            if transient(exc):  # a concurrent change of the job: the next tick reads it again
                _logger.warning("job %s: transient error: %s", job.id, exc)
                return []
            _logger.exception("job %s: following it failed", job.id)
            self._fail_unexpected(job, traceback.format_exc())
        return []

    def _recover_start(self, job, container_id):
        if container_id:  # started, then the worker died before recording it
            job._adopt(container_id)
            return
        stale = fields.Datetime.now() - timedelta(seconds=STALE_START_S)
        if job.claimed_at and job.claimed_at < stale:
            self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, job.id])
            if self.env.cr.fetchone()[0]:  # nobody is starting it
                job._requeue(f"claimed {STALE_START_S} s ago and not started")

    def _follow(self, job, client, container_id, ended):
        """Copy new log lines; finish the job when its container ended, timed out or was
        cancelled (its container and volume go into ``ended``)."""
        state = client.state(container_id) if container_id else None
        if state is None:
            job._fail("the container vanished (removed outside the scheduler)")
            return
        if state.status == "created":  # its start died while the job's files went in: start again
            client.remove(container_id)
            job._drop_files(client)
            job._requeue("its start was interrupted before the container ran")
            return
        job._copy_logs(client, container_id)
        if state.running:
            if job.run_id.cancel_requested:
                client.kill(container_id)
                self._close(job, client, container_id, ended, "cancelled", reason="cancelled", killed=True)
            elif job.deadline_at and fields.Datetime.now() > job.deadline_at:
                client.kill(container_id)
                timeout = job._spec()["timeout"]
                self._close(job, client, container_id, ended, "failed", reason=f"timed out after {timeout} s", killed=True)
            return
        problem = job._collect_files(client, container_id, succeeded=state.exit_code == 0 and not state.oom_killed)
        if state.oom_killed:
            memory = job._spec()["memory"]
            job.oom_killed = True
            self._close(job, client, container_id, ended, "failed", state.exit_code, f"killed: out of memory (limit {memory} MiB)")
        elif state.exit_code == 0 and problem:
            self._close(job, client, container_id, ended, "failed", 0, problem)
        elif state.exit_code == 0:
            self._close(job, client, container_id, ended, "succeeded", 0)
        else:
            self._close(job, client, container_id, ended, "failed", state.exit_code, f"exit code {state.exit_code}")

    def _close(self, job, client, container_id, ended, state, exit_code=None, reason=None, killed=False):
        """The container's end: last log lines (those of a container that had ended are all
        read already), container and volume to remove, then the job ends or, on an exit code
        its task declares retryable, goes back to the queue."""
        if killed:
            job._copy_logs(client, container_id)
        ended.append((job.runner_id.id, container_id, job.container_name or job._container_name()))
        retry = job._spec()["retry"]
        if state == "failed" and exit_code in retry["exit_codes"] and job.attempt <= retry["max"]:
            job._retry(exit_code)
            return
        job._finish(state, exit_code, reason)

    def _remove_orphans(self, client, containers):
        """Containers whose job is over, gone, or on a later attempt are removed."""
        Job = self.env["release.job"].sudo().with_context(active_test=False)
        for container_id, labels in containers.items():
            job = Job.browse(int(labels.get("influencegen.job") or 0)).exists()
            current = job and job.state in ("starting", "running") and str(job.attempt) == labels.get("influencegen.attempt")
            if not current:
                try:
                    client.remove(container_id)
                except RunnerError as exc:
                    _logger.warning("orphan container %s: %s", container_id[:12], exc)

    # -- helpers ----------------------------------------------------------------------------
    def _mark_seen(self, runner):
        now = fields.Datetime.now()
        if runner.last_error or not runner.last_seen_at or now - runner.last_seen_at > timedelta(seconds=30):
            runner.write({"last_seen_at": now, "last_error": False})
