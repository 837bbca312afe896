"""Long work handed over by the scheduler's tick: one daemon thread per piece of work, at
most ``size`` at a time, and one heartbeat thread that tells the database which work is alive.

The tick never waits for the work. What a worker holds is leased in the database (the
heartbeat renews the lease every ``interval`` seconds); when the process dies its threads die
with it, the heartbeats stop, and the reconcile of any server finds the lease expired.
Threads are daemons: a server shutting down never waits for a hung deploy, its lease expires.
"""

import logging
import threading
import uuid

_logger = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, size, heartbeat, interval, name="igr-worker", token=None):
        """``heartbeat(keys)`` is called every ``interval`` seconds with the keys of the work
        running now (never with an empty set); its exceptions are logged, never raised."""
        self.size = size
        self.name = name
        self.token = token or uuid.uuid4().hex[:8]  # tells this pool from an earlier one of the same process
        self._heartbeat = heartbeat
        self._interval = interval
        self._lock = threading.Lock()
        self._running = {}
        self._beating = None

    def free(self):
        with self._lock:
            return self.size - len(self._running)

    def running(self):
        with self._lock:
            return set(self._running)

    def submit(self, key, work):
        """Run ``work()`` in a thread of its own; False when ``key`` runs already or the pool is full."""
        with self._lock:
            if key in self._running or len(self._running) >= self.size:
                return False
            thread = threading.Thread(target=self._run, args=(key, work), name=f"{self.name}-{key}", daemon=True)
            self._running[key] = thread
            if self._beating is None:
                self._beating = threading.Thread(target=self._beat, name=f"{self.name}-heartbeat", daemon=True)
                self._beating.start()
        thread.start()
        return True

    def join(self, timeout=None):
        """Wait until nothing runs (tests, benchmarks); False when ``timeout`` passed first."""
        for thread in list(self._running.values()):
            thread.join(timeout)
        return not self.running()

    def _run(self, key, work):
        try:
            work()
        except Exception:  # the work records its own failures; this is the last resort
            _logger.exception("worker %s failed", key)
        finally:
            with self._lock:
                self._running.pop(key, None)

    def _beat(self):
        stop = threading.Event()
        while not stop.wait(self._interval):
            keys = self.running()
            if not keys:
                continue
            try:
                self._heartbeat(keys)
            except Exception:  # a missed beat is retried; the lease outlives a few of them
                _logger.exception("heartbeat of %s failed", sorted(keys))
