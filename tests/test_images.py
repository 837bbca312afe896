"""Image engine (engine/delivery/image/build.py, registry_client.py, container_service.py) on the real
Docker engine and a real registry (Debian's docker-registry, htpasswd) on 127.0.0.1."""

import os
import socket
import time
import uuid

import pytest

from devstack.registry_server import RegistryServer, missing_install_message
from influencegen_release.engine.delivery.image import build as image_build
from influencegen_release.engine.delivery.image import service as container_service
from influencegen_release.engine.delivery.image.registry import Registry, RegistryError, parse_address, version_tag
from influencegen_release.engine.execution import workspace
from influencegen_release.engine.execution.docker_runner import ContainerSpec, DockerRunner
from influencegen_release.engine.pipeline.spec import read_pipeline_file
from influencegen_release.engine.quality.reports import parse_report

from .conftest import ROOT

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.services]

BASE = os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm")
MARK = f"pytest-img-{uuid.uuid4().hex[:8]}"  # influencegen.db label of everything made here
LABELS = {"influencegen.db": MARK}
USER, PASSWORD = "pusher", "pw-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def runner():
    client = DockerRunner(os.environ.get("IGR_DOCKER_URL", "unix:///var/run/docker.sock"))
    yield client
    api = client.client.api
    for container in api.containers(all=True, filters={"label": f"influencegen.db={MARK}"}):
        api.remove_container(container["Id"], force=True)
    for image in api.images(filters={"label": f"influencegen.db={MARK}"}):
        api.remove_image(image["Id"], force=True)
    client.close()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    missing = missing_install_message()
    if missing:
        pytest.fail(missing)
    server = RegistryServer(str(tmp_path_factory.mktemp("registry")), {USER: PASSWORD})
    try:
        yield server.start()
    finally:
        server.stop()


def build(runner, tmp_path, dockerfile, **kwargs):
    folder = tmp_path / uuid.uuid4().hex[:8]
    folder.mkdir()
    (folder / "Dockerfile").write_text(dockerfile.replace("BASE", BASE))
    return image_build.build(runner, str(folder), "Dockerfile", LABELS, memory_mb=256, **{"timeout": 120, **kwargs})


def service(name, image, **kwargs):
    labels = dict(LABELS, **{container_service.SERVICE_LABEL: "svc", "influencegen.digest": name})
    return container_service.ServiceSpec(name=f"{MARK}-{name}", image=image, labels=labels, health_timeout=20, **kwargs)


# -- registry addresses and tags --------------------------------------------------------------
def test_registry_addresses_allow_plain_http_only_on_loopback():
    assert parse_address("127.0.0.1:5000") == ("127.0.0.1:5000", "http://127.0.0.1:5000")
    assert parse_address("localhost:5001") == ("localhost:5001", "http://localhost:5001")
    assert parse_address("registry.example.com") == ("registry.example.com", "https://registry.example.com")
    assert parse_address("https://127.0.0.1:5000/") == ("127.0.0.1:5000", "https://127.0.0.1:5000")
    for bad, message in (
        ("http://registry.example.com", "only allowed on a loopback host"),
        ("registry.example.com/team", "expected host"),
        ("user:pw@registry.example.com", "expected host"),
        ("ftp://127.0.0.1", "scheme must be https"),
    ):
        with pytest.raises(RegistryError, match=message):
            parse_address(bad)


def test_semver_versions_become_docker_tags():
    assert version_tag("1.2.0") == "1.2.0"
    assert version_tag("0.1.0-dev.3+abcdef123456") == "0.1.0-dev.3_abcdef123456"
    with pytest.raises(RegistryError, match="not a valid image tag"):
        version_tag("-1.0")


