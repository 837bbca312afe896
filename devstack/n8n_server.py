"""A throwaway real n8n for the deploy tests and the demo.

Each instance gets its own data folder (SQLite), two free ports on 127.0.0.1 (HTTP and the
task-runner broker), an owner and a public-API key made through n8n's own REST API, the way a
person would in the browser. n8n comes from ``scripts/setup`` (``IGR_N8N_HOME``, default
/opt/n8n). NODE_ENV must not be ``test``: n8n then silently switches its public API off.
"""

import http.cookiejar
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

N8N_HOME = pathlib.Path(os.environ.get("IGR_N8N_HOME", "/opt/n8n"))
N8N_BIN = N8N_HOME / "node_modules" / ".bin" / "n8n"
# ~7 s on an idle machine. In CI the demo starts three n8n beside four Odoo servers while pytest
# and the Odoo suite run on the same 2 cores: one start took over 90 s there (its migrations and
# a starved event loop), so the wait is long; a process that exits is still reported at once.
READY_TIMEOUT = 300
OWNER = {"email": "owner@example.com", "firstName": "Release", "lastName": "Tests", "password": "Owner-Pass-2024"}

# Everything that would phone home, show UI extras or listen beyond loopback is switched off.
QUIET_SETTINGS = {
    "N8N_LISTEN_ADDRESS": "127.0.0.1",
    "N8N_HOST": "127.0.0.1",
    "N8N_PROTOCOL": "http",
    "N8N_RUNNERS_BROKER_LISTEN_ADDRESS": "127.0.0.1",
    "DB_TYPE": "sqlite",
    "N8N_DIAGNOSTICS_ENABLED": "false",
    "N8N_DIAGNOSTICS_CONFIG_FRONTEND": "",
    "N8N_DIAGNOSTICS_CONFIG_BACKEND": "",
    "EXTERNAL_FRONTEND_HOOKS_URLS": "",
    "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
    "N8N_PERSONALIZATION_ENABLED": "false",
    "N8N_TEMPLATES_ENABLED": "false",
    "N8N_COMMUNITY_PACKAGES_ENABLED": "false",
    "N8N_AI_ENABLED": "false",
    "N8N_PUBLIC_API_SWAGGERUI_DISABLED": "true",
    "N8N_SECURE_COOKIE": "false",
    # n8n answers 503 "Database is not ready" until its next ping once a SELECT 1 on SQLite takes
    # over 5 s; on a loaded machine that is the event loop waiting, not the database.
    "N8N_DB_PING_TIMEOUT": "60000",
}


class N8nServerError(Exception):
    """The throwaway n8n could not be started or set up."""


def missing_install_message():
    """Why the tests cannot run, or None when n8n is installed."""
    if N8N_BIN.exists():
        return None
    return f"n8n is not installed ({N8N_BIN} is missing): run scripts/setup (or set IGR_N8N_HOME)"


def free_port_pair():
    """A port p with p+1 also free: n8n's HTTP port and its task-runner broker port."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise N8nServerError("no two consecutive free ports on 127.0.0.1")


class N8nServer:
    def __init__(self, data_dir):
        self.data_dir = pathlib.Path(data_dir)
        self.port = free_port_pair()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.data_dir / "n8n.log"
        self.startup_seconds = None
        self._process = None
        # The REST API authenticates with the n8n-auth cookie; loopback is never proxied.
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def _environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("N8N_", "DB_"))}
        env.pop("NODE_ENV", None)  # NODE_ENV=test silently switches the public API off
        env.update(QUIET_SETTINGS)
        env["N8N_USER_FOLDER"] = str(self.data_dir)
        env["N8N_PORT"] = str(self.port)
        env["N8N_RUNNERS_BROKER_PORT"] = str(self.port + 1)
        return env

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [str(N8N_BIN), "start"],
                cwd=self.data_dir,
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its task runner is stopped with it
            )
        self._wait_ready(started)
        self.startup_seconds = time.monotonic() - started

    def _wait_ready(self, started):
        # /healthz answers long before the API exists; /rest/login answering 401 means ready.
        while time.monotonic() - started < READY_TIMEOUT:
            if self._process.poll() is not None:
                raise N8nServerError(f"n8n exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                self._opener.open(f"{self.url}/rest/login", timeout=2)
            except urllib.error.HTTPError as error:
                if error.code == 401:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise N8nServerError(f"n8n did not answer on {self.url} within {READY_TIMEOUT} s:\n{self.log_tail()}")

    def rest(self, method, path, body=None):
        """A call to n8n's internal REST API with the owner's cookie; returns ``data``."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/rest{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with self._opener.open(request, timeout=30) as response:
                return json.loads(response.read() or b"null").get("data")
        except urllib.error.HTTPError as error:
            raise N8nServerError(f"{method} /rest{path}: HTTP {error.code}: {error.read()[:500]!r}") from None

    def create_api_key(self):
        """Create the owner, then a public-API key with every scope n8n offers; returns the key."""
        self.rest("POST", "/owner/setup", OWNER)
        scopes = self.rest("GET", "/api-keys/scopes")
        created = self.rest("POST", "/api-keys", {"label": "release-tests", "scopes": scopes, "expiresAt": None})
        return created["rawApiKey"]

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self):
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)


def manual_workflow(name, id_prefix, node, field, value):
    """A small inactive workflow: a manual trigger, then a Set node ``node`` that writes
    ``value`` into ``field``. Its ids start with ``id_prefix`` (8 hex digits)."""
    return {
        "name": name,
        "nodes": [
            {"id": f"{id_prefix}-0000-4000-8000-000000000001", "name": "Start", "type": "n8n-nodes-base.manualTrigger",
             "typeVersion": 1, "position": [0, 0], "parameters": {}},
            {"id": f"{id_prefix}-0000-4000-8000-000000000002", "name": node, "type": "n8n-nodes-base.set",
             "typeVersion": 3.4, "position": [220, 0],
             "parameters": {"assignments": {"assignments": [
                 {"id": f"{id_prefix}-0000-4000-8000-000000000003", "name": field, "value": value, "type": "string"}]},
                 "options": {}}},
        ],
        "connections": {"Start": {"main": [[{"node": node, "type": "main", "index": 0}]]}},
        "settings": {"executionOrder": "v1"},
        "active": False,
    }  # fmt: skip
