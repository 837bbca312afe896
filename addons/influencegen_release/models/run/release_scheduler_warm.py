import logging
import re
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta

from odoo import api, fields, models

from ...engine.execution import job_files, warm
from ...engine.execution.docker_runner import ContainerSpec, RunnerError
from ...engine.execution.job_files import JOB_UID, JobFileError
from ...engine.source.git_source import GitSourceError
from ...engine.vocabulary import RUN_TERMINAL
from .release_scheduler import LOCK_NAMESPACE

_logger = logging.getLogger(__name__)

WARM_LABEL = "influencegen.warm"  # its value: the digest of the warm key
WARM_LOCK_NAMESPACE = 7_471_002  # pg advisory locks: (namespace, runner id) held while refilling it
WARM_STALE_S = 15  # a job given a warm container and not started this long: its starter died
WARM_IDLE_S = 300  # a free warm container no task wants any more is removed after this long
WARM_JUDGE_S = 60  # with a whole wave ready, the surplus is judged this often
_JUDGED = {}  # (database, runner id) -> monotonic time the refill last judged the runner's surplus
WARM_GRACE_S = 120  # a warm container with no row is a refill's in flight this long, then an orphan
_UNFIT = set()  # (database, warm key) whose warm container found no tar (this process keeps none of them warm)


