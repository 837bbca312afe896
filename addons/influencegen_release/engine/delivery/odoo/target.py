"""Deploy an Odoo module package to a target Odoo 18 database over JSON-RPC (no Odoo import).

The target runs this same addon: ``release.target.receipt`` receives the package, plans,
backs up, upgrades only what changed and restarts (see target_agent.py). This side drives
it and judges the result: the deploy counts only when the target's installed versions and
code checksums equal the package's and the smoke checks pass; otherwise the target is
told to restore code and database, and the error says why.
"""

import base64
import http.client
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from .downtime import DowntimeProbe

RECEIPT = "release.target.receipt"
DONE = ("upgraded", "restored", "restore_failed")
RESTORED = ("restored", "restore_failed")  # a restore asked of an upgraded receipt: not "upgraded" any more


class TargetError(Exception):
    """A target that cannot be reached, refuses the deploy, or failed it; says which.
    ``downtime_s``: how long the target was unavailable before it failed (None: not measured)."""

    downtime_s = None


@dataclass
class DeployResult:
    receipt: int
    plan: dict
    backup_path: str
    outcome: str = "deployed"  # deployed | unchanged | restored
    timeline: list = field(default_factory=list)
    modules: dict = field(default_factory=dict)
    downtime_s: float = 0.0

    def plan_text(self):
        return "\n".join(f"{key}: {', '.join(self.plan.get(key) or []) or '-'}" for key in ("install", "upgrade", "unchanged"))


