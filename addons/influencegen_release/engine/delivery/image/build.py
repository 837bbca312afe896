"""Build, tag, push and pull container images on a runner host's Docker engine.

A build reads the commit's exported tree as its context, with no network unless the task
declares ``network: host``, with memory limits on its build containers and a wall-clock
timeout. Registry credentials go to the engine per call (X-Registry-Auth), never through a
Docker config file; proxies and credentials of the Odoo server's own ``~/.docker`` are not used.
"""

import os
import time
from dataclasses import dataclass, field

import requests
import urllib3

from docker import errors as docker_errors

from ...execution.docker_runner import RunnerError
from .registry import check_name, check_tag

BUILD_LABEL = "influencegen.image"  # every image the product builds carries it


class ImageError(Exception):
    """A build, tag, push or pull that failed; the message says why (the build's own error)."""


@dataclass
class BuildResult:
    image_id: str
    size: int
    log: list = field(default_factory=list)


def context_paths(tree, context=".", dockerfile="Dockerfile"):
    """``(context dir, Dockerfile path relative to it)``, both inside ``tree``; raise ImageError."""
    for what, value in (("context", context), ("dockerfile", dockerfile)):
        if not isinstance(value, str) or value.startswith("/") or ".." in value.split("/"):
            raise ImageError(f"with.{what}: {value!r} is not a path inside the repository")
    root = os.path.realpath(tree)
    folder = os.path.realpath(os.path.join(root, context))
    path = os.path.realpath(os.path.join(folder, dockerfile))
    if not (folder == root or folder.startswith(root + os.sep)) or not path.startswith(folder + os.sep):
        raise ImageError(f"with.dockerfile: {dockerfile!r} must be inside the build context {context!r}")
    if not os.path.isdir(folder):
        raise ImageError(f"with.context: {context!r} is not a folder of the commit")
    if not os.path.isfile(path):
        raise ImageError(f"with.dockerfile: {os.path.normpath(os.path.join(context, dockerfile))!r} is not a file of the commit")
    return folder, os.path.relpath(path, folder)


