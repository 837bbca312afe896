"""The upgrade process the deploy agent starts on the target (a script, never imported by the
registry): ``odoo-bin -u/-i ... --stop-after-init --no-http`` with three fixed costs removed.

1. Started ahead (``--wait``): the agent starts it before the backup; it imports Odoo's code (a
   second or more of CPU) while the database is copied, then waits for a line ``go`` on its
   standard input (the code switch is done by then; end of input without ``go``: it exits 3
   untouched). The rehearsal runs it without ``--wait``.
   Odoo's options are read only after ``go``: Odoo resolves the managed folder's ``current``
   link when it reads them, and it must see the new release.
2. Module list refreshed for what the deploy changes only: ``-u`` refreshes every manifest of
   the addons path (hundreds of Odoo modules, seconds of queries); a package deploy changes the
   manifests of the modules it installs or upgrades (``--refresh=a,b``), and modules unknown to
   the database are still added. Odoo's own modules are refreshed by Odoo's own upgrade.
3. Exit at once when the upgrade is committed (``os._exit`` with Odoo's exit code, logs flushed):
   tearing down a loaded registry costs seconds, and the old server, seeing the registry
   changed, would reload its own registry for nothing until the agent restarts it.

``--serve=DB`` (server_reexec.py): the serving server itself, re-executed after the deploy's
code switch, runs the upgrade as it loads its registry, once: the registry is loaded once and
Odoo's code imported once per deploy. Odoo's code is imported while the agent copies the
database (the old server closed its connections when it stopped); the server starts once the
file ``--start`` says ``go`` (the backup is done; ``abort``: it failed, the agent put the old
code back: the server starts on it without upgrading). ``--upgrade``/``--install`` are applied to
``DB`` only, loaded first (the server's arguments are its own, without ``-u``/``-i``: a later
restart is a plain one). The main thread's log records of the upgrade go to the agent's log
(``--log``: the agent fails an upgrade that logged an ERROR or CRITICAL, as for a separate
process), the outcome to ``--result`` (JSON: ``rc``, Odoo's preload return code). The server
then waits, serving nothing (requests wait for the registry lock), for the agent's verdict: the
file ``--verdict`` (the agent checked the module table: serve), or SIGHUP (the agent restored
code and database: restart at once on the old code).

Usage: ``python3 upgrade_process.py ODOO_BIN --refresh=a,b [--wait] -- ODOO_ARGS...``, or
``python3 upgrade_process.py ODOO_BIN --refresh=a,b --serve=DB --upgrade=a --install=b
--start=PATH --result=PATH --verdict=PATH --log=PATH -- SERVER_ARGS...``.
"""

import functools
import json
import logging
import os
import sys
import threading
import time

VERDICT_TIMEOUT_S = 300  # the agent died: serve what the upgrade left rather than nothing
START_TIMEOUT_S = 1800  # the backup's longest (a pg_dump when the server refuses a copy)


def main(argv):
    odoo_bin, args = argv[1], argv[argv.index("--") + 1 :]
    options = dict(arg.removeprefix("--").partition("=")[::2] for arg in argv[2 : argv.index("--")])
    os.environ["TZ"] = "UTC"  # as odoo-bin sets it before anything reads the time
    sys.path.insert(0, os.path.dirname(os.path.abspath(odoo_bin)))
    import odoo
    import odoo.cli
    from odoo.addons.base.models import ir_module
    from odoo.service import server

    if "wait" in options and sys.stdin.readline().strip() != "go":
        return 3
    limit_refresh(ir_module.Module, odoo.modules, set(filter(None, options.get("refresh", "").split(","))))
    if options.get("serve"):
        sys.argv = [odoo_bin, *args]
        if wait_file(options["start"]) == "go":  # "abort": the backup failed, the old code is back
            server.preload_registries = upgrade_then_serve(server, odoo.tools.config, options)
        odoo.cli.main()
        return 0
    start = server.start

    def start_and_exit(*a, **kw):
        rc = start(*a, **kw)  # the upgrade is committed and the connections closed when it returns
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)

    server.start = start_and_exit
    sys.argv = [odoo_bin, *args]
    odoo.cli.main()
    return 0


def upgrade_then_serve(server, config, options):
    """``preload_registries`` that upgrades ``options["serve"]`` first, reports and waits for
    the agent's verdict; then the server's other databases, untouched."""
    preload, db = server.preload_registries, options["serve"]

    def preload_registries(dbnames):
        config["update"] = dict.fromkeys(filter(None, options.get("upgrade", "").split(",")), 1)
        config["init"] = dict.fromkeys(filter(None, options.get("install", "").split(",")), 1)
        config["demo"] = {} if config["without_demo"] else dict(config["init"])  # as -i does
        handler = MainThreadLog(options["log"], db)
        logging.getLogger().addHandler(handler)
        try:
            rc = preload([db])
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
            for key in ("update", "init", "demo"):  # never for the other databases
                config[key] = {}
        report(options["result"], {"rc": rc, "pid": os.getpid(), "finished_at": time.time()})
        if not wait_verdict(options["verdict"]):
            logging.shutdown()  # restored: the old code runs again (Odoo's own restart, plain)
            server._reexec()
        return rc or preload([name for name in dbnames or [] if name != db])

    return preload_registries


class MainThreadLog(logging.FileHandler):
    """The upgrade's records (the thread loading the registry, not the requests waiting)."""

    def __init__(self, path, db):
        super().__init__(path, encoding="utf-8")
        self.setFormatter(logging.Formatter(f"%(asctime)s %(process)d %(levelname)s {db} %(name)s: %(message)s"))
        self.addFilter(lambda record: record.thread == threading.main_thread().ident)


def report(path, values):
    with open(f"{path}.tmp", "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    os.replace(f"{path}.tmp", path)


def wait_file(path):
    """The first line of ``path`` once it exists ("abort" when it never came)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.readline().strip()
        except OSError:
            time.sleep(0.02)
    return "abort"


def wait_verdict(path):
    """True when the agent accepted the upgrade (or never answered), False on its SIGHUP."""
    deadline = time.monotonic() + VERDICT_TIMEOUT_S
    try:
        while time.monotonic() < deadline and not os.path.exists(path):
            time.sleep(0.02)
    except KeyboardInterrupt:  # Odoo's SIGHUP handler: the agent restores and restarts
        return False
    return True


def limit_refresh(module_model, modules, refresh):
    """``update_list`` over ``refresh`` and the modules the database does not know yet."""
    update_list = module_model.update_list

    @functools.wraps(update_list)  # keeps Odoo's api decoration
    def limited(self):
        every = modules.get_modules
        known = set(self.with_context(lang=None).search([]).mapped("name"))
        modules.get_modules = lambda: [name for name in every() if name in refresh or name not in known]
        try:
            return update_list(self)
        finally:
            modules.get_modules = every

    module_model.update_list = limited


if __name__ == "__main__":
    sys.exit(main(sys.argv))