class OdooTarget:
    def __init__(self, url, database, login, api_key, timeout=60):
        self.url = url.rstrip("/")
        self.database = database
        self.login = login
        self._key = api_key
        self.timeout = timeout
        self._uid = None

    # -- transport --------------------------------------------------------------------------
    # Odoo's /jsonrpc endpoint (the external API's JSON flavour): no XML parser sees what a
    # target answers (bandit B411), and errors arrive as structured data.
    def _rpc(self, service, method, *args):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": service, "method": method, "args": list(args)}})
        request = urllib.request.Request(f"{self.url}/jsonrpc", body.encode(), {"Content-Type": "application/json"})
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                answer = json.load(response)
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as exc:
            raise TargetError(f"Odoo at {self.url} does not answer: {exc}") from exc
        error = answer.get("error") if isinstance(answer, dict) else {"message": "not a JSON-RPC answer"}
        if error:
            # Odoo puts the exception's message in error.data.message.
            raise TargetError(f"Odoo at {self.url}: {(error.get('data') or {}).get('message') or error.get('message')}")
        return answer.get("result")

    def uid(self):
        if self._uid is None:
            uid = self._rpc("common", "authenticate", self.database, self.login, self._key, {})
            if not uid:
                raise TargetError(f"Odoo at {self.url} refused the API key of '{self.login}' on database '{self.database}'")
            self._uid = uid
        return self._uid

    def call(self, method, *args):
        return self._rpc("object", "execute_kw", self.database, self.uid(), self._key, RECEIPT, method, list(args), {})

    def healthy(self):
        try:
            with _OPENER.open(f"{self.url}/web/health", timeout=5) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError, http.client.HTTPException):
            return False

    # -- steps ------------------------------------------------------------------------------
    def state(self, modules=None):
        return self.call("api_state", list(modules or []))

    def plan(self, package_path, sha256, version="", commit=""):
        with open(package_path, "rb") as handle:
            data = base64.b64encode(handle.read()).decode()
        return self.call("api_plan", data, sha256, version, commit)

    def wait(self, receipt, timeout=900, poll=0.25, done=DONE):
        """Poll the receipt until the agent is done (a state in ``done``); the server restarts
        meanwhile, so a target that does not answer for a while is expected."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            try:
                summary = self.call("api_result", [receipt])
            except TargetError as exc:
                last_error = exc
                time.sleep(poll)
                continue
            if summary["state"] in done:
                return summary
            time.sleep(poll)
        raise TargetError(f"the deploy on {self.url} did not finish within {timeout} s (last: {last_error})")

    def wait_healthy(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            time.sleep(0.1)
        raise TargetError(f"{self.url}/web/health did not answer 200 within {timeout} s")


def deploy_package(target, package_path, sha256, manifest, approved_digest=None, smoke=None, timeout=900):
    """Deploy a package built by engine/delivery/odoo/packaging.py; return a DeployResult or raise TargetError."""
    started = time.monotonic()
    timeline = []

    def mark(step):
        timeline.append((round(time.monotonic() - started, 2), step))

    planned = target.plan(package_path, sha256, manifest.get("version", ""), manifest.get("commit", ""))
    mark(f"planned: {planned['plan']}")
    if approved_digest and planned["plan_digest"] != approved_digest:
        raise TargetError(f"the plan changed since it was approved: now {planned['plan']}")
    result = DeployResult(receipt=planned["receipt"], plan=planned["plan"], backup_path="", timeline=timeline)
    with DowntimeProbe(target.url) as probe:  # from the agent's start until the deploy is judged
        try:
            _run_deploy(target, planned, manifest, smoke, timeout, result, mark)
        except TargetError as exc:
            probe.stop()
            exc.downtime_s = probe.downtime_s()
            raise
    result.downtime_s = probe.downtime_s()
    mark(f"target unavailable {result.downtime_s:.2f} s in all")
    return result


def _run_deploy(target, planned, manifest, smoke, timeout, result, mark):
    target.call("api_deploy", [planned["receipt"]], planned["plan_digest"])
    mark("agent started")
    summary = target.wait(planned["receipt"], timeout=timeout)
    result.backup_path = summary.get("backup_path") or ""
    mark(f"agent {summary['state']}")
    target.wait_healthy()
    mark("healthy")
    if summary["state"] != "upgraded":
        kept = f"; the failed database is kept as {summary['failed_database']}" if summary.get("failed_database") else ""
        raise TargetError(f"the upgrade failed and code and database were restored: {summary.get('error')}{kept}")
    # What the restarted server runs, as it reported the upgrade (an older target: asked now).
    installed = summary.get("modules") or target.state(list(manifest["modules"]))["modules"]
    problems = check_modules(installed, manifest) + run_smoke(target, smoke or [])
    if problems:
        restored = restore(target, planned["receipt"], "; ".join(problems), timeout=timeout)
        mark(f"restore {restored['state']}")
        raise TargetError(f"smoke checks failed ({'; '.join(problems)}); code and database {restored['state']}")
    result.modules = installed
    if not planned["plan"].get("install") and not planned["plan"].get("upgrade"):
        result.outcome = "unchanged"
    mark("verified")


def restore(target, receipt, reason, timeout=900):
    """Have the target put back the code and the database (its pre-deploy backup) that the
    deploy of ``receipt`` replaced; wait until it serves again. Returns the receipt's summary,
    with ``downtime_s``."""
    with DowntimeProbe(target.url) as probe:
        target.call("api_restore", [receipt], reason)
        summary = target.wait(receipt, timeout=timeout, done=RESTORED)
        target.wait_healthy()
    return dict(summary, downtime_s=probe.downtime_s())


def verify(target, manifest):
    """Installed versions and code checksums on the target equal the package's."""
    return check_modules(target.state(list(manifest["modules"]))["modules"], manifest)


def check_modules(installed, manifest):
    """What differs between ``installed`` (the target's api_state modules) and the package."""
    problems = []
    for name, expected in sorted(manifest["modules"].items()):
        actual = installed.get(name) or {}
        if actual.get("state") != "installed":
            problems.append(f"{name} is {actual.get('state') or 'missing'} on the target")
        elif actual.get("version") != expected["version"]:
            problems.append(f"{name} runs version {actual.get('version')}, the package has {expected['version']}")
        elif actual.get("checksum") != expected["checksum"]:
            problems.append(f"{name}'s code on the target differs from the package (checksum)")
    return problems


def run_smoke(target, checks):
    """Custom checks from the pipeline: ``{"path": "/web/login"}`` must answer 200."""
    problems = []
    for check in checks:
        path = check.get("path")
        if not path:
            continue
        try:
            with _OPENER.open(f"{target.url}{path}", timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, urllib.error.URLError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        if status != check.get("status", 200):
            problems.append(f"{path} answered {status}")
    return problems


# Targets are reached directly: a proxy from the environment must not see deploy traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

