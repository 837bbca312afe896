"""``agent.py check DB`` (run by ``igr target init``): what a deploy needs on the target."""

import json
import shutil
import subprocess
import sys

PG_TOOLS = ("pg_dump", "pg_restore", "createdb", "psql")


def check(db):
    """What a deploy needs on this machine: the PostgreSQL tools on PATH and the database
    reachable with the environment's settings (PGHOST, PGUSER, PGPASSWORD...). Prints one
    JSON line; exit code 1 when something is missing."""
    problems = [f"{tool} is not on PATH" for tool in PG_TOOLS if not shutil.which(tool)]
    if not problems:
        result = subprocess.run(
            ["psql", "-w", "-X", "-tA", "-d", db, "-c", "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user"],
            capture_output=True, text=True, timeout=30, check=False,
        )
        if result.returncode:
            problems.append(f"psql cannot reach database {db}: {result.stderr.strip()}")
        elif result.stdout.strip() != "t":
            problems.append("the database role may not create databases (CREATEDB): restores need it")
    sys.stdout.write(json.dumps({"python": sys.executable, "problems": problems}) + "\n")
    return 1 if problems else 0
