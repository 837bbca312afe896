"""How long a target was unavailable during a deploy, measured from outside as a user sees it.

A probe starts every ``interval`` seconds (0.2 by default, each in its own thread, so a slow
answer never stretches the sampling) and asks for a page the target serves from its database
(``/web/login``: ``/web/health`` answers without the database, so it would miss the moments
when the database is closed to connections). A probe that does not answer 200 within
``timeout`` (2 s) is a failure. Downtime is the time from a first failed probe (when it was
sent) to the first good one after it (when its answer came: a probe sent while the server was
still loading and answered once it was ready says the target is back only then), summed over
every outage of the deploy (a failed upgrade that restores restarts the server twice).

One probe waits for an answer at a time (``max_in_flight``): a restarting server accepts
connections before its registry is loaded, and each waiting probe then renders the login page
for the first time at once, in threads that share one interpreter lock with the deployer's own
requests: with four, each render took 4 to 6 s (failed probes, downtime counted for the
probes' own load) and the deployer's first call after the restart waited a second and more
behind them. A probe that fails fast (connection refused, an error page) frees its place at
once, so the sampling stays every ``interval`` whenever the target answers or refuses.
"""

import http.client
import threading
import time
import urllib.error
import urllib.request

PROBE_PATH = "/web/login"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy


class DowntimeProbe:
    def __init__(self, url, interval=0.2, timeout=2.0, path=PROBE_PATH, max_in_flight=1):
        self.url = url.rstrip("/") + path
        self.interval, self.timeout = interval, timeout
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self.samples = []  # (when, ok): a failure when sent, a success when answered; by the probe threads
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, name="downtime-probe", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        if self._thread and not self._stop.is_set():
            self._stop.set()
            self._thread.join()  # probes still in flight are not waited for: the deploy is judged by then

    def downtime_s(self):
        """Seconds unavailable: each first failed probe to the next good answer (to the last
        probe, when the target never came back while sampled)."""
        with self._lock:
            samples = sorted(self.samples)
        total, down_since = 0.0, None
        for started, ok in samples:
            if not ok and down_since is None:
                down_since = started
            elif ok and down_since is not None:
                total += started - down_since
                down_since = None
        if down_since is not None and samples:
            total += samples[-1][0] - down_since
        return round(total, 2)

    def _run(self):
        while not self._stop.is_set():
            if self._slots.acquire(timeout=self.interval):  # else look again: stop() never waits for a probe
                threading.Thread(target=self._probe, daemon=True).start()
                self._stop.wait(self.interval)

    def _probe(self):
        started = time.monotonic()
        try:
            with _OPENER.open(self.url, timeout=self.timeout) as response:
                ok = response.status == 200
                response.read()
        except (OSError, urllib.error.URLError, http.client.HTTPException):
            ok = False
        with self._lock:
            self.samples.append((time.monotonic() if ok else started, ok))
        self._slots.release()
