"""Container images delivered by the control plane (PL-CONTAINER-IMG's built-in actions), through
the scheduler, on the real Docker engine and a real registry (Debian's docker-registry on
127.0.0.1 with htpasswd auth): the commit's Dockerfile built, its Dockerfile scanned by checkov,
the image scanned (a Trivy stand-in that emits the recorded Trivy report of tests/data, since
Trivy cannot be had offline), tagged with SemVer and the commit, pushed with credentials read from
the environment's reference, the digest read back from the registry, then run as a service
(network host, bound to 127.0.0.1) and health-checked; a broken version leaves the previous one
running; one call rolls the service back to the previous digest."""

import json
import os
import socket
import urllib.error
import urllib.request

import pytest

import docker
from devstack.odoo_server import DB, Api
from devstack.registry_server import RegistryServer, missing_install_message
from devstack.repository import init_repository
from influencegen_release.engine.delivery.image.registry import Registry

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BASE = os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm")
USER, PASSWORD = "ci-pusher", "Reg1stry-" + os.urandom(6).hex()
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "reports")
SCANNER = f"igr-img-test/trivy-standin:{os.getpid()}"
ABSENT_SCANNER = "igr-img-test/absent-scanner:0"

PIPELINE = """\
version: 1
environments:
  - {code: it-registry, name: IT registry, tier: production, kind: docker, url: "%(registry)s", credentials: "file:%(pwfile)s"}
  - {code: it-svc, name: IT service, tier: development, kind: docker, url: "%(registry)s", credentials: "file:%(pwfile)s"}
pipeline:
  code: PL-IT-IMG
  name: Image delivery
  kind: docker
  triggers:
    - {event: push, branches: ['main']}
  defaults: {image: %(base)s, timeout: 300, memory: 512m, cpus: 1}
  stages:
    - name: Build
      key: build
      tasks:
        - {name: Build image, key: docker_build, uses: image.build, with: {name: it/app}}
    - name: Scan
      key: scan
      tasks:
%(checkov_task)s        - {name: Image scan, key: image_scan, uses: image.scan, with: {image: "%(scanner)s"}}
      gates:
        - name: Image Scan Pass
          criteria:
%(checkov_criterion)s            - findings: {from: [image_scan], severity: critical, max: 5, unknown: warn}
    - name: Push
      key: push
      environment: it-registry
      tasks:
        - {name: Tag, key: image_tag, uses: image.tag, with: {tags: [stable]}}
        - {name: Login, key: registry_login, uses: registry.login}
        - {name: Push, key: image_push, uses: image.push}
    - name: Deploy
      key: deploy
      environment: it-svc
      tasks:
        - {name: Deploy service, key: image_deploy, uses: image.deploy}
"""

APP = """\
import http.server

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"%(version)s"
        self.send_response(200 if %(healthy)s or self.path != "/health" else 500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", %(port)d), Handler).serve_forever()
"""

DOCKERFILE = """\
FROM %(base)s
COPY app.py /app/app.py
USER 1000
HEALTHCHECK --interval=2s --timeout=2s CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:%(port)d/health')"]
CMD ["python3", "/app/app.py"]
"""

# checkov on the Dockerfile: in the first pipeline version only (it takes a while; the seed
# pipeline runs it again in the last test).
CHECKOV = {
    "checkov_task": """\
        - name: Dockerfile scan
          key: dockerfile_scan
          image: influencegen/runner-iac:bookworm
          memory: 1g
          run: mkdir -p reports; checkov -d /src --framework dockerfile --output json --soft-fail > reports/checkov.json
          reports: [{format: checkov-json, path: reports/checkov.json}]
""",
    "checkov_criterion": "            - findings: {from: [dockerfile_scan], severity: high, max: 0}\n",
}
NO_CHECKOV = dict.fromkeys(CHECKOV, "")

