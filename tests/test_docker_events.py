"""Docker's events followed by a watcher: a job's container that ends is told at once."""

import os
import queue
import uuid

import pytest

from influencegen_release.engine.execution.docker_events import EventWatcher
from influencegen_release.engine.execution.docker_runner import ContainerSpec, DockerRunner

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.services]
IMAGE = os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm")
DOCKER_URL = os.environ.get("IGR_DOCKER_URL", "unix:///var/run/docker.sock")


def test_watcher_tells_the_end_of_its_databases_containers_only():
    runner = DockerRunner(DOCKER_URL)
    db = f"pytest-events-{uuid.uuid4().hex[:6]}"
    seen = queue.Queue()
    watcher = EventWatcher(DOCKER_URL, {"influencegen.db": db}, seen.put)
    started = []
    try:
        assert watcher.connected.wait(10)
        assert seen.get(timeout=5) is None  # on connecting: look once, events of a gap are not replayed
        for name, labels in ((f"igr-{db}-other", {"influencegen.db": "another"}), (f"igr-{db}-mine", {"influencegen.db": db})):
            spec = ContainerSpec(name=name, image=IMAGE, command="sleep 0.3; exit 3", labels=labels)
            started.append(runner.start(spec))
        event = seen.get(timeout=10)
        assert event["Action"] == "die"
        assert event["Actor"]["Attributes"]["influencegen.db"] == db
        assert event["Actor"]["Attributes"]["exitCode"] == "3"
        state = runner.state(started[1])
        assert not state.running and state.exit_code == 3
        with pytest.raises(queue.Empty):  # the other database's container is not ours
            seen.get(timeout=1)
    finally:
        watcher.close()
        for container_id in started:
            runner.remove(container_id)
        for volume in (f"igr-{db}-other", f"igr-{db}-mine"):
            runner.remove_volume(volume)
        runner.close()
    watcher.thread.join(5)
    assert not watcher.thread.is_alive()
