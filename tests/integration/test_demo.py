"""The self-delivery demo, in its reduced variant (``scripts/demo --quick``), as a user runs it.

It crosses every boundary of the full demo: the Git hook over XML-RPC, the scheduler and
Docker (lint, SAST, dependency scan, unit and Odoo tests of this repository), packaging,
three target Odoo databases and three n8n instances, UAT, CAB, window, checklists, backups
and the broken release put back. Only PL-ODOO-MOD's two test tasks run fewer tests.
"""

import os
import subprocess

from devstack import ROOT, processes
from devstack.odoo_server import PORT, databases, drop_database

TIMEOUT_S = 2400  # about 1250 s in CI on 2 cores; 1650 s by hand beside other work


def test_the_addon_delivers_itself_through_three_targets_and_puts_a_broken_release_back():
    # Its own ports, above the ones the other integration tests use (PORT .. PORT + 60).
    mark = processes.new_mark()
    env = dict(os.environ, IGR_DEMO_PORT=str(PORT + 100), **{processes.MARK: mark})
    demo = subprocess.Popen(
        [os.path.join(ROOT, "scripts", "demo"), "--quick"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    try:
        output, errors = demo.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        demo.terminate()  # on SIGTERM the demo stops its servers, prints its timeline and exits
        try:
            output, errors = demo.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            demo.kill()
            output, errors = demo.communicate()
        output = f"the demo took over {TIMEOUT_S} s:\n{output}"
    finally:
        # Whatever happened, no server of the demo outlives it (it stops them itself when it can).
        processes.reap(mark)
        for name in databases(f"igr_demo_{demo.pid}"):  # scripts/demo names them after its pid
            drop_database(name)
    assert demo.returncode == 0, output[-6000:] + errors[-3000:]
    assert "DEMO PASSED" in output
    for expected in (
        "Odoo dev runs influencegen_release 18.0.1.0.1",
        "the release branch rebuilt the same package, byte for byte",
        "Odoo staging runs influencegen_release 18.0.1.0.1",
        "cab2             approves 'Deploy to Production'",
        "checklist prod_precutover",
        "Odoo prod runs influencegen_release 18.0.1.0.1",
        "Production was backed up before the upgrade",
        "n8n prod holds 'InfluenceGen lead sync'",
        "failed as intended",
        "1.1.0 again, code and database restored from the backup",
        "Odoo prod runs influencegen_release 18.0.1.0.1, checksum",
    ):
        assert expected in output, f"{expected!r} is not in the demo's timeline:\n{output[-6000:]}"
