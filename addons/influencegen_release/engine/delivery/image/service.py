"""Run a service container from an image digest on a runner host, health-check it, and keep
the previous one when the new one is not healthy.

A service container is labelled (``influencegen.db``, ``influencegen.service`` = the
environment, ``influencegen.deployment``), limited (CPU, memory, pids), runs with no network
or with the host's (then its ports are the host's: it must bind 127.0.0.1), a read-only root,
no capabilities and ``no-new-privileges``, and restarts with the engine. It never carries the
job label (``influencegen.release``), so the scheduler's reconcile never takes it for a job.

Order of a deploy: with network ``none`` the previous container keeps running until the new
one is healthy (no port can clash); with network ``host`` it is stopped first, so the new one
can bind the same port, and started again when the new one fails.
"""

import time
from dataclasses import dataclass, field, replace

import requests

from docker import errors as docker_errors

from ...execution.docker_runner import RunnerError

SERVICE_LABEL = "influencegen.service"
STOP_TIMEOUT = 10  # seconds a service gets to stop before it is killed
SETTLE_S = 3  # without any health check, the container must still run after this long
POLL_S = 0.5


class ServiceError(Exception):
    """The deploy could not start (bad settings, image missing); nothing was changed."""


@dataclass
class ServiceSpec:
    name: str
    image: str  # repository@sha256:...
    labels: dict
    network: str = "none"
    cpus: float = 0.5
    memory_mb: int = 256
    pids: int = 128
    env: dict = field(default_factory=dict)
    health_url: str = ""
    health_timeout: int = 60


@dataclass
class ServiceResult:
    ok: bool
    container_id: str = ""
    health: str = ""  # how health was judged
    error: str = ""
    restored: bool = True  # on failure: the previous containers run again (or there were none)
    replaced: list = field(default_factory=list)  # names of the previous containers
    timeline: list = field(default_factory=list)


def containers(runner, labels):
    """Service containers carrying all ``labels``, oldest first: ``[{id, name, running, labels, image}]``."""
    found = runner.containers(SERVICE_LABEL, labels)
    return [
        {
            "id": c["Id"],
            "name": (c.get("Names") or ["/?"])[0].lstrip("/"),
            "running": c.get("State") == "running",
            "labels": c.get("Labels") or {},
            "image": c.get("Image", ""),
        }
        for c in sorted(found, key=lambda c: c.get("Created", 0))
    ]


def deploy(runner, spec, match):
    """Replace the service containers carrying labels ``match`` by one from ``spec``.

    Returns a ServiceResult; never leaves two versions running, and on failure leaves the
    previous containers as they were (running again when they had to be stopped)."""
    if spec.network not in ("none", "host"):
        raise ServiceError(f"network {spec.network!r}: a service runs with network none or host")
    if spec.health_url and not spec.health_url.startswith(("http://", "https://")):
        raise ServiceError(f"health URL {spec.health_url!r}: expected http:// or https://")
    started = time.monotonic()
    result = ServiceResult(ok=False)

    def step(text):
        result.timeline.append(f"{time.monotonic() - started:8.2f}s {text}")

    previous = containers(runner, match)
    result.replaced = [c["name"] for c in previous]
    stopped = []
    if spec.network == "host":
        for container in previous:
            if container["running"]:
                _call(runner, "stop", container["id"], timeout=STOP_TIMEOUT)
                stopped.append(container)
                step(f"stopped {container['name']} (network host: the new one takes its ports)")
    try:
        result.container_id = _start(runner, spec)
        step(f"started {spec.name} from {spec.image}")
        result.health, problem = _wait_healthy(runner, result.container_id, spec, step)
    except RunnerError as exc:
        problem = str(exc)
    if not problem:
        for container in previous:
            try:
                _call(runner, "remove_container", container["id"], force=True)
                step(f"removed {container['name']}")
            except RunnerError as exc:  # the new version runs: a leftover is reported, not fatal
                step(f"could not remove {container['name']}: {exc}")
        result.ok = True
        return result
    result.error = problem
    if result.container_id:
        logs = _logs(runner, result.container_id)
        if logs:
            result.error += f"\nlast lines of {spec.name}:\n{logs}"
        _call(runner, "remove_container", result.container_id, force=True)
        step(f"removed {spec.name}")
    for container in stopped:
        try:
            _call(runner, "start", container["id"])
            step(f"started {container['name']} again")
            _how, problem = _wait_healthy(runner, container["id"], replace(spec, name=container["name"]), step)
        except RunnerError as exc:
            problem = str(exc)
        if problem:
            result.restored = False
            result.error += f"\nthe previous container {container['name']} did not come back: {problem}"
    return result


