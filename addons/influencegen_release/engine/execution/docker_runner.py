"""Run CI steps in Docker containers (docker SDK), never auto-removed, always limited.

Every container carries labels naming the database, run, job and attempt, so the reconcile
loop finds it again after a crash; its name is unique per job attempt, so two workers can
never start the same attempt twice (Docker refuses the second name).

A job's files travel through the Docker API only (``engine/execution/job_files.py``): the
container gets a volume of its own, named and labelled as it is, filled before the start with
``put_archive`` and read after the end with ``get_archive``, so a runner host shares no folder
with the control plane. The built-in actions' tool containers (image scans, IaC plans and
applies) send their folders the same way (``job_files.folder_archive``/``fetch_folder``);
``source_dir``/``workspace_dir`` bind mounts remain for callers on the runner host itself.
"""

import logging
import socket
import warnings
from dataclasses import dataclass, field

import docker
from docker import errors as docker_errors

from .docker_stamps import parse_ns

# docker-py 5 compares API versions with distutils' StrictVersion on every call; the warning
# says nothing about our code and Odoo turns some warnings into errors.
warnings.filterwarnings("ignore", category=DeprecationWarning, module="docker\\.utils\\.utils")

_logger = logging.getLogger(__name__)

LABEL = "influencegen.release"
JOB_ROOT = "/.igr"  # the job volume, whole: put_archive writes src/ and workspace/ there
API_VERSION = "1.41"
LOG_BATCH_BYTES = 256 * 1024


class RunnerError(Exception):
    """A Docker engine that cannot be reached or refuses a container; the message says why."""

    conflict = False  # the container name is taken: an earlier start of the same attempt made it


@dataclass
class ContainerSpec:
    name: str
    image: str
    command: str
    labels: dict
    source_dir: str = None  # None: /src and /workspace come from the job's volume (``job_files``)
    workspace_dir: str = None
    env: dict = field(default_factory=dict)
    network: str = "none"
    cpus: float = 1.0
    memory_mb: int = 1024
    pids: int = 256
    user: str = "1000:1000"
    mounts: dict = field(default_factory=dict)  # more bind mounts: {host path: {"bind": path, "mode": "ro"|"rw"}}
    volume_folders: dict = field(default_factory=dict)  # more folders of the job volume: {name: {"bind": path, "mode": ...}}
    stdin: bool = False  # stdin open for one client (``feed``), closed when it hangs up: a warm container's


def task_limits(task):
    """A pipeline task's network and resource limits, as ContainerSpec keywords."""
    return {"network": task["network"], "cpus": task["cpus"], "memory_mb": task["memory"], "pids": task["pids"]}


@dataclass
class ContainerState:
    status: str  # created, running, exited, dead, ...
    running: bool
    exit_code: int
    oom_killed: bool
    error: str = ""


@dataclass
class LogCursor:
    """Position in a container's log: last timestamp read and how many lines carried it."""

    ns: int = 0
    seen: int = 0


def tls_config(tls):
    """docker-py's TLS settings of ``{"ca": path, "cert": path, "key": path}``, or None."""
    if not tls:
        return None
    return docker.tls.TLSConfig(client_cert=(tls["cert"], tls["key"]), ca_cert=tls["ca"], verify=True)