# The Trivy stand-in: refuses to run without the saved image, then writes the recorded report.
STANDIN = """\
FROM %s
COPY trivy.json /opt/trivy-report.json
COPY trivy /usr/local/bin/trivy
"""
STANDIN_SCRIPT = """\
#!/bin/sh
set -e
tar -tf /src/image.tar manifest.json >/dev/null
while [ $# -gt 0 ]; do [ "$1" = --output ] && out=$2; shift; done
cp /opt/trivy-report.json "$out"
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def engine():
    client = docker.DockerClient(base_url=os.environ.get("IGR_DOCKER_URL", "unix:///var/run/docker.sock"), version="1.41")
    yield client
    for container in client.containers.list(all=True, filters={"label": f"influencegen.db={DB}"}):
        container.remove(force=True)
    for image in client.images.list(filters={"label": f"influencegen.db={DB}"}):
        client.images.remove(image.id, force=True)
    client.close()


@pytest.fixture(scope="module")
def registry(workdir):
    missing = missing_install_message()
    if missing:
        pytest.fail(missing)
    server = RegistryServer(os.path.join(workdir, "registry"), {USER: PASSWORD})
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def scanner(workdir, engine):
    folder = os.path.join(workdir, "trivy-standin")
    os.makedirs(folder)
    with open(os.path.join(folder, "Dockerfile"), "w", encoding="utf-8") as handle:
        handle.write(STANDIN % BASE)
    with open(os.path.join(folder, "trivy"), "w", encoding="utf-8") as handle:
        handle.write(STANDIN_SCRIPT)
    os.chmod(os.path.join(folder, "trivy"), 0o755)
    with open(os.path.join(DATA, "trivy.json"), "rb") as source, open(os.path.join(folder, "trivy.json"), "wb") as target:
        target.write(source.read())
    engine.images.build(path=folder, tag=SCANNER, network_mode="none", rm=True)
    yield SCANNER
    engine.images.remove(SCANNER, force=True)


@pytest.fixture(scope="module")
def image_repo(server, registry, scanner, workdir):
    origin = init_repository(os.path.join(workdir, "image-origin"))
    pwfile = os.path.join(workdir, "registry.pw")
    settings = {"registry": registry.address, "pwfile": pwfile, "base": BASE, "port": free_port()}
    write(pwfile, "not-the-password\n")
    write(os.path.join(origin.working_tree_dir, ".influencegen", "pipeline.yml"), PIPELINE % dict(settings, scanner=scanner, **CHECKOV))
    commit_app(origin, settings, "v1")
    api = Api()
    repo_id = api("release.repository", "create", {"name": "it-image", "url": origin.working_tree_dir})
    api("release.repository", "action_load_pipeline_file", [repo_id])
    [svc] = api("release.environment", "search", [("code", "=", "it-svc")])
    [registry_env] = api("release.environment", "search", [("code", "=", "it-registry")])
    api("release.environment", "write", [svc, registry_env], {"login": USER})
    api(
        "release.environment",
        "write",
        [svc],
        {"service_network": "host", "health_url": f"http://127.0.0.1:{settings['port']}/health", "health_timeout": 8},
    )
    return origin, settings


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def commit_app(origin, settings, version, healthy=True, tag=None, scanner=None):
    root = origin.working_tree_dir
    write(os.path.join(root, "app.py"), APP % dict(settings, version=version, healthy=healthy))
    write(os.path.join(root, "Dockerfile"), DOCKERFILE % settings)
    if scanner:
        write(os.path.join(root, ".influencegen", "pipeline.yml"), PIPELINE % dict(settings, scanner=scanner, **NO_CHECKOV))
    origin.git.add(A=True)
    origin.index.commit(f"app {version}")
    if tag:
        origin.create_tag(tag)
    return origin.head.commit.hexsha


def push(api, origin):
    """Trigger the pipeline for the head commit, with the pipeline file as that commit has it."""
    api("release.repository", "action_load_pipeline_file", api("release.repository", "search", [("name", "=", "it-image")]))
    payload = {"repository": "it-image", "ref": "refs/heads/main", "after": origin.head.commit.hexsha, "pusher": "dev"}
    [summary] = api("release.run", "api_trigger", payload)["runs"]
    return summary["id"]


def failures(status):
    """The jobs that did not succeed and the gates that did not pass, for assertion messages."""
    jobs = [(j["name"], j["state"], j["reason"]) for s in status["stages"] for j in s["jobs"] if j["state"] != "succeeded"]
    gates = [(g["name"], g["result"]) for s in status["stages"] for g in s["gates"] if g["result"] != "passed"]
    return jobs, gates


def job(status, name):
    return next(j for s in status["stages"] for j in s["jobs"] if j["name"] == name)


def answer(settings):
    """What the service on the health port answers (its version), or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings['port']}/", timeout=3) as response:
            return response.read().decode()
    except (urllib.error.URLError, OSError):
        return None


