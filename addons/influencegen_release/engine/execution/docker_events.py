"""Docker's events stream, followed by a daemon thread: the scheduler is woken the moment a
job's container ends instead of finding out on its next poll.

One ``EventWatcher`` per Docker engine and database in a serving process. It follows
``/events`` filtered on the product's label and the database's, for the container event that
changes what the scheduler must do: ``die`` (the job is to be collected, its slot is free). Each event calls ``callback(event)``; a
broken stream (the engine restarted, the socket closed) is followed again after a short
pause. Nothing is lost by a gap: the scheduler's reconcile still compares every live job
with the containers on each engine, on a slower poll.
"""

import logging
import threading

import docker
from docker import errors as docker_errors

from .docker_runner import API_VERSION, LABEL, tls_config

_logger = logging.getLogger(__name__)

EVENTS = ("die",)  # our own removals are not worth a tick; one outside is found by the poll
RETRY_S = 2.0  # a broken stream is followed again after this pause


class EventWatcher:
    def __init__(self, base_url, labels, callback, tls=None, events=EVENTS, name="igr-docker-events"):
        """``labels``: ``{key: value}`` the containers carry (besides the product's label);
        ``tls`` as ``DockerRunner`` takes it."""
        self.base_url = base_url
        self.labels = dict(labels)
        self.events = tuple(events)
        self._callback = callback
        self._tls = tls
        self._stop = threading.Event()
        self._stream = None
        self.connected = threading.Event()  # set while a stream is open (tests wait on it)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def alive(self):
        return self.thread.is_alive() and not self._stop.is_set()

    def close(self):
        self._stop.set()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # the stream is going away anyway
                _logger.debug("closing the events stream of %s", self.base_url, exc_info=True)

    def _filters(self):
        return {
            "type": "container",
            "event": list(self.events),
            "label": [LABEL] + [f"{key}={value}" for key, value in self.labels.items()],
        }

    def _run(self):
        while not self._stop.is_set():
            client = None
            try:
                # A client of its own: the stream holds its connection for as long as it lives.
                client = docker.APIClient(base_url=self.base_url, tls=tls_config(self._tls), version=API_VERSION, timeout=60)
                client.trust_env = False
                self._stream = client.events(filters=self._filters(), decode=True)
                self.connected.set()
                # Events of the gap between two streams are not replayed: the reconcile's poll
                # finds what they said, so the callback runs once now to have it look.
                self._callback(None)
                for event in self._stream:
                    if self._stop.is_set():
                        break
                    self._callback(event)
            except (docker_errors.DockerException, OSError, ValueError) as exc:
                if not self._stop.is_set():
                    _logger.info("Docker events of %s interrupted (%s); followed again in %s s", self.base_url, exc, RETRY_S)
            except Exception:  # the callback's own error: logged, the watcher goes on
                _logger.exception("Docker events of %s: the callback failed", self.base_url)
            finally:
                self.connected.clear()
                self._stream = None
                if client is not None:
                    client.close()
            self._stop.wait(RETRY_S)