# -- build --------------------------------------------------------------------------------------
def test_build_context_and_dockerfile_stay_inside_the_commit(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    assert image_build.context_paths(str(tmp_path), "app", "Dockerfile") == (str(tmp_path / "app"), "Dockerfile")
    with pytest.raises(image_build.ImageError, match="not a path inside the repository"):
        image_build.context_paths(str(tmp_path), "../etc")
    (tmp_path / "Dockerfile.root").write_text("FROM scratch\n")
    (tmp_path / "app" / "Linked").symlink_to("../Dockerfile.root")  # a link out of the context
    with pytest.raises(image_build.ImageError, match="must be inside the build context"):
        image_build.context_paths(str(tmp_path), "app", "Linked")
    with pytest.raises(image_build.ImageError, match="'Dockerfile' is not a file of the commit"):
        image_build.context_paths(str(tmp_path))


def test_build_labels_the_image_and_has_no_network(runner, tmp_path):
    with socket.socket() as listener:  # a host service the build must not reach
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        probe = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)\""
        built = build(runner, tmp_path, f"FROM BASE\nRUN {probe} && echo reached || echo unreachable; : none\n")
        assert "unreachable" in built.log
        assert image_build.inspect(runner, built.image_id)["Config"]["Labels"][image_build.BUILD_LABEL] == "1"
        assert built.image_id in image_build.find_built(runner, LABELS)
        host = build(runner, tmp_path, f"FROM BASE\nRUN {probe} && echo reached || echo unreachable; : host\n", network="host")
        assert "reached" in host.log


def test_a_failing_build_says_why(runner, tmp_path):
    with pytest.raises(image_build.ImageError, match=r"the build failed: The command '/bin/sh -c echo broken >&2; exit 3' returned a non-zero code: 3"):
        build(runner, tmp_path, "FROM BASE\nRUN echo broken >&2; exit 3\n")


def test_a_build_over_its_timeout_is_stopped(runner, tmp_path):
    with pytest.raises(image_build.ImageError, match="longer than its timeout of 3 s"):
        build(runner, tmp_path, "FROM BASE\nRUN sleep 60\n", timeout=3)


# -- registry -----------------------------------------------------------------------------------
def test_push_reads_the_digest_back_and_pulls_by_digest(runner, registry, tmp_path):
    built = build(runner, tmp_path, f"FROM BASE\nRUN echo {uuid.uuid4().hex} > /id\n")
    repository = f"{registry.address}/pytest/app"
    assert image_build.tag(runner, built.image_id, repository, ["1.0.0", "abc123"]) == [f"{repository}:1.0.0", f"{repository}:abc123"]
    wrong = Registry(registry.address, USER, "wrong")
    with pytest.raises(RegistryError, match=f"refused the credentials of '{USER}'"):
        wrong.login()
    with pytest.raises(image_build.ImageError, match="unauthorized: authentication required"):
        image_build.push(runner, repository, "1.0.0", wrong.auth_config)
    good = Registry(registry.address, USER, PASSWORD)
    assert good.login()
    pushed = image_build.push(runner, repository, "1.0.0", good.auth_config)
    assert good.digest("pytest/app", "1.0.0") == pushed
    assert f"{repository}@{pushed}" in image_build.inspect(runner, built.image_id)["RepoDigests"]
    assert good.tags("pytest/app") == ["1.0.0"]
    with pytest.raises(RegistryError, match="pytest/app:abc123 is not in the registry"):
        good.digest("pytest/app", "abc123")
    runner.client.api.remove_image(built.image_id, force=True)
    assert image_build.pull(runner, repository, pushed, good.auth_config) == f"{repository}@{pushed}"
    assert image_build.inspect(runner, f"{repository}@{pushed}")["Id"] == built.image_id


# -- services -----------------------------------------------------------------------------------
HEALTHY = "FROM BASE\nRUN echo {v} > /v\nHEALTHCHECK --interval=1s --timeout=2s CMD test -f /v\nCMD [\"sleep\", \"600\"]\n"
UNHEALTHY = "FROM BASE\nHEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD false\nCMD [\"sleep\", \"600\"]\n"


def running(runner):
    return [(c["labels"]["influencegen.digest"], c["running"]) for c in container_service.containers(runner, dict(LABELS))]


