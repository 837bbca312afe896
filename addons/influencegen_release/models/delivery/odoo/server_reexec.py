"""The serving server's own restart, made the deploy's upgrade (imported by the receiver).

A deploy that upgrades modules loads the registry once: the server re-executes itself with the
new code and runs the planned ``-u``/``-i`` as it loads its registry (upgrade_process.py
``--serve``), instead of a separate ``odoo-bin -u --stop-after-init`` followed by a restart that
imports Odoo and loads the registry a second time.

Odoo restarts itself on SIGHUP through ``odoo.service.server._reexec`` (the server's arguments,
``-u``/``-i`` stripped). That function is wrapped here, once per process: when the receiver
armed a deploy (``arm``) and the deploy agent, its backup and code switch done, wrote the
deploy's ``go`` file, the server re-executes through upgrade_process.py with the command the
receiver prepared in this process's memory (never read from a file: the file only says "now").
Without the file, Odoo's own restart runs unchanged (the agent's restore, any other SIGHUP).
Only a threaded server re-executes in the process that received the deploy (with workers, the
request runs in a worker and the master restarts): the receiver arms only then.
"""

import os
import sys

from odoo.service import server
from odoo.tools.misc import stripped_sys_argv

_ARMED = {}  # go file -> the command's head (interpreter, upgrade_process.py, its options, "--")


def arm(go, head):
    """Re-execute through ``head`` (then the server's own arguments) once ``go`` exists."""
    _ARMED[go] = list(head)


def _reexec(updated_modules=None):
    for go, head in list(_ARMED.items()):
        if not updated_modules and os.path.exists(go):
            os.remove(go)
            _ARMED.clear()
            os.execve(sys.executable, [*head, *stripped_sys_argv()[1:]], os.environ)
    return _odoo_reexec(updated_modules)


if getattr(server._reexec, "__module__", None) != __name__:  # the addon's module imported again: wrap once
    _odoo_reexec = server._reexec
    server._reexec = _reexec
else:  # imported again: the wrapper installed first keeps its state
    _odoo_reexec = server._reexec.__globals__["_odoo_reexec"]
    _ARMED = server._reexec.__globals__["_ARMED"]
