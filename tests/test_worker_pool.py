"""The worker pool of built-in jobs: bounded, one thread per job, heartbeats for what runs."""

import threading
import time

from influencegen_release.engine.execution.worker_pool import WorkerPool


def test_work_runs_outside_the_caller_bounded_by_the_size_and_heartbeats_name_what_runs():
    beats, release = [], threading.Event()
    pool = WorkerPool(2, beats.append, 0.05, token="t1")
    assert pool.submit(1, release.wait) and pool.submit(2, release.wait)
    assert not pool.submit(3, release.wait), "full"
    assert not pool.submit(1, release.wait), "one thread per key"
    assert pool.free() == 0 and pool.running() == {1, 2}
    time.sleep(0.2)
    assert beats and beats[-1] == {1, 2}
    release.set()
    assert pool.join(5)
    assert pool.free() == 2 and pool.token == "t1"


def test_a_failing_work_or_heartbeat_frees_its_slot_and_stops_nothing():
    def boom():
        raise RuntimeError("boom")

    def bad_beat(keys):
        raise RuntimeError("beat")

    pool = WorkerPool(1, bad_beat, 0.01)
    assert pool.submit("a", boom)
    assert pool.join(5) and pool.free() == 1
    done = threading.Event()
    assert pool.submit("b", lambda: (time.sleep(0.05), done.set()))
    assert done.wait(5)