def services(engine):
    containers = engine.containers.list(all=True, filters={"label": ["influencegen.service=it-svc", f"influencegen.db={DB}"]})
    return [(c.labels["influencegen.digest"], c.status) for c in containers]


def image_artifact(api, run_id):
    [artifact] = api("release.artifact", "search_read", [("run_id", "=", run_id), ("kind", "=", "image")], ["name", "version", "sha256", "manifest_json"])
    return artifact, json.loads(artifact["manifest_json"])


def deployments(api):
    return api(
        "release.deployment", "search_read", [("environment_id.code", "=", "it-svc")], ["version", "outcome", "is_rollback", "error", "artifact_id"], order="id"
    )


def test_images_are_built_scanned_pushed_deployed_kept_on_failure_and_rolled_back(server, engine, registry, image_repo, workdir):
    origin, settings = image_repo
    api = Api()

    # A wrong registry password: the run stops at the login, saying so, without the password.
    refused = api.wait_run(push(api, origin), timeout=300)
    assert refused["state"] == "failed", refused
    login = job(refused, "Login")
    assert login["state"] == "failed"
    assert f"registry {registry.address} refused the credentials of '{USER}'" in login["reason"]
    assert "not-the-password" not in json.dumps(refused)
    write(os.path.join(workdir, "registry.pw"), PASSWORD + "\n")

    # v1.0.0: built, scanned, tagged, pushed, digest read back, deployed and healthy.
    sha1 = commit_app(origin, settings, "v1", tag="v1.0.0")
    first = push(api, origin)
    status = api.wait_run(first, timeout=300)
    assert status["state"] == "succeeded", failures(status)
    artifact, manifest = image_artifact(api, first)
    repository = f"{registry.address}/it/app"
    assert (artifact["name"], artifact["version"]) == ("it/app", "1.0.0")
    assert (manifest["registry"], manifest["repository"], manifest["tags"]) == (registry.address, repository, ["1.0.0", sha1, "stable"])
    digest1 = manifest["digest"]
    assert artifact["sha256"] == digest1.removeprefix("sha256:")
    reader = Registry(registry.address, USER, PASSWORD)
    assert {reader.digest("it/app", tag) for tag in manifest["tags"]} == {digest1}
    assert f"{repository}@{digest1}" in engine.images.get(manifest["image_id"]).attrs["RepoDigests"]
    assert engine.images.get(manifest["image_id"]).labels["org.opencontainers.image.revision"] == sha1
    # The scans: checkov ran on the Dockerfile (clean), the image went to the scanner as a tar.
    scan = api("release.finding", "search_read", [("job_id", "=", job(status, "Image scan")["id"])], ["tool", "rule", "severity"])
    assert ("trivy", "CVE-2023-45853", "critical") in {(f["tool"], f["rule"], f["severity"]) for f in scan}
    assert api("release.finding", "search_count", [("job_id", "=", job(status, "Dockerfile scan")["id"])]) == 0
    assert answer(settings) == "v1"
    assert services(engine) == [(digest1, "running")]

    # v1.1.0: a new digest replaces the service; the scanner image is missing: "not scanned".
    commit_app(origin, settings, "v2", tag="v1.1.0", scanner=ABSENT_SCANNER)
    second = push(api, origin)
    status = api.wait_run(second, timeout=300)
    assert status["state"] == "succeeded", failures(status)
    [unknown] = api("release.job", "read", [job(status, "Image scan")["id"]], ["report_unknown"])
    assert f"scanner image {ABSENT_SCANNER} is not on runner" in unknown["report_unknown"]
    gate = next(g for s in status["stages"] for g in s["gates"] if g["name"] == "Image Scan Pass")
    assert gate["result"] == "passed", gate
    _artifact, manifest = image_artifact(api, second)
    digest2 = manifest["digest"]
    assert digest2 != digest1
    assert answer(settings) == "v2"
    assert services(engine) == [(digest2, "running")]

    # A version whose health check fails: the deploy fails and v1.1.0 runs again.
    commit_app(origin, settings, "v3", healthy=False, tag="v1.2.0", scanner=ABSENT_SCANNER)
    broken = api.wait_run(push(api, origin), timeout=300)
    assert broken["state"] == "failed", broken
    assert "not healthy within 8 s" in job(broken, "Deploy service")["reason"]
    assert answer(settings) == "v2"
    assert services(engine) == [(digest2, "running")]
    history = deployments(api)
    assert [(d["version"], d["outcome"]) for d in history] == [("1.0.0", "deployed"), ("1.1.0", "deployed"), ("1.2.0", "failed")]
    assert "Previous container kept" in history[-1]["error"]

    # One call rolls the service back to the previous digest (v1.0.0), pulled from the registry.
    for tag in engine.images.get(f"{repository}@{digest1}").tags:
        engine.images.remove(tag)
    with pytest.raises(docker.errors.ImageNotFound):
        engine.images.get(f"{repository}@{digest1}")  # gone from the runner host: the rollback pulls it
    summary = api("release.environment", "api_rollback", "it-svc")
    assert (summary["outcome"], summary["rollback"], summary["version"]) == ("deployed", True, "1.0.0"), summary
    assert answer(settings) == "v1"
    assert services(engine) == [(digest1, "running")]
    assert f"{repository}@{digest1}" in engine.images.get(f"{repository}@{digest1}").attrs["RepoDigests"]


