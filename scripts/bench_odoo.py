"""Part ``odoo_realistic`` of scripts/bench: deploys to a target with real Odoo apps.

The target database has Odoo's sale_management, purchase, stock, account, crm, project and hr
installed with their demo data (dozens of modules) plus the five custom modules of
devstack/odoo_target.py. The apps are installed once into ``TEMPLATE`` and kept between bench
runs (``IGR_BENCH_REBUILD=1`` rebuilds it); each run copies it, makes the copy a target with
``igr target init`` and deploys to it. Measured side by side in one run, on that database:

realistic_selective_vs_all_ratio  the product's deploy of a package where one custom module
                                  changed / ``odoo-bin -u all --stop-after-init`` (goal <= 0.10)
deploy_overhead_ratio             the product's deploy / a bare ``odoo-bin -u <changed>
                                  --stop-after-init`` of the same change (goal <= 1.3)
deploy_downtime_s_p50             how long the target did not serve during the product's deploy
                                  (engine/delivery/odoo/downtime.py: probes every 0.2 s)
downtime_vs_bare_u_ratio          that / the downtime of the bare way, measured the same way:
                                  stop the server, ``-u <changed>``, start it (goal <= 1.2)
rehearsal_s_p50                   the upgrade rehearsal of a one-module change on that database
                                  (engine/delivery/odoo/rehearsal.py: copy, neutralize, ``-u``,
                                  drop), from the request to its report; ``rehearsal_upgrade_s_p50``
                                  is its ``-u`` alone, ``rehearsal_s_each`` each one (each reads
                                  production by pg_dump, no copy of it is kept between them:
                                  ``rehearsal_copied_from``), ``rehearsal_database_mb`` the size
                                  of the rehearsal database after its upgrade

Each round deploys a new version of one custom module through the product and, in alternating
order, the next version of another one the bare way (its code put in place by hand). ``-u all``
runs once. ``IGR_BENCH_REALISTIC_BUDGET_S`` (default 900) ends the rounds early, never below 2.
"""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from devstack.odoo_server import DB, DB_USER, ODOO_SRC, PORT, databases, drop_database, odoo_cmd  # noqa: E402
from devstack.odoo_target import MODULES, Target, package  # noqa: E402
from influencegen_release.engine.delivery.odoo import packaging  # noqa: E402
from influencegen_release.engine.delivery.odoo.downtime import DowntimeProbe  # noqa: E402
from influencegen_release.engine.delivery.odoo.rehearsal import DONE, rehearsal_report, start_rehearsal  # noqa: E402
from influencegen_release.engine.delivery.odoo.target import OdooTarget, deploy_package  # noqa: E402

APPS = ["sale_management", "purchase", "stock", "account", "crm", "project", "hr"]
TEMPLATE = "igr_bench_realistic_apps"
ODOO_ADDONS = f"{ODOO_SRC}/odoo/addons,{ODOO_SRC}/addons"
ROUNDS = int(os.environ.get("IGR_BENCH_ROUNDS", "5"))
BUDGET_S = float(os.environ.get("IGR_BENCH_REALISTIC_BUDGET_S", "900"))
KEEP = bool(os.environ.get("IGR_BENCH_KEEP"))
REHEARSALS = int(os.environ.get("IGR_BENCH_REHEARSALS", "2"))


def psql(sql, db="postgres"):
    return subprocess.run(["psql", "-w", "-X", "-h", "127.0.0.1", "-U", DB_USER, "-d", db, "-tAc", sql],
                          capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL).stdout.strip()


