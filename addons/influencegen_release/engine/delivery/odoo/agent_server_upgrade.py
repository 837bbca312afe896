"""The upgrade run by the serving server itself (agent.py's ``Agent`` mixes this in), when the
receiver armed it (``job["reexec"]``, models/delivery/odoo/server_reexec.py): after the backup
and the code switch, the agent writes the ``go`` file and sends SIGHUP; the server re-executes
with the new code and runs the planned ``-u``/``-i`` while loading its registry
(upgrade_process.py ``--serve``), then waits for the agent's verdict before it serves.

The agent judges the upgrade by what it can check, not by luck: Odoo's preload return code
(``result`` file), no ERROR or CRITICAL record logged by the upgrade (the server writes the
records of the thread that loads the registry into agent.log, after the agent's command line:
``check_log`` as for a separate process), and the module table: every planned module
``installed`` with its row written since (its write date changed), none left ``to upgrade`` or
``to install``. Accepted: the verdict file, and the server serves. Else AgentError: the agent
restores code and database and sends SIGHUP again (the waiting server re-executes on the old
code at once).
"""

import json
import os
import time

try:  # run as a script on the target, or imported as part of the engine
    from .agent_backup import literal
except ImportError:  # pragma: no cover - script mode
    from agent_backup import literal  # pylint: disable=import-error

RESULT_POLL_S = 0.05
GO_TIMEOUT_S = 120  # the stopping server takes the go file at its re-execution: else it never will


class AgentError(Exception):
    """A deploy step failed (agent.py restores code and database)."""


class ServerUpgradeMixin:
    def upgrade_in_server(self, timeout):
        """SIGHUP, then the backup while the server stops and imports Odoo's code (its
        connections closed), then the upgrade in the server. ``self.held``: the re-executed
        server waits for the ``start`` file (before Odoo's signal handlers exist: no SIGHUP then)."""
        spec, planned = self.job["reexec"], self.job.get("upgrade", []) + self.job.get("install", [])
        for name in ("start", "result", "verdict"):
            if os.path.exists(spec[name]):
                os.remove(spec[name])
        before = self.module_rows(planned)
        with open(spec["go"], "w", encoding="utf-8"):
            pass
        self.restarted_at = time.time()
        self._set(step="restart", restart_requested_at=self.restarted_at)
        self.held = self.restart_server()
        if not self.held:
            raise AgentError("module upgrade failed: the server could not be restarted (see agent.log)")
        self._set(step="backup")
        self.backup(wait_idle=False)
        self.log(f"$ {spec['command']}")  # the marker check_log reads the upgrade's records after
        self._set(step="upgrade")
        self.release_start("go")
        result = self.wait_result(spec["result"], timeout)
        if result.get("rc"):
            raise AgentError(f"module upgrade failed (Odoo's preload returned {result['rc']}): {self.last_error(since_marker=True)}")
        self.check_result("module upgrade", 0, check_log=True)
        problems = self.module_problems(before, planned)
        if problems:
            raise AgentError(f"module upgrade failed: {'; '.join(problems)}")

    def release_start(self, word):
        """The held server starts: ``go`` (upgrade) or ``abort`` (serve the code in place)."""
        self.held = False
        path = self.job["reexec"]["start"]
        with open(f"{path}.tmp", "w", encoding="utf-8") as handle:
            handle.write(f"{word}\n")
        os.replace(f"{path}.tmp", path)

    def accept_upgrade(self):
        """The verdict: the restarted server may serve (written after the state says upgraded)."""
        with open(self.job["reexec"]["verdict"], "w", encoding="utf-8") as handle:
            handle.write("serve\n")

    def wait_result(self, path, timeout):
        deadline, pid = time.monotonic() + timeout, int(self.job["server_pid"])
        checked = time.monotonic()
        while time.monotonic() < deadline:
            if os.path.exists(path):  # written whole (renamed into place)
                with open(path, encoding="utf-8") as handle:
                    return json.load(handle)
            if time.monotonic() - checked > 1:
                checked = time.monotonic()
                if os.path.exists(self.job["reexec"]["go"]) and checked > deadline - timeout + GO_TIMEOUT_S:
                    raise AgentError("module upgrade failed: the server restarted without running the upgrade")
                try:
                    os.kill(pid, 0)
                except OSError as exc:
                    raise AgentError(f"module upgrade failed: the server (pid {pid}) ended during the upgrade") from exc
            time.sleep(RESULT_POLL_S)
        raise AgentError(f"module upgrade failed: no result from the server within {timeout} s")

    def module_rows(self, names):
        """``{name: (state, write date)}`` of ``names``, and ``"*pending"``: how many modules are
        left to upgrade or to install."""
        listed = ",".join(literal(name) for name in names) or "''"
        result = self.psql(
            "SELECT coalesce(json_object_agg(name, json_build_array(state, write_date::text)), '{}') "
            f"FROM ir_module_module WHERE name IN ({listed})",
            "SELECT count(*) FROM ir_module_module WHERE state IN ('to upgrade', 'to install')",
            tuples=True,
            database=self.job["db"],
        )
        lines = result.stdout.split("\n")
        if result.returncode or len(lines) < 2:
            raise AgentError(f"the module table of {self.job['db']} cannot be read: {result.stderr.strip()}")
        rows = {name: tuple(row) for name, row in json.loads(lines[0]).items()}
        rows["*pending"] = int(lines[1])
        return rows

    def module_problems(self, before, planned):
        after = self.module_rows(planned)
        problems = [f"{after['*pending']} modules left to upgrade or to install"] if after["*pending"] else []
        for name in planned:
            state, written = after.get(name, ("missing", None))
            if state != "installed":
                problems.append(f"{name} is {state}")
            elif name in before and before[name][1] == written:
                problems.append(f"{name} was not written by the upgrade")
        return problems
