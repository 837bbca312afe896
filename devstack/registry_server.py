"""A throwaway real container registry (Debian's ``docker-registry``, Docker Distribution 2.8)
for the image tests: 127.0.0.1 on a free port, storage in its own folder, htpasswd (bcrypt)
authentication. Docker pushes to it over plain HTTP because 127.0.0.0/8 is an insecure
registry by default.
"""

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
HTPASSWD_BIN = shutil.which("htpasswd") or "/usr/bin/htpasswd"
# The range the tests may take ports from (first free one wins): "low-high".
PORT_RANGE = os.environ.get("IGR_REGISTRY_PORTS", "5000-5009")


class RegistryServerError(Exception):
    """The throwaway registry could not be started."""


def missing_install_message():
    """Why the tests cannot run, or None when the registry and htpasswd are installed."""
    missing = [path for path in (REGISTRY_BIN, HTPASSWD_BIN) if not os.path.exists(path)]
    if not missing:
        return None
    return f"{', '.join(missing)} missing: run scripts/setup (Debian packages docker-registry and apache2-utils)"


def free_port():
    low, high = (int(part) for part in PORT_RANGE.split("-"))
    for port in range(low, high + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RegistryServerError(f"no free port on 127.0.0.1 in {PORT_RANGE} (IGR_REGISTRY_PORTS)")


class RegistryServer:
    def __init__(self, folder, users):
        """``users``: ``{name: password}`` written, bcrypt-hashed, to the htpasswd file."""
        self.folder = folder
        self.users = dict(users)
        self.port = None
        self.process = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        os.makedirs(os.path.join(self.folder, "storage"), exist_ok=True)
        htpasswd = os.path.join(self.folder, "htpasswd")
        with open(htpasswd, "w", encoding="utf-8") as out:
            for user, password in self.users.items():
                # -i: the password comes on stdin, never on a command line
                line = subprocess.run([HTPASSWD_BIN, "-B", "-i", "-n", user], input=password, capture_output=True, text=True, check=True)
                out.write(line.stdout.strip() + "\n")
        self.port = free_port()
        config = os.path.join(self.folder, "config.yml")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(
                "version: 0.1\n"
                "log: {level: warn, accesslog: {disabled: true}}\n"
                f"storage: {{filesystem: {{rootdirectory: {self.folder}/storage}}, delete: {{enabled: true}}}}\n"
                f"http: {{addr: '127.0.0.1:{self.port}', secret: {secrets.token_hex(16)}}}\n"
                f"auth: {{htpasswd: {{realm: igr-test-registry, path: {htpasswd}}}}}\n"
            )
        log = open(os.path.join(self.folder, "registry.log"), "w")  # noqa: SIM115 - kept by the process
        self.process = subprocess.Popen([REGISTRY_BIN, "serve", config], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RegistryServerError(f"docker-registry exited with {self.process.returncode}; see {log.name}")
            try:
                urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2)
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # up, and asking for credentials
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RegistryServerError(f"docker-registry did not answer on {self.address}; see {log.name}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