def _start(runner, spec):
    try:
        container = runner.client.api.create_container(
            image=spec.image,
            name=spec.name,
            labels={SERVICE_LABEL: spec.labels.get(SERVICE_LABEL, "1"), **spec.labels},
            environment=spec.env,
            host_config=runner.client.api.create_host_config(
                network_mode=spec.network,
                mem_limit=f"{spec.memory_mb}m",
                memswap_limit=f"{spec.memory_mb}m",
                nano_cpus=int(spec.cpus * 1e9),
                pids_limit=spec.pids,
                read_only=True,
                tmpfs={"/tmp": "rw,size=64m"},
                security_opt=["no-new-privileges"],
                cap_drop=["ALL"],
                init=True,
                restart_policy={"Name": "unless-stopped"},
            ),
        )
    except docker_errors.ImageNotFound as exc:
        raise RunnerError(f"image {spec.image} is not on runner {runner.base_url}") from exc
    except docker_errors.APIError as exc:
        raise RunnerError(f"runner {runner.base_url} refused the container {spec.name}: {exc.explanation or exc}") from exc
    except (docker_errors.DockerException, OSError) as exc:
        raise RunnerError(f"Docker engine {runner.base_url} does not answer: {exc}") from exc
    _call(runner, "start", container["Id"])
    return container["Id"]


def _wait_healthy(runner, container_id, spec, step):
    """``(how, problem)``: problem is empty when the container is healthy within the timeout."""
    config = _call(runner, "inspect_container", container_id)
    has_healthcheck = bool(((config.get("Config") or {}).get("Healthcheck") or {}).get("Test"))
    how = f"GET {spec.health_url}" if spec.health_url else ("the image's HEALTHCHECK" if has_healthcheck else "still running")
    deadline = time.monotonic() + (spec.health_timeout if (spec.health_url or has_healthcheck) else SETTLE_S)
    last = "no answer yet"
    session = requests.Session()
    session.trust_env = False
    while True:
        details = _call(runner, "inspect_container", container_id)
        state = details["State"]
        if not state.get("Running") or state.get("Restarting") or details.get("RestartCount"):
            # the restart policy brings a crashed service back: a restart is a failure too
            if details.get("RestartCount") or state.get("Restarting"):
                return how, f"{spec.name} exited and was restarted {details.get('RestartCount') or 1} time(s)"
            oom = ", OOM-killed" if state.get("OOMKilled") else ""
            return how, f"{spec.name} stopped (exit code {state.get('ExitCode')}{oom})"
        if spec.health_url:
            try:
                response = session.get(spec.health_url, timeout=5)
                if response.status_code == 200:
                    step(f"healthy: {how} answered 200")
                    return how, ""
                last = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                last = type(exc).__name__
        elif has_healthcheck:
            status = (state.get("Health") or {}).get("Status", "starting")
            if status == "healthy":
                step(f"healthy: {how}")
                return how, ""
            if status == "unhealthy":
                return how, f"{spec.name} is unhealthy ({how})"
            last = status
        if time.monotonic() >= deadline:
            if not (spec.health_url or has_healthcheck):
                step(f"no health check configured: {spec.name} still runs after {SETTLE_S} s")
                return how, ""
            return how, f"{spec.name} not healthy within {spec.health_timeout} s ({how}: {last})"
        time.sleep(POLL_S)


def _logs(runner, container_id, lines=20):
    try:
        return runner.client.api.logs(container_id, tail=lines).decode("utf-8", "replace").strip()
    except (docker_errors.DockerException, OSError):
        return ""


def _call(runner, method, *args, **kwargs):
    try:
        return getattr(runner.client.api, method)(*args, **kwargs)
    except docker_errors.NotFound as exc:
        raise RunnerError(f"container {str(args[0])[:12]} is gone from {runner.base_url}") from exc
    except (docker_errors.DockerException, OSError) as exc:
        raise RunnerError(f"{method} on {runner.base_url} failed: {exc}") from exc