def test_registry_refuses_anonymous_and_wrong_credentials(registry):
    assert Registry(registry.address, USER, PASSWORD).login()
    for username, password, expected in ((USER, "wrong", f"refused the credentials of '{USER}'"), ("", "", "refused anonymous access")):
        with pytest.raises(Exception, match=expected):
            Registry(registry.address, username, password).login()
    with open(os.path.join(registry.folder, "registry.log"), encoding="utf-8") as log:
        assert PASSWORD not in log.read()


def test_the_seed_pipeline_builds_scans_and_pushes_as_written(server, engine, registry, image_repo, workdir):
    """PL-CONTAINER-IMG itself (pipelines/pl-container-img.yml) on the same repository: its
    registry environment pointed at the test registry by an administrator, as in production."""
    origin, settings = image_repo
    api = Api()
    [repo_id] = api("release.repository", "search", [("name", "=", "it-image")])
    [seed] = api("release.pipeline", "search", [("code", "=", "PL-CONTAINER-IMG")])
    api("release.repository", "write", [repo_id], {"pipeline_ids": [(4, seed)]})  # the seed runs on this repository too
    [target] = api("release.environment", "search", [("code", "=", "container-registry")])
    api("release.environment", "write", [target], {"url": registry.address, "login": USER, "credentials_ref": f"file:{workdir}/registry.pw"})
    sha = commit_app(origin, settings, "v4", tag="v1.3.0")
    payload = {"repository": "it-image", "ref": "refs/heads/main", "after": sha, "pusher": "dev", "pipeline": "PL-CONTAINER-IMG"}
    [summary] = api("release.run", "api_trigger", payload)["runs"]
    status = api.wait_run(summary["id"], timeout=300)
    assert status["state"] == "succeeded", failures(status)
    assert [s["name"] for s in status["stages"]] == ["Checkout & Setup", "Build Container Image", "Image Security Scan", "Push Container Image"]
    [gate] = status["stages"][2]["gates"]
    assert gate["result"] == "passed", gate
    [trivy] = api("release.job", "read", [job(status, "Container Image Vulnerability Scan")["id"]], ["report_unknown"])
    assert "scanner image aquasec/trivy:0.56.2 is not on runner" in trivy["report_unknown"]
    artifact, manifest = image_artifact(api, summary["id"])
    assert (artifact["name"], artifact["version"], manifest["tags"]) == ("it-image", "1.3.0", ["1.3.0", sha])
    assert Registry(registry.address, USER, PASSWORD).digest("it-image", "1.3.0") == manifest["digest"]
