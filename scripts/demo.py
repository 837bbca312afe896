"""InfluenceGen Release delivers itself, end to end, on this machine (``scripts/demo``).

What it builds, all on 127.0.0.1 and in a fresh work folder:

* a bare Git repository holding this project (HEAD of the checkout), with the product's
  post-receive hook, and a developer's clone that pushes to it;
* the control plane: an Odoo 18 server with the addon, one user per role, the repository and
  its trigger user (with a 90-day key made by the Release Manager's "Generate key");
* three target Odoo 18 databases (Development, Staging, Production), each on its own port and
  each running the addon from its managed folder, first unpacked from the base commit;
* three n8n instances (Development, Staging, Production).

Then the release of a change goes the Git-flow way, through the hook each time: a push to
``develop`` (CI in Docker, packaging, automatic deploy to Development), to ``release/1.1``
(UAT evidence and sign-off by the QA Lead and the Product Owner, deploy to Staging), and to
``main`` (Go/No-Go by two CAB members inside the maintenance window, the pre-cutover
checklist, deploy to Production with a backup, smoke test and post-cutover validation).
PL-ODOO-MOD and PL-N8N-WF both follow each push. Last, a deliberately broken release fails
on Staging (a failing migration; a workflow n8n refuses) and is put back.

Every step is verified where it happened: module versions and code checksums read from each
target database, workflow versions read from each n8n, backups on disk. The timeline is
printed; the exit code is 0 only when every check passed.

``--quick`` (the test suite's variant) narrows PL-ODOO-MOD's two test tasks to a few tests
through the repository's own pipeline file; every boundary is still crossed.

The stack, the story and the timeline live in ``devstack/demo/``.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from devstack.demo.story import Demo  # noqa: E402 - devstack makes the engine importable without Odoo


class Stopped(Exception):
    """SIGTERM (a test's timeout, ``kill``): the demo still stops every server it started."""


def _stop(signum, _frame):
    raise Stopped(f"stopped by signal {signum}; stopping the servers")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="narrow PL-ODOO-MOD's test tasks to a few tests (the test suite's variant)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, repositories, backups) even when the demo passes")
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="igr-demo-")
    demo = Demo(workdir, args.quick)
    ok = False
    signal.signal(signal.SIGTERM, _stop)
    try:
        demo.start()
        good_artifact, good_workflow = demo.release()
        demo.broken_release(good_artifact, good_workflow)
        ok = True
    except Exception as exc:
        demo.say("FAILED", str(exc))
        traceback.print_exc()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the stop short
        demo.timeline.print(ok)
        demo.stop()
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work folder kept: {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
