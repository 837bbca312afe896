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

Usage: ``python3 upgrade_process.py ODOO_BIN --refresh=a,b [--wait] -- ODOO_ARGS...``.
"""

import functools
import logging
import os
import sys


def main(argv):
    odoo_bin, refresh, args = argv[1], argv[2].removeprefix("--refresh="), argv[argv.index("--") + 1 :]
    os.environ["TZ"] = "UTC"  # as odoo-bin sets it before anything reads the time
    sys.path.insert(0, os.path.dirname(os.path.abspath(odoo_bin)))
    import odoo
    import odoo.cli
    from odoo.addons.base.models import ir_module
    from odoo.service import server

    if "--wait" in argv[: argv.index("--")] and sys.stdin.readline().strip() != "go":
        return 3
    limit_refresh(ir_module.Module, odoo.modules, set(filter(None, refresh.split(","))))
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