class DockerRunner:
    def __init__(self, base_url, timeout=60, tls=None):
        """``tls``: ``{"ca": path, "cert": path, "key": path}`` for a tcp:// engine with --tlsverify."""
        self.base_url = base_url
        self.tls = tls
        try:
            # A fixed API version (Docker 20.10+) avoids a call at construction, so that the
            # environment's proxy and CA-bundle variables can be switched off first: an engine
            # is reached directly, and a TLS engine is verified against its own CA only.
            self.client = docker.DockerClient(base_url=base_url, timeout=timeout, tls=tls_config(tls), version=API_VERSION)
            self.client.api.trust_env = False
        except docker_errors.DockerException as exc:
            raise RunnerError(f"Docker engine {base_url} does not answer: {exc}") from exc

    def close(self):
        self.client.close()

    def ping(self):
        try:
            return self.client.ping()
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"Docker engine {self.base_url} does not answer: {exc}") from exc

    def info(self):
        try:
            return self.client.info()
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"Docker engine {self.base_url} does not answer: {exc}") from exc

    def start(self, spec, inputs=()):
        """Create and start the container; return its id (``create_container``, then ``start_created``)."""
        container_id = self.create_container(spec, inputs)
        self.start_created(container_id, spec.name, volume=spec.name if spec.source_dir is None else None)
        return container_id

    def create_container(self, spec, inputs=()):
        """Create the container, not started yet; return its id. Without bind-mounted folders
        the container gets the job volume of its name, and each tar of ``inputs`` (a file
        object: members ``src/...`` and ``workspace/...``) is put into it. The scheduler
        creates a job's container this way ahead, while its host is full."""
        if spec.source_dir is None:
            volumes = dict(self._job_volume(spec), **spec.mounts)
        else:
            volumes = {
                spec.source_dir: {"bind": "/src", "mode": "ro"},
                spec.workspace_dir: {"bind": "/workspace", "mode": "rw"},
                **spec.mounts,
            }
        try:
            container = self._create(spec, volumes)
        except RunnerError as exc:
            if spec.source_dir is None and not exc.conflict:  # a conflict's volume is the earlier start's
                self.discard(None, spec.name)
            raise
        try:
            for archive in inputs:
                self.put_files(container.id, archive)
        except RunnerError:
            self.discard(container.id, spec.name if spec.source_dir is None else None)
            raise
        return container.id

    def put_files(self, container_id, archive):
        """Put the tar ``archive`` into the container's job volume (``JOB_ROOT``)."""
        try:
            self.client.api.put_archive(container_id, JOB_ROOT, archive)
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"the files of container {container_id[:12]} did not go in: {exc}") from exc

    def feed(self, container_id, archive):
        """Write the file ``archive`` to the stdin of a container made with ``stdin`` and close
        it: one attach, no process on the host (``put_archive`` costs Docker a mount and a
        helper process: 60-100 ms here, against a few ms)."""
        try:
            sock = self.client.api.attach_socket(container_id, params={"stdin": 1, "stream": 1})
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"cannot attach to container {container_id[:12]}: {exc}") from exc
        raw = getattr(sock, "_sock", sock)  # the socket itself: a half-close ends the stream
        try:
            while chunk := archive.read(LOG_BATCH_BYTES):
                raw.sendall(chunk)
            raw.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise RunnerError(f"the files of container {container_id[:12]} did not go in: {exc}") from exc
        finally:
            sock.close()

    def start_created(self, container_id, name, volume=None):
        """Start the container ``name`` that ``create_container`` made; one that does not start is
        removed with its job volume ``volume``."""
        try:
            self.client.api.start(container_id)
        except (docker_errors.DockerException, OSError) as exc:
            self.discard(container_id, volume)
            raise RunnerError(f"container {name} did not start: {exc}") from exc

    def _create(self, spec, volumes):
        try:
            return self.client.containers.create(
                image=spec.image,
                command=["/bin/sh", "-c", spec.command],
                name=spec.name,
                labels={LABEL: "1", **spec.labels},
                environment=spec.env,
                working_dir="/workspace",
                user=spec.user,
                network_mode=spec.network,
                mem_limit=f"{spec.memory_mb}m",
                memswap_limit=f"{spec.memory_mb}m",
                nano_cpus=int(spec.cpus * 1e9),
                pids_limit=spec.pids,
                volumes=volumes,
                read_only=True,
                tmpfs={"/tmp": "rw,size=256m"},
                security_opt=["no-new-privileges"],
                cap_drop=["ALL"],
                init=True,
                auto_remove=False,
                stdin_open=spec.stdin,
                detach=not spec.stdin,  # docker-py sets StdinOnce only for a container it would attach to
            )
        except docker_errors.ImageNotFound as exc:
            raise RunnerError(
                f"image '{spec.image}' is not on runner {self.base_url}: build it (scripts/build-images) or pull it"
            ) from exc
        except docker_errors.APIError as exc:
            if exc.status_code == 409:
                error = RunnerError(f"container {spec.name} already exists on {self.base_url}")
                error.conflict = True
                raise error from exc
            raise RunnerError(f"runner {self.base_url} refused the container: {exc.explanation or exc}") from exc
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"Docker engine {self.base_url} does not answer: {exc}") from exc

    def _job_volume(self, spec):
        """The job's volume, mounted whole at JOB_ROOT (where ``put_archive`` writes) and its
        folders at /src (read-only: even root cannot write there) and /workspace. The folders
        are bound from the volume's own path on the runner host, which Docker resolves there."""
        try:
            volume = self.client.api.create_volume(name=spec.name, labels={LABEL: "1", **spec.labels})
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"runner {self.base_url} refused the job volume {spec.name}: {exc}") from exc
        root = volume["Mountpoint"]
        return {
            spec.name: {"bind": JOB_ROOT, "mode": "rw"},
            f"{root}/src": {"bind": "/src", "mode": "ro"},
            f"{root}/workspace": {"bind": "/workspace", "mode": "rw"},
            **{f"{root}/{folder}": mount for folder, mount in spec.volume_folders.items()},
        }

    def discard(self, container_id, volume):
        """Remove the container and/or the volume; a failure is logged, never raised (the
        housekeeping sweeps what is left)."""
        try:
            if container_id:
                self.remove(container_id)
            if volume:
                self.remove_volume(volume)
        except RunnerError as exc:  # the orphan sweep removes it later
            _logger.warning("%s", exc)

    def get_archive(self, container_id, path):
        """``(chunks, stat)`` of ``path`` in the container (a tar stream and Docker's stat of
        the path), or None when the path does not exist."""
        try:
            return self.client.api.get_archive(container_id, path, chunk_size=LOG_BATCH_BYTES)
        except docker_errors.NotFound:
            return None
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"cannot read {path} of container {container_id[:12]}: {exc}") from exc

    def volumes(self, labels):
        """The names of the job volumes carrying all of these labels: ``{name: labels}``."""
        filters = {"label": [LABEL] + [f"{k}={v}" for k, v in labels.items()]}
        try:
            found = self.client.api.volumes(filters=filters).get("Volumes") or []
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"Docker engine {self.base_url} does not answer: {exc}") from exc
        return {v["Name"]: v.get("Labels") or {} for v in found}

    def remove_volume(self, name):
        """Remove a job volume; one still used by a container stays (the sweep retries)."""
        try:
            self.client.api.remove_volume(name, force=True)
        except docker_errors.NotFound:
            return
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"cannot remove volume {name}: {exc}") from exc

    def find(self, labels):
        """Containers (running or not) carrying all of these labels: ``{id: labels}``."""
        return {c["Id"]: c.get("Labels") or {} for c in self.containers(LABEL, labels)}

    def containers(self, marker, labels):
        """Docker's descriptions of the containers (running or not) carrying the label
        ``marker`` and all of ``labels``."""
        filters = {"label": [marker] + [f"{k}={v}" for k, v in labels.items()]}
        try:
            return self.client.api.containers(all=True, filters=filters)
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"Docker engine {self.base_url} does not answer: {exc}") from exc

    def state(self, container_id):
        """The container's state, or None when it no longer exists."""
        try:
            data = self.client.api.inspect_container(container_id)["State"]
        except docker_errors.NotFound:
            return None
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"Docker engine {self.base_url} does not answer: {exc}") from exc
        return ContainerState(
            status=data.get("Status", ""),
            running=bool(data.get("Running")),
            exit_code=int(data.get("ExitCode") or 0),
            oom_killed=bool(data.get("OOMKilled")),
            error=data.get("Error") or "",
        )

    def wait_exit(self, container_id, timeout):
        """Wait for the container to end (Docker's wait API: no polling); killed after
        ``timeout`` seconds. ``(state, timed_out)``, state None when it vanished."""
        try:
            self.client.api.wait(container_id, timeout=timeout)
            timed_out = False
        except docker_errors.NotFound:
            return None, False
        except (docker_errors.DockerException, OSError) as exc:  # requests' ReadTimeout is an OSError
            if "timed out" not in str(exc).lower() and "timeout" not in type(exc).__name__.lower():
                raise RunnerError(f"Docker engine {self.base_url} does not answer: {exc}") from exc
            self.kill(container_id)
            timed_out = True
        return self.state(container_id), timed_out

    def kill(self, container_id):
        try:
            self.client.api.kill(container_id)
        except docker_errors.NotFound:
            return  # already gone: nothing to stop
        except docker_errors.APIError as exc:
            if exc.status_code != 409:  # 409: not running any more
                raise RunnerError(f"cannot stop container {container_id[:12]}: {exc.explanation or exc}") from exc

    def remove(self, container_id):
        try:
            self.client.api.remove_container(container_id, force=True)
        except docker_errors.NotFound:
            return  # already removed
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"cannot remove container {container_id[:12]}: {exc}") from exc

    def copy_logs(self, container_id, cursor, write, masker=None):
        """Append the log lines after ``cursor`` through ``write(bytes)``; advance the cursor.

        Lines are read with their timestamps, so a read that starts in the middle of a second
        skips exactly the lines already stored. Memory stays bounded by ``LOG_BATCH_BYTES``.
        Returns the number of bytes written.
        """
        since = cursor.ns // 10**9 if cursor.ns else None
        try:
            stream = self.client.api.logs(
                container_id, stdout=True, stderr=True, timestamps=True, stream=True, follow=False, since=since
            )
        except docker_errors.NotFound:
            return 0
        except (docker_errors.DockerException, OSError) as exc:
            raise RunnerError(f"cannot read the log of {container_id[:12]}: {exc}") from exc
        written, batch, batched, skipped_at_cursor, pending = 0, [], 0, 0, b""
        for frame in stream:
            pending += frame
            *lines, pending = pending.split(b"\n")
            for line in lines:
                stamp, _sep, text = line.partition(b" ")
                ns = parse_ns(stamp)
                if ns is None:  # not a timestamped entry: keep it with the previous one
                    ns, text = cursor.ns, line
                elif ns < cursor.ns:
                    continue
                elif ns == cursor.ns:
                    if skipped_at_cursor < cursor.seen:
                        skipped_at_cursor += 1
                        continue
                    cursor.seen += 1
                    skipped_at_cursor += 1
                else:
                    cursor.ns, cursor.seen, skipped_at_cursor = ns, 1, 1
                batch.append(text + b"\n")
                batched += len(text) + 1  # a running count: summing the batch per line is quadratic
                if batched >= LOG_BATCH_BYTES:
                    written += self._flush(batch, write, masker)
                    batched = 0
        if pending:  # a last line without newline
            stamp, _sep, text = pending.partition(b" ")
            ns = parse_ns(stamp)
            if ns is not None and (ns > cursor.ns or skipped_at_cursor >= cursor.seen):
                cursor.seen = cursor.seen + 1 if ns == cursor.ns else 1
                cursor.ns = ns
                batch.append(text + b"\n")
        written += self._flush(batch, write, masker)
        return written

    @staticmethod
    def _flush(batch, write, masker):
        if not batch:
            return 0
        data = b"".join(batch)
        batch.clear()
        if masker:
            data = masker.mask_bytes(data)
        write(data)
        return len(data)