class ReleaseSchedulerWarm(models.AbstractModel):
    """Warm containers (``engine/execution/warm.py``): per runner host, as many containers
    started ahead as the host runs jobs at once, with the image and limits of the tasks it ran
    or will run last. The claim gives a free one to a job that fits it (committed with the
    claim: ``release.job.ahead = 'warm'``), the start writes the job's files to its stdin, which
    releases the container's wait into the job's command. A job that fits none (a network, another
    image or limits) is started the usual way. The refill runs in a thread of the loop of its
    own, never in the tick (``release_scheduler_loop``); a start that died is adopted when the
    files went in, else its container is removed and the job goes back to the queue; the
    housekeeping removes warm containers that died or that no row and no live job knows."""

    _inherit = "release.scheduler"  # pylint: disable=consider-merging-classes-inherited

    # -- the claim and the start ----------------------------------------------------------------
    def _claim_eligible(self, runner, limit, ahead=False):
        """Jobs claimed to start now take free warm containers that fit them. While the host
        is full, only jobs that no warm container fits are created ahead: the others wait for
        a slot and a warm container (an upload is faster than Docker's start)."""
        if ahead and self._warm_active(runner):
            Job = self.env["release.job"]
            cold = Job.browse(self._eligible(runner, limit * 4)).filtered(lambda job: self._warm_key(job) is None)
            claimed = []
            for job in cold[:limit]:
                token = uuid.uuid4().hex
                job._set_claimed(runner, token, ahead=ahead)
                claimed.append((job.id, token))
            return claimed
        claimed = super()._claim_eligible(runner, limit, ahead=ahead)
        if not ahead and runner.warm_start:
            for job_id, _token in claimed:
                self._assign_warm(runner, self.env["release.job"].browse(job_id))
        return claimed

    def _assign_warm(self, runner, job):
        key = self._warm_key(job)
        if key is None:
            return
        # Taken and deleted in one statement (a row another claim holds is skipped): no
        # container can be given twice. Raw SQL: the ORM would log each deletion.
        self.env.cr.execute(
            """DELETE FROM release_runner_warm WHERE id = (
                   SELECT id FROM release_runner_warm WHERE runner_id = %s AND key = %s ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
               RETURNING container_id, name""",
            [runner.id, key],
        )
        row = self.env.cr.fetchone()
        if row:
            self.env["release.runner.warm"].invalidate_model()
            job.write({"ahead": "warm", "container_id": row[0], "container_name": row[1]})

    def _start(self, job_id, token):
        self.env.cr.execute("SELECT ahead FROM release_job WHERE id = %s", [job_id])
        row = self.env.cr.fetchone()
        if row and row[0] == "warm":
            return self._start_warm(job_id, token)
        return super()._start(job_id, token)

    def _start_warm(self, job_id, token):
        """Write the job's files to its warm container's stdin: the last member releases its
        wait. A container that is gone or broken is removed and the job started the usual way."""
        job = self._locked_claim(job_id, token, ahead="warm")
        if not job:
            return
        client = job.runner_id._client()
        task = job._spec()
        try:
            state = client.state(job.container_id)
            if not (state and state.running):
                if state and state.exit_code == warm.UNFED_EXIT:
                    self._judge_unfed(client, job.container_id, task)
                raise RunnerError(f"warm container {job.container_name} is not running")
            with ExitStack() as stack:
                env = dict(task["env"], **job._secrets(), **self._job_env(job))
                [archive] = job._job_inputs(stack, warm.job_members(env, task["run"], JOB_UID))
                client.feed(job.container_id, archive)
        except RunnerError as exc:
            _logger.warning("job %s: %s; started the usual way", job.id, exc)
            self._discard_warm(client, job.container_id, job.container_name)
            job.write({"ahead": False, "container_id": False, "container_name": False})
            container_id = self._create_container(job)
            if container_id and self._start_container(job, container_id):
                job._start(container_id)
            return None
        except (GitSourceError, JobFileError, OSError, KeyError, ValueError) as exc:
            self._discard_warm(client, job.container_id, job.container_name)
            job._fail(str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc))
            return None
        job._start()  # its container and name are the warm one's, recorded by the claim
        return None

    def _follow(self, job, client, container_id, ended):
        """A warm container that ended ``UNFED_EXIT`` with no marker never ran its job (a command
        that exits so itself ran after the marker): its image cannot unpack (no ``tar``: not kept
        warm again) or the files did not fit. The job goes back to the queue and starts the
        usual way, which reports a real cause."""
        if container_id and job.container_name and job.container_name != job._container_name():  # a warm container's
            state = client.state(container_id)
            if state and not state.running and state.exit_code == warm.UNFED_EXIT and not self._has(client, container_id, warm.MARKER):
                self._judge_unfed(client, container_id, job._spec())
                _logger.warning("job %s: warm container %s could not take its files", job.id, container_id[:12])
                self._discard_warm(client, container_id, job.container_name)
                job._requeue("its warm container could not take its files")
                return
        super()._follow(job, client, container_id, ended)

    @staticmethod
    def _has(client, container_id, path):
        """Whether ``path`` is in the warm container (``warm.MARKER``: its job's command was
        released; ``warm.NO_TAR``: its image cannot unpack)."""
        found = client.get_archive(container_id, path)
        if found is None:
            return False
        for _chunk in found[0]:  # the stream is read to its end before the connection is reused
            pass
        return True

    def _judge_unfed(self, client, container_id, task):
        """A warm container ended unfed: no more warm containers of its image here when it has no tar."""
        if self._has(client, container_id, warm.NO_TAR):
            _UNFIT.add((self.env.cr.dbname, warm.warm_key(task)))

    def _recover_start(self, job, container_id):
        """A job given a warm container whose start died (nobody holds its lock, claimed
        ``WARM_STALE_S`` ago): adopted when its files went in (its command runs or ran), else
        its container is removed and it goes back to the queue. Never started twice."""
        if job.ahead != "warm":
            return super()._recover_start(job, container_id)
        stale = fields.Datetime.now() - timedelta(seconds=WARM_STALE_S)
        if not job.claimed_at or job.claimed_at > stale:
            return None
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, job.id])
        if not self.env.cr.fetchone()[0]:  # its starter is still at it
            return None
        client = job.runner_id._client()
        try:
            if self._has(client, job.container_id, warm.MARKER):
                _logger.info("job %s adopts warm container %s", job.id, job.container_id[:12])
                job._start()
                return None
            self._discard_warm(client, job.container_id, job.container_name)
        except RunnerError as exc:
            _logger.warning("job %s: %s", job.id, exc)
            return None
        job._requeue("its start in a warm container was interrupted before its files went in")
        return None

    # -- the refill (a thread of the loop, never the tick) ------------------------------------------
    @api.model
    def _refill_warm(self):
        """Every active runner's warm containers made up to what it wants, each runner in its
        own transaction; returns how many were started. First the source tars of live runs
        are made (the loop wakes this thread as it wakes for a push: the ``git archive`` of a
        new commit then runs beside the tick's claim, not after it)."""
        self._guarded("_prefetch_sources")
        started = 0
        for runner_id in self._step("_warm_runner_ids"):
            started += self._guarded("_refill_runner", runner_id) or 0
        return started

    def _prefetch_sources(self):
        """The shared ``src/`` tar of each live run's commit (``job_files.shared_source_archive``:
        made once, under a lock a job's start waits on rather than archiving again)."""
        self.env.cr.execute(
            """SELECT DISTINCT repo.url, r.commit_sha FROM release_run r JOIN release_repository repo ON repo.id = r.repository_id
               WHERE r.state NOT IN %s AND r.commit_sha IS NOT NULL AND repo.url IS NOT NULL""",
            [RUN_TERMINAL],
        )
        Job = self.env["release.job"]
        for url, sha in self.env.cr.fetchall():
            try:
                job_files.shared_source_archive(url, sha, Job._mirrors(), Job._sources())
            except (GitSourceError, OSError) as exc:  # the job's own start reports it
                _logger.debug("source of %s not prefetched: %s", sha, exc)

    def _warm_runner_ids(self):
        self.env.cr.execute("SELECT id FROM release_runner WHERE active AND warm_start ORDER BY id")
        return [row[0] for row in self.env.cr.fetchall()]

    def _refill_runner(self, runner_id):
        """Start the warm containers ``runner`` lacks (side by side), remove the free ones no
        task wants that idled ``WARM_IDLE_S``. One refiller per runner at a time (an advisory
        lock: the others skip it)."""
        cr = self.env.cr
        cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [WARM_LOCK_NAMESPACE, runner_id])
        if not cr.fetchone()[0]:
            return 0
        runner = self.env["release.runner"].browse(runner_id)
        rows = self._free_warm(runner_id)
        key = (self.env.registry.db_name, runner_id)
        if len(rows) >= self._warm_target(runner) and time.monotonic() - _JUDGED.get(key, 0) < WARM_JUDGE_S:
            return 0  # all the jobs waiting have one: nothing to make (this runs at every tick), surplus judged now and then
        _JUDGED[key] = time.monotonic()
        wanted = self._wanted_warm(runner)
        have = Counter(row_key for _id, row_key, _created, _cid in rows)
        idle_before = fields.Datetime.now() - timedelta(seconds=WARM_IDLE_S)
        client = runner._client()
        for row_id, row_key, created, _cid in sorted(rows, reverse=True):
            if have[row_key] > wanted[row_key][0] and created < idle_before:
                have[row_key] -= 1
                self._take_warm(client, row_id)
        missing = [task for key, (count, task) in wanted.items() for _n in range(max(0, count - have[key]))]
        if not missing:
            return 0
        db = self.env.cr.dbname
        made = self._side_by_side(lambda task: self._make_warm(client, db, runner_id, task), missing)
        return sum(made)

    def _make_warm(self, client, db, runner_id, task):
        """Start one warm container and record it at once, in a transaction of its own: the
        next claim takes it while its siblings are still being made."""
        key, container_id, name = self._start_warm_container(client, db, task)
        if container_id:
            vals = {"runner_id": runner_id, "key": key, "container_id": container_id, "name": name}
            self._step("_record_warm", vals)
        return bool(container_id)

    def _record_warm(self, vals):
        self.env["release.runner.warm"].create(vals)

    def _warm_target(self, runner):
        """How many free warm containers ``runner`` wants (``_wanted_warm``): one wave of
        ``capacity``, up to two for the container jobs waiting."""
        self.env.cr.execute("SELECT count(*) FROM release_job WHERE mode = 'run' AND state IN ('pending', 'queued')")
        waiting = self.env.cr.fetchone()[0]
        return max(runner.capacity, min(waiting, 2 * runner.capacity))

    def _wanted_warm(self, runner):
        """``{key: (count, task)}``: the keys of the container jobs waiting for this runner
        (pending and queued ones its labels allow), up to two waves of ``capacity``: the next
        wave's containers are made while the current one runs; at least one wave, made up
        with the keys of the latest jobs it ran."""
        cr = self.env.cr
        cr.execute(
            """SELECT id FROM release_job WHERE mode = 'run' AND (runner_id = %s OR state IN ('pending', 'queued'))
               ORDER BY id DESC LIMIT %s""",
            [runner.id, runner.capacity * 4],
        )
        rows = cr.fetchall()
        limit = self._warm_target(runner)
        labels, wanted, total = runner._label_set(), {}, 0
        for job in self.env["release.job"].browse([row[0] for row in rows]):
            required = {x.strip() for x in (job.required_labels or "").split(",") if x.strip()}
            key = self._warm_key(job) if required <= labels else None
            if key is None or (self.env.cr.dbname, key) in _UNFIT:
                continue
            count, task = wanted.get(key, (0, job._spec()))
            wanted[key] = (count + 1, task)
            total += 1
            if total >= limit:
                break
        return wanted

    @staticmethod
    def _start_warm_container(client, db, task):
        """``(key, container id, name)`` of a warm container just started; ``(key, None, name)``
        when Docker refused it (logged: the jobs start the usual way)."""
        key = warm.warm_key(task)
        name = f"igr-{re.sub(r'[^a-zA-Z0-9_.-]', '-', db)}-w{uuid.uuid4().hex[:12]}"
        labels = {
            "influencegen.db": db,
            "influencegen.name": name,
            WARM_LABEL: warm.key_label(key),
            f"{WARM_LABEL}.created": str(int(time.time())),
        }
        spec = ContainerSpec(
            name=name, image=task["image"], command=warm.WAIT_SCRIPT, labels=labels, cpus=task["cpus"],
            memory_mb=task["memory"], pids=task["pids"], stdin=True,
        )
        try:
            container_id = client.create_container(spec, inputs=(warm.skeleton(JOB_UID),))
            client.start_created(container_id, name, volume=name)
        except RunnerError as exc:
            _logger.warning("warm container for %s: %s", key, exc)
            return key, None, name
        return key, container_id, name

    # -- the housekeeping -----------------------------------------------------------------------
    def _housekeep(self):
        result = super()._housekeep()
        for runner in self.env["release.runner"].search([("active", "in", (True, False))]):
            try:
                self._sweep_warm(runner)
            except RunnerError as exc:
                _logger.warning("warm containers of %s: %s", runner.name, exc)
        return result

    def _remove_orphans(self, client, containers):
        """Warm containers carry no job's labels: ``_sweep_warm`` judges them."""
        return super()._remove_orphans(client, {cid: labels for cid, labels in containers.items() if WARM_LABEL not in labels})

    def _sweep_warm(self, runner):
        """Free warm containers that stopped (or of a runner that no longer wants them) go with
        their rows; warm containers and volumes that no row and no live job knows go once
        ``WARM_GRACE_S`` old (a refill in flight writes its rows when its containers run)."""
        db = self.env.cr.dbname
        client = runner._client()
        listed = {c["Id"]: c for c in client.containers(WARM_LABEL, {"influencegen.db": db})}
        for row_id, _key, _created, container_id in self._free_warm(runner.id):
            container = listed.get(container_id)
            if not (container and container.get("State") == "running" and runner.active and runner.warm_start):
                self._take_warm(client, row_id)
        # Every row (a claim may hold one: it is not free, not unknown either), then the live
        # jobs: a claim committed in between moved a container from one to the other.
        self.env.flush_all()
        self.env.cr.execute("SELECT container_id, name FROM release_runner_warm WHERE runner_id = %s", [runner.id])
        known = self.env.cr.fetchall()
        self.env.cr.execute(
            "SELECT container_id, container_name FROM release_job WHERE runner_id = %s AND state IN ('starting', 'running')",
            [runner.id],
        )
        known += self.env.cr.fetchall()
        known_ids, known_names = {cid for cid, _name in known}, {name for _cid, name in known}
        cutoff = time.time() - WARM_GRACE_S
        for container_id, container in listed.items():
            labels = container.get("Labels") or {}
            if container_id not in known_ids and int(labels.get(f"{WARM_LABEL}.created") or 0) < cutoff:
                self._discard_warm(client, container_id, labels.get("influencegen.name"))
                known_names.add(labels.get("influencegen.name"))  # its volume went with it
        for name, labels in client.volumes({"influencegen.db": db}).items():
            if WARM_LABEL in labels and name not in known_names and int(labels.get(f"{WARM_LABEL}.created") or 0) < cutoff:
                self._discard_warm(client, None, name)

    # -- helpers ----------------------------------------------------------------------------------
    def _warm_key(self, job):
        """The job's ``warm.warm_key``, or None (also when its task cannot be read)."""
        try:
            return warm.warm_key(job._spec())
        except Exception:  # a broken snapshot: the usual start reports it
            return None

    def _warm_active(self, runner):
        """Warm containers serve ``runner``: it wants them, and a refill runs (this process's
        loop: a serving process) or made some (tests and scripts call ``_refill_warm``)."""
        if not runner.warm_start:
            return False
        return self._loop_allowed() or bool(self.env["release.runner.warm"].search_count([("runner_id", "=", runner.id)], limit=1))

    def _free_warm(self, runner_id):
        """``[(id, key, create date, container id)]`` of the runner's free warm containers, read without a
        lock: a claim may take one meanwhile (``_take_warm`` then skips it). A refill talks to
        Docker for a second or more; a lock held that long would keep every claim from them."""
        self.env.cr.execute("SELECT id, key, create_date, container_id FROM release_runner_warm WHERE runner_id = %s ORDER BY id", [runner_id])
        return self.env.cr.fetchall()

    def _take_warm(self, client, row_id):
        """Remove the free warm container of row ``row_id``, unless a claim holds or took it."""
        self.env.cr.execute(
            """DELETE FROM release_runner_warm WHERE id = (
                   SELECT id FROM release_runner_warm WHERE id = %s FOR UPDATE SKIP LOCKED) RETURNING container_id, name""",
            [row_id],
        )
        row = self.env.cr.fetchone()
        if row:
            self.env["release.runner.warm"].invalidate_model()
            self._discard_warm(client, *row)

    @staticmethod
    def _discard_warm(client, container_id, name):
        client.discard(container_id, name)  # a failure is logged; the housekeeping tries again