def build(runner, context_dir, dockerfile, labels, network="none", timeout=600, memory_mb=1024, buildargs=None):
    """Build the image; return a BuildResult. ``runner`` is an engine.docker_runner.DockerRunner.

    The build stops when ``timeout`` seconds have passed (the engine cancels a classic build
    when its client goes away)."""
    if network not in ("none", "host"):
        raise ImageError(f"network {network!r}: a build runs with network none or host")
    deadline = time.monotonic() + timeout
    log, image_id, error = [], None, None
    try:
        stream = runner.client.api.build(
            path=context_dir,
            dockerfile=dockerfile,
            labels={BUILD_LABEL: "1", **labels},
            network_mode=network,
            container_limits={"memory": memory_mb * 1024 * 1024, "memswap": memory_mb * 1024 * 1024},
            buildargs=buildargs or {},
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            timeout=timeout,
            use_config_proxy=False,
        )
        for chunk in stream:
            if "stream" in chunk:
                log.extend(line for line in chunk["stream"].splitlines() if line.strip())
            if "error" in chunk:
                error = chunk["error"].strip()
            if "aux" in chunk and isinstance(chunk["aux"], dict) and chunk["aux"].get("ID"):
                image_id = chunk["aux"]["ID"]
            if time.monotonic() > deadline:
                stream.close()
                raise ImageError(f"the build took longer than its timeout of {timeout} s and was stopped")
    except docker_errors.APIError as exc:
        raise ImageError(f"the engine refused the build: {exc.explanation or exc}") from exc
    except (docker_errors.DockerException, OSError, requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        if time.monotonic() > deadline:
            raise ImageError(f"the build took longer than its timeout of {timeout} s and was stopped") from exc
        raise RunnerError(f"Docker engine {runner.base_url} does not answer: {exc}") from exc
    if error or not image_id:
        tail = "\n".join(log[-15:])
        raise ImageError(f"the build failed: {error or 'no image was produced'}" + (f"\n{tail}" if tail else ""))
    return BuildResult(image_id=image_id, size=inspect(runner, image_id).get("Size", 0), log=log)


def inspect(runner, image):
    """The engine's description of ``image`` (id, tags, repo digests, config); ImageError if absent."""
    try:
        return runner.client.api.inspect_image(image)
    except docker_errors.ImageNotFound as exc:
        raise ImageError(f"image {image} is not on runner {runner.base_url}") from exc
    except (docker_errors.DockerException, OSError) as exc:
        raise RunnerError(f"Docker engine {runner.base_url} does not answer: {exc}") from exc


def tag(runner, image_id, repository, tags):
    """Tag ``image_id`` as ``repository:tag`` for each tag; return the references."""
    name = repository.split("/", 1)[1] if "/" in repository else repository
    check_name(name)
    refs = []
    for value in tags:
        check_tag(value)
        try:
            runner.client.api.tag(image_id, repository, value, force=True)
        except (docker_errors.DockerException, OSError) as exc:
            raise ImageError(f"cannot tag {image_id[:19]} as {repository}:{value}: {exc}") from exc
        refs.append(f"{repository}:{value}")
    return refs


def push(runner, repository, tag_name, auth_config):
    """Push ``repository:tag``; return the digest Docker reports (``sha256:...``)."""
    digest, error = None, None
    try:
        for chunk in runner.client.api.push(repository, tag_name, auth_config=auth_config, stream=True, decode=True):
            if "error" in chunk:
                error = chunk["error"].strip()
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = aux["Digest"]
    except docker_errors.APIError as exc:
        raise ImageError(f"the engine refused to push {repository}:{tag_name}: {exc.explanation or exc}") from exc
    except (docker_errors.DockerException, OSError) as exc:
        raise RunnerError(f"Docker engine {runner.base_url} does not answer: {exc}") from exc
    if error:
        raise ImageError(f"push of {repository}:{tag_name} failed: {error}")
    if not digest:
        raise ImageError(f"push of {repository}:{tag_name}: the engine reported no digest")
    return digest


def pull(runner, repository, digest, auth_config):
    """Pull ``repository@digest`` onto the runner host (a no-op when it is there already)."""
    reference = f"{repository}@{digest}"
    if _present(runner, reference):
        return reference
    try:
        for chunk in runner.client.api.pull(repository, tag=digest, auth_config=auth_config, stream=True, decode=True):
            if "error" in chunk:
                raise ImageError(f"pull of {reference} failed: {chunk['error'].strip()}")
    except docker_errors.APIError as exc:
        raise ImageError(f"pull of {reference} failed: {exc.explanation or exc}") from exc
    except (docker_errors.DockerException, OSError) as exc:
        raise RunnerError(f"Docker engine {runner.base_url} does not answer: {exc}") from exc
    return reference


def _present(runner, image):
    try:
        runner.client.api.inspect_image(image)
    except docker_errors.ImageNotFound:
        return False
    except (docker_errors.DockerException, OSError) as exc:
        raise RunnerError(f"Docker engine {runner.base_url} does not answer: {exc}") from exc
    return True


def save(runner, image, path):
    """Write ``docker save`` of ``image`` to ``path`` (what image scanners read)."""
    try:
        with open(path, "wb") as handle:
            for chunk in runner.client.api.get_image(image):
                handle.write(chunk)
    except (docker_errors.DockerException, OSError) as exc:
        raise ImageError(f"cannot save {image}: {exc}") from exc
    return path


def find_built(runner, labels):
    """Image ids built by the product carrying all of ``labels``, newest first."""
    filters = {"label": [BUILD_LABEL] + [f"{k}={v}" for k, v in labels.items()]}
    try:
        images = runner.client.api.images(filters=filters)
    except (docker_errors.DockerException, OSError) as exc:
        raise RunnerError(f"Docker engine {runner.base_url} does not answer: {exc}") from exc
    return [i["Id"] for i in sorted(images, key=lambda i: i.get("Created", 0), reverse=True)]