def test_service_replaced_only_by_a_healthy_one(runner, tmp_path):
    match = dict(LABELS, **{container_service.SERVICE_LABEL: "svc"})
    first = build(runner, tmp_path, HEALTHY.format(v=1))
    result = container_service.deploy(runner, service("one", first.image_id), match)
    assert result.ok and result.health == "the image's HEALTHCHECK", result
    assert running(runner) == [("one", True)]
    details = runner.client.api.inspect_container(result.container_id)
    host = details["HostConfig"]
    assert (host["NetworkMode"], host["Memory"], host["NanoCpus"], host["PidsLimit"], host["ReadonlyRootfs"]) == ("none", 256 * 2**20, 5 * 10**8, 128, True)
    assert host["CapDrop"] == ["ALL"] and host["RestartPolicy"]["Name"] == "unless-stopped"
    assert "influencegen.release" not in details["Config"]["Labels"]  # never taken for a job

    broken = build(runner, tmp_path, UNHEALTHY)
    result = container_service.deploy(runner, service("two", broken.image_id), match)
    assert not result.ok and result.restored
    assert "is unhealthy (the image's HEALTHCHECK)" in result.error
    assert running(runner) == [("one", True)]  # network none: it never stopped

    exits = build(runner, tmp_path, 'FROM BASE\nCMD ["sh", "-c", "echo bye; exit 4"]\n')
    result = container_service.deploy(runner, service("three", exits.image_id), match)
    # seen before or after the restart policy brought it back, depending on timing
    assert not result.ok and "bye" in result.error
    assert "stopped (exit code 4)" in result.error or "exited and was restarted" in result.error
    assert running(runner) == [("one", True)]

    second = build(runner, tmp_path, HEALTHY.format(v=2))
    result = container_service.deploy(runner, service("four", second.image_id), match)
    assert result.ok and result.replaced == [f"{MARK}-one"]
    assert running(runner) == [("four", True)]

    plain = build(runner, tmp_path, 'FROM BASE\nCMD ["sleep", "600"]\n')
    result = container_service.deploy(runner, service("five", plain.image_id), match)
    assert result.ok and result.health == "still running"
    assert running(runner) == [("five", True)]


def test_service_settings_are_checked_first(runner):
    with pytest.raises(container_service.ServiceError, match="network none or host"):
        container_service.deploy(runner, service("x", BASE, network="bridge"), {})
    with pytest.raises(container_service.ServiceError, match="expected http"):
        container_service.deploy(runner, service("x", BASE, health_url="ftp://127.0.0.1/"), {})


# -- the seed's Dockerfile scan -----------------------------------------------------------------
def test_seed_dockerfile_scan_runs_checkov_for_real(runner, tmp_path):
    """PL-CONTAINER-IMG's checkov task, as written, in its image: a Dockerfile without USER and
    HEALTHCHECK gives high findings (which block its gate); the clean one gives none."""
    (pipeline,) = read_pipeline_file(os.path.join(ROOT, "pipelines", "pl-container-img.yml")).pipelines
    task = next(t for s in pipeline["stages"] for t in s["tasks"] if t["key"] == "dockerfile_scan")
    found = {}
    for case, dockerfile in (
        ("bare", "FROM BASE\nADD app.py /app/app.py\nCMD [\"python3\", \"/app/app.py\"]\n"),
        ("clean", "FROM BASE\nCOPY app.py /app/app.py\nUSER 1000\nHEALTHCHECK CMD [\"true\"]\nCMD [\"python3\", \"/app/app.py\"]\n"),
    ):
        name = f"{MARK}-checkov-{case}"
        source, work = workspace.prepare(str(tmp_path), name)
        with open(os.path.join(source, "Dockerfile"), "w", encoding="utf-8") as handle:
            handle.write(dockerfile.replace("BASE", BASE))
        spec = ContainerSpec(
            name=name, image=task["image"], command=task["run"], labels=dict(LABELS), source_dir=source, workspace_dir=work,
            network=task["network"], cpus=task["cpus"], memory_mb=task["memory"], pids=task["pids"],
        )  # fmt: skip
        container_id = runner.start(spec)
        while runner.state(container_id).running:
            time.sleep(0.3)
        assert runner.state(container_id).exit_code == 0
        runner.remove(container_id)
        report = task["reports"][0]
        data, _digest = workspace.collect(work, report["path"], 10**7)
        found[case] = {(f.rule, f.severity, f.file) for f in parse_report(report["format"], data, report["path"]).findings}
    assert {("CKV_DOCKER_2", "high", "Dockerfile"), ("CKV_DOCKER_3", "high", "Dockerfile"), ("CKV_DOCKER_4", "high", "Dockerfile")} <= found["bare"]
    assert found["clean"] == set()
