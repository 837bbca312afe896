"""A deploy target that accepts connections and never answers (a hung server), and a
repository whose pipeline packages one module and deploys it there; for the scheduler's
integration test and the benchmark (``hang_other_job_start_s``)."""

import os
import socket
import threading

from .odoo_target import write_modules
from .repository import IMAGE, init_repository

PIPELINE = """\
version: 1
environments:
  - {code: hang-dev, name: Hanging target, tier: development, kind: odoo, url: "http://127.0.0.1:%(port)s", database: hang, credentials: "param:igr_it.hang_key"}
pipeline:
  code: PL-HANG
  name: Deploy to a hung target
  kind: odoo
  triggers:
    - {event: push, branches: ['main']}
  defaults: {image: %(image)s, timeout: 60}
  stages:
    - name: Package
      tasks:
        - {name: Package, key: package, uses: artifact.package, with: {source: addons, modules: [igr_demo_a]}}
    - name: Deploy
      environment: hang-dev
      tasks:
        - {name: Deploy, key: deploy, uses: odoo.deploy, timeout: %(timeout)s}
"""


class HangingServer:
    """Listens on a loopback port; every connection is accepted, read from and never answered."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed.is_set():
            try:
                connection, _address = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self):
        self._closed.set()
        self.socket.close()
        for connection in self.connections:
            connection.close()


def hanging_repository(path, port, timeout):
    """A repository whose pipeline (PL-HANG) deploys to the hung target within ``timeout`` s."""
    origin = init_repository(path)
    with open(os.path.join(origin.working_tree_dir, ".influencegen", "pipeline.yml"), "w", encoding="utf-8") as handle:
        handle.write(PIPELINE % {"port": port, "image": IMAGE, "timeout": timeout})
    write_modules(os.path.join(origin.working_tree_dir, "addons"), {}, modules=["igr_demo_a"])
    origin.git.add(A=True)
    origin.index.commit("one module, deployed to a hung target")
    origin.create_tag("v1.0.0")
    return origin


def register(api, origin, name="hang-repo"):
    """The repository and its pipeline in the control plane; the target's key is a dummy."""
    api("ir.config_parameter", "set_param", "igr_it.hang_key", "not-a-real-key")
    repo_id = api("release.repository", "create", {"name": name, "url": origin.working_tree_dir})
    api("release.repository", "action_load_pipeline_file", [repo_id])
    return repo_id


def push(api, origin, name="hang-repo"):
    payload = {"repository": name, "ref": "refs/heads/main", "after": origin.head.commit.hexsha, "pusher": "dev"}
    [summary] = api("release.run", "api_trigger", payload)["runs"]
    return summary["id"]
