"""The self-delivery demo, in its reduced variant (``scripts/demo --quick``), as a user runs it.

It crosses every boundary of the full demo: the Git hook over XML-RPC, the scheduler and
Docker (lint, SAST, dependency scan, unit and Odoo tests of this repository), packaging,
three target Odoo databases and three n8n instances, UAT, CAB, window, checklists, backups
and the broken release put back. Only PL-ODOO-MOD's two test tasks run fewer tests.
"""

import os
import subprocess

from devstack import ROOT
from devstack.odoo_server import PORT


def test_the_addon_delivers_itself_through_three_targets_and_puts_a_broken_release_back():
    # Its own ports, above the ones the other integration tests use (PORT .. PORT + 60).
    env = dict(os.environ, IGR_DEMO_PORT=str(PORT + 100))
    result = subprocess.run(
        [os.path.join(ROOT, "scripts", "demo"), "--quick"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=2400,
        check=False,
    )
    output = result.stdout
    assert result.returncode == 0, output[-6000:] + result.stderr[-3000:]
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