def ensure_template(log_dir):
    """The apps with demo data, installed once (about 10 minutes on 2 cores) and reused."""
    if TEMPLATE in databases(TEMPLATE) and not os.environ.get("IGR_BENCH_REBUILD"):
        return False
    building = f"{TEMPLATE}_building"
    drop_database(building)
    subprocess.run(["createdb", "-w", "-h", "127.0.0.1", "-U", DB_USER, building], check=True, stdin=subprocess.DEVNULL)
    with open(os.path.join(log_dir, "template.log"), "w", encoding="utf-8") as log:
        subprocess.run(odoo_cmd("-i", ",".join(APPS), "--stop-after-init", "--no-http", "--max-cron-threads=0",
                                "--log-level=warn", db=building, addons=ODOO_ADDONS),
                       check=True, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    drop_database(TEMPLATE)
    psql(f'ALTER DATABASE "{building}" RENAME TO "{TEMPLATE}"')
    return True


class Releases:
    """The five custom modules as they are on the target; each release bumps one of them."""

    def __init__(self, workdir):
        self.workdir, self.count = workdir, 0
        self.versions, self.extra = {}, {}

    def next(self, changed):
        self.count += 1
        if changed:
            self.versions[changed] = f"18.0.1.0.{self.count}"
            self.extra[changed] = f"field_{self.count}"
        return package(self.workdir, f"1.0.{self.count}", dict(self.versions), extra=dict(self.extra))


def bare_upgrade(target, release_zip, sha256, module):
    """The admin's way: the new code in place by hand, server stopped, ``-u``, server started.
    Returns (seconds of the ``-u`` run, seconds the target did not serve)."""
    release_dir = os.path.join(target.managed, "releases", sha256[:16])
    packaging.safe_extract(release_zip, release_dir)
    with DowntimeProbe(target.url) as probe:
        stop(target.server)
        tmp = os.path.join(target.managed, "current.new")
        os.symlink(release_dir, tmp)
        os.replace(tmp, os.path.join(target.managed, "current"))
        started = time.monotonic()
        with open(os.path.join(target.folder, f"bare-u-{module}.log"), "a", encoding="utf-8") as log:
            subprocess.run(odoo_cmd("-u", module, "--stop-after-init", "--no-http", "--max-cron-threads=0", db=target.db,
                                    addons=target.addons), check=True, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        upgrade_s = time.monotonic() - started
        target.server.start()
        OdooTarget(target.url, target.db, "deployer", target.key).wait_healthy()
        while not probe.samples or not sorted(probe.samples)[-1][1]:
            time.sleep(0.1)  # until a probe sees the page served again
    return upgrade_s, probe.downtime_s()


def stop(server):
    """As an admin's service manager would: SIGTERM, and a second one (Odoo's forced shutdown)
    when a cron job holds the graceful stop."""
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(30)


def upgrade_all(target):
    stop(target.server)
    started = time.monotonic()
    with open(os.path.join(target.folder, "u-all.log"), "w", encoding="utf-8") as log:
        subprocess.run(odoo_cmd("-u", "all", "--stop-after-init", "--no-http", "--max-cron-threads=0", db=target.db,
                                addons=target.addons), check=True, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    target.server.start()
    return elapsed


def rehearse(client, releases, changed, timeout=900):
    """One rehearsal of a package that changes ``changed``, as the Go/No-Go asks for it:
    ``(seconds from the request to the report, the report)``; never deployed afterwards."""
    kept = dict(releases.versions), dict(releases.extra)
    path, built = releases.next(changed)
    releases.versions, releases.extra = kept  # rehearsed, never deployed: the next package starts from the target
    started = time.monotonic()
    planned = start_rehearsal(client, path, built["sha256"], built["manifest"])
    deadline = started + timeout
    report = {"state": "starting"}
    while report.get("state") not in DONE and time.monotonic() < deadline:
        time.sleep(0.25)
        report = rehearsal_report(client, planned["receipt"])
    if report.get("state") != "passed" or report.get("upgrade") != [changed]:
        raise RuntimeError(f"rehearsal of {changed}: {report.get('state')}: {report.get('error') or report}")
    return time.monotonic() - started, report


def p50(values):
    """The median rounded to the millisecond, of the values measured (None: not measured)."""
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def bench_odoo_realistic():
    started_part = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="igr-bench-realistic-")
    target = Target(os.path.join(workdir, "target"), PORT + 45, f"{DB}_realistic")
    ok = False
    try:
        built = ensure_template(workdir)
        template_s = time.monotonic() - started_part
        target.start(template=TEMPLATE)
        modules = int(psql("SELECT count(*) FROM ir_module_module WHERE state = 'installed'", db=target.db) or 0)
        client = OdooTarget(target.url, target.db, "deployer", target.key)
        releases = Releases(workdir)
        path, first = releases.next(None)
        deploy_package(client, path, first["sha256"], first["manifest"])  # installs the five: not timed
        setup_s = time.monotonic() - started_part
        product_s, product_down, bare_s, bare_down = [], [], [], []
        for index in range(ROUNDS):
            round_started = time.monotonic()
            steps = ["product", "bare"] if index % 2 == 0 else ["bare", "product"]
            for step in steps:
                changed = MODULES[(2 * index + (step == "bare")) % len(MODULES)]
                path, built_pkg = releases.next(changed)
                if step == "product":
                    started = time.monotonic()
                    result = deploy_package(client, path, built_pkg["sha256"], built_pkg["manifest"])
                    product_s.append(time.monotonic() - started)
                    product_down.append(result.downtime_s)
                    if result.plan.get("upgrade") != [changed]:
                        raise RuntimeError(f"plan {result.plan}, expected an upgrade of {changed} only")
                else:
                    upgrade_s, down_s = bare_upgrade(target, path, built_pkg["sha256"], changed)
                    bare_s.append(upgrade_s)
                    bare_down.append(down_s)
            elapsed = time.monotonic() - started_part
            if len(product_s) >= 2 and elapsed + (time.monotonic() - round_started) > BUDGET_S:
                break
        rehearsals = [rehearse(client, releases, MODULES[i % len(MODULES)]) for i in range(REHEARSALS)]
        all_s = upgrade_all(target)
        ok = True
        metrics = {
            "realistic_selective_vs_all_ratio": round(p50(product_s) / all_s, 3),
            "deploy_overhead_ratio": round(p50(product_s) / p50(bare_s), 3),
            "deploy_downtime_s_p50": p50(product_down),
            "downtime_vs_bare_u_ratio": round(p50(product_down) / p50(bare_down), 3) if p50(bare_down) else None,
            "rehearsal_s_p50": p50([seconds for seconds, _report in rehearsals]),
            "rehearsal_upgrade_s_p50": p50([report.get("upgrade_s") for _s, report in rehearsals]),
            "rehearsal_database_mb": round((rehearsals[-1][1].get("size_bytes") or 0) / 2**20, 1) if rehearsals else None,
            # each reads production by pg_dump (no deploy backup is production's after a deploy)
            "rehearsal_s_each": [round(seconds, 1) for seconds, _report in rehearsals],
            "rehearsal_copied_from": [report.get("copied_from") for _s, report in rehearsals],
            "rehearsal_rounds": len(rehearsals),
            "realistic_deploy_s_p50": p50(product_s),
            "realistic_bare_u_s_p50": p50(bare_s),
            "realistic_bare_downtime_s_p50": p50(bare_down),
            "realistic_u_all_s": round(all_s, 1),
            "realistic_installed_modules": modules,
            "realistic_rounds": len(product_s),
            "realistic_setup_s": round(setup_s, 1),
            "realistic_template_built": built,
            "realistic_template_s": round(template_s, 1),
        }
        goals = {"realistic_selective_vs_all_ratio": "<= 0.10", "deploy_overhead_ratio": "<= 1.3", "downtime_vs_bare_u_ratio": "<= 1.2"}
        return metrics, goals
    finally:
        target.stop()
        if ok and not KEEP:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not ok:
            print(f"odoo_realistic: logs kept in {workdir}", file=sys.stderr)


if __name__ == "__main__":  # ``bench_odoo.py --template``: only build (or keep) the cached apps database
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if sys.argv[1:] == ["--template"]:
        folder = tempfile.mkdtemp(prefix="igr-bench-template-")
        print("built" if ensure_template(folder) else "kept", TEMPLATE, folder)
