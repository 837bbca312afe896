"""The scheduler's loop: a thread per serving process and database (no model here)."""

import contextlib
import logging
import os
import select
import threading
import time

import psycopg2

from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules.registry import Registry

from ...engine.execution.docker_events import EventWatcher

_logger = logging.getLogger(__name__)

CHANNEL = "igr_scheduler"  # NOTIFY payload: the database whose scheduler has work
BUSY_WAIT_S = 0.1  # while work is live and an engine's events are not followed: the poll
WATCHED_WAIT_S = 1.0  # while every engine's events are followed: logs copied, timeouts enforced this often
IDLE_WAIT_S = 30  # with nothing live: a tick this often anyway (the cron is the safety net)
REFILL_WAIT_S = 30  # warm containers are made up after each tick, and this often anyway
RECONNECT_S = 60  # a lost database connection is tried again this long before the loop stops
DEFER_UI = "igr_defer_ui"  # context key of the loop's steps: their UI notifications wait for the tick's end
_LOOPS = {}  # (database, pid) -> Loop
_LOOPS_LOCK = threading.Lock()
_UI_PENDING = {}  # database -> (run ids, job ids) the loop's steps changed, told once per tick


def loop_of(db_name):
    """This process's loop for ``db_name``, started if none runs."""
    key = (db_name, os.getpid())
    with _LOOPS_LOCK:
        if key not in _LOOPS:
            _LOOPS[key] = Loop(db_name)
        return _LOOPS[key]


def running_loop(db_name):
    """This process's loop for ``db_name`` if one runs, else None."""
    with _LOOPS_LOCK:
        return _LOOPS.get((db_name, os.getpid()))


def defer_ui(db_name, run_ids, job_ids):
    """Keep these ids for the end of the tick (``Loop._flush_ui``): a bus notification costs its
    transaction's commit a new connection to the ``postgres`` database (20-35 ms here), which
    no step of a job's start or end should wait for."""
    with _LOOPS_LOCK:
        runs, jobs = _UI_PENDING.setdefault(db_name, (set(), set()))
        runs.update(run_ids)
        jobs.update(job_ids)


class Loop:
    """This process's scheduler for one database: a daemon thread ticking while work is live
    and sleeping on PostgreSQL's LISTEN otherwise, so a push, a cancel, an approval or a
    finished built-in job on *any* server wakes every server at once. Several servers each
    run one; claims and locks (SKIP LOCKED) keep them from doing the same work twice, and
    none waits for another's tick (the cron's row lock is held only to start the loop).

    Each Docker engine's events are followed too (``watch``): a job's container that ends
    wakes the loop at once, so the job is collected and the next queued one started in the
    same tick; the poll then only copies logs and enforces timeouts, and stays the safety
    net when an event is lost."""

    def __init__(self, db_name):
        self.db_name = db_name
        self._watchers = {}  # engine key -> EventWatcher
        self._lost_at = None  # when the database connection was lost (None: connected)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self.thread = threading.Thread(target=self._run, name=f"igr-scheduler-{db_name}", daemon=True)
        # Warm containers are started in a thread of their own: Docker's create and start of a
        # container takes half a second, which no tick waits for.
        self._refill = threading.Event()
        self._refill_thread = threading.Thread(target=self._refill_warm, name=f"igr-warm-{db_name}", daemon=True)
        self.thread.start()
        self._refill_thread.start()

    def wake(self):
        with contextlib.suppress(BlockingIOError):  # already woken: the pipe is full
            os.write(self._wake_w, b"x")

    def watch(self, key, base_url, tls=None):
        """Follow the events of the engine ``key`` (at ``base_url``) from now on, if not yet."""
        watcher = self._watchers.get(key)
        if watcher is None or not watcher.alive():
            labels = {"influencegen.db": self.db_name}
            name = f"igr-docker-events-{self.db_name}"
            self._watchers[key] = EventWatcher(base_url, labels, self._on_event, tls, name=name)

    def watching(self):
        """True when the events of every engine watched are being followed now."""
        return bool(self._watchers) and all(w.connected.is_set() for w in self._watchers.values())

    def _on_event(self, _event):
        self.wake()

    def _run(self):
        threading.current_thread().dbname = self.db_name
        _logger.info("scheduler loop of %s started in process %s", self.db_name, os.getpid())
        try:
            while True:
                try:
                    self._listen()
                except psycopg2.OperationalError as exc:
                    # A deploy's backup copy closes every session of the database it copies
                    # and refuses new ones for a moment: reconnect rather than stall until
                    # the cron's next run. A database gone for good ends the loop.
                    self._lost_at = self._lost_at or time.monotonic()
                    if time.monotonic() - self._lost_at > RECONNECT_S:
                        raise
                    _logger.warning("scheduler loop of %s lost its connection, reconnecting: %s", self.db_name, exc)
                    time.sleep(1)
        except Exception:  # the database went away: the cron starts a new loop when it is back
            _logger.exception("scheduler loop of %s stopped", self.db_name)
        finally:
            with _LOOPS_LOCK:
                _LOOPS.pop((self.db_name, os.getpid()), None)
            for watcher in self._watchers.values():
                watcher.close()

    def _listen(self):
        """LISTEN, then tick while work is live and sleep until notified otherwise."""
        listen = sql_db.db_connect(self.db_name).cursor()
        try:
            listen.execute(f"LISTEN {CHANNEL}")
            listen.commit()
            self._lost_at = None
            connection = listen._cnx
            while True:
                self._refill.set()  # its source prefetch runs beside this tick
                busy = self._tick()
                self._refill.set()
                wait = (WATCHED_WAIT_S if self.watching() else BUSY_WAIT_S) if busy else IDLE_WAIT_S
                ready, _w, _x = select.select([connection, self._wake_r], [], [], wait)
                if self._wake_r in ready:
                    os.read(self._wake_r, 4096)
                if connection in ready:
                    connection.poll()
                    connection.notifies.clear()
        finally:
            with contextlib.suppress(Exception):  # a connection already closed by the server
                listen.close()

    def _refill_warm(self):
        threading.current_thread().dbname = self.db_name
        while self.thread.is_alive():
            self._refill.wait(REFILL_WAIT_S)
            self._refill.clear()
            try:
                with Registry(self.db_name).cursor() as cr:
                    if api.Environment(cr, SUPERUSER_ID, {})["release.scheduler"]._refill_warm():
                        self._refill.set()  # claims may have taken some while these were made: look again now
            except Exception:  # logged; the next tick asks again
                _logger.exception("warm containers of %s: the refill failed", self.db_name)
                time.sleep(1)

    def _tick(self):
        try:
            registry = Registry(self.db_name)
            with registry.cursor() as cr:
                return api.Environment(cr, SUPERUSER_ID, {DEFER_UI: True})["release.scheduler"]._tick_once()
        except Exception:  # each step isolates its own failures; this keeps the loop alive
            _logger.exception("scheduler tick of %s failed", self.db_name)
            time.sleep(1)
            return True
        finally:
            self._flush_ui()

    def _flush_ui(self):
        """One bus notification for what the tick's steps changed (``defer_ui``)."""
        with _LOOPS_LOCK:
            runs, jobs = _UI_PENDING.pop(self.db_name, ((), ()))
        if not runs:
            return
        try:
            with Registry(self.db_name).cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["release.run"].browse(sorted(runs))._notify_ui(env["release.job"].browse(sorted(jobs)))
        except Exception:  # the views refresh at the next change anyway
            _logger.exception("scheduler of %s: the UI notification failed", self.db_name)
