"""Triggers through a real server and real ``git push``es into a hub with the real post-receive
hook: ``paths`` decide on what each push changed (a new branch against its merge-base with
main), and a ``schedule`` trigger starts a run on main's head from its own cron."""

import os
import shutil
import subprocess

import pytest

from devstack import ROOT
from devstack.odoo_server import DB, PORT, Api
from devstack.repository import IMAGE, init_repository

HOOK = os.path.join(ROOT, "scripts", "git-hooks", "post-receive")
PIPELINE = f"""\
version: 1
pipeline:
  code: PL-IT-PATHS
  name: Paths and schedules
  kind: odoo
  triggers:
    - {{event: push, branches: ["main", "feature/*"], paths: ["addons/**"]}}
    - {{event: schedule, schedule: 1d}}
  defaults: {{image: {IMAGE}, timeout: 60, memory: 128m, cpus: 0.5}}
  stages:
    - name: Work
      tasks:
        - {{name: Work, key: work, run: "true"}}
"""


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def commit(repo, files):
    for path, text in files.items():
        target = os.path.join(repo.working_tree_dir, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
    repo.index.add(list(files))
    return repo.index.commit(f"change {', '.join(files)}").hexsha


@pytest.fixture(scope="module")
def hub(server, workdir):
    """The origin the repository record reads, a bare hub with the hook that developers push
    to, and the Odoo API."""
    api = Api()
    origin = init_repository(os.path.join(workdir, "trigger-origin"))
    commit(origin, {".influencegen/pipeline.yml": PIPELINE, "addons/sale/models.py": "x = 1\n", "README.md": "hi\n"})
    repo_id = api("release.repository", "create", {"name": "it-triggers", "url": origin.working_tree_dir})
    api("release.repository", "action_load_pipeline_file", [repo_id])
    bare = os.path.join(workdir, "trigger-hub.git")
    git("clone", "--bare", "-q", origin.working_tree_dir, bare, cwd=workdir)
    shutil.copy(HOOK, os.path.join(bare, "hooks", "post-receive"))
    keyfile = os.path.join(workdir, "trigger-key")
    with open(keyfile, "w", encoding="utf-8") as handle:
        handle.write("admin\n")
    settings = {"url": f"http://127.0.0.1:{PORT}", "db": DB, "user": "admin", "keyfile": keyfile, "repository": "it-triggers"}
    for key, value in settings.items():
        git("config", f"influencegen.{key}", value, cwd=bare)
    git("remote", "add", "hub", bare, cwd=origin.working_tree_dir)
    return origin, api


def runs_at(api, sha):
    return api("release.run", "search_read", [("commit_sha", "=", sha), ("pipeline_id.code", "=", "PL-IT-PATHS")], fields=["trigger_kind"])


def push(origin, branch):
    """``git push`` to the hub; what its hook printed. On a loaded machine the hook's 5 s may
    run out (the event is then queued, as documented): the hook run again delivers it."""
    output = git("push", "-q", "hub", branch, cwd=origin.working_tree_dir).stderr
    bare = git("remote", "get-url", "hub", cwd=origin.working_tree_dir).stdout.strip()
    for _attempt in range(3):
        if not os.path.exists(os.path.join(bare, "influencegen-queue.jsonl")):
            break
        output += subprocess.run([HOOK], cwd=bare, input="", capture_output=True, text=True, check=True).stderr
    return output


def test_paths_decide_on_what_each_real_push_changed(hub):
    origin, api = hub
    readme = commit(origin, {"README.md": "docs only\n"})
    output = push(origin, "main")
    assert not runs_at(api, readme)
    assert "no pipeline matched: paths addons/** match none of the 1 changed file(s) since" in output, output
    assert "README.md (PL-IT-PATHS)" in output, output

    module = commit(origin, {"addons/sale/models.py": "x = 2\n"})
    output = push(origin, "main")
    [run] = runs_at(api, module)
    assert f"PL-IT-PATHS run #{run['id']}" in output and run["trigger_kind"] == "push", output

    # New branches: compared with their merge-base with main.
    git("checkout", "-q", "-b", "feature/docs", readme, cwd=origin.working_tree_dir)
    docs = commit(origin, {"docs/guide.md": "guide\n"})
    output = push(origin, "feature/docs")
    assert not runs_at(api, docs)
    assert f"since the merge-base {readme[:12]} with main: docs/guide.md" in output, output
    git("checkout", "-q", "-b", "feature/stock", readme, cwd=origin.working_tree_dir)
    stock = commit(origin, {"addons/stock/models.py": "y = 1\n"})
    push(origin, "feature/stock")
    [branch_run] = runs_at(api, stock)
    [note] = api("mail.message", "search_read", [("model", "=", "release.run"), ("res_id", "=", branch_run["id"]), ("body", "ilike", "Started:")], fields=["body"])
    assert f"addons/stock/models.py of 1 changed file(s) since the merge-base {readme[:12]} with main" in note["body"]
    git("checkout", "-q", "main", cwd=origin.working_tree_dir)


def test_a_schedule_starts_a_run_on_main_from_its_cron(hub):
    origin, api = hub
    [trigger] = api("release.pipeline.trigger", "search_read", [("pipeline_id.code", "=", "PL-IT-PATHS"), ("event", "=", "schedule")], fields=["next_run_at"])
    assert trigger["next_run_at"].endswith("00:00:00"), "1d: the next midnight, UTC"
    # The slot comes (moved into the past rather than waiting for midnight); the cron's code runs as the cron does.
    api("release.pipeline.trigger", "write", [trigger["id"]], {"next_run_at": "2026-01-01 00:00:00"})
    [cron] = api("ir.model.data", "search_read", [("module", "=", "influencegen_release"), ("name", "=", "ir_cron_release_schedule")], fields=["res_id"])
    api("ir.cron", "method_direct_trigger", [cron["res_id"]])
    head = origin.heads.main.commit.hexsha
    [run] = api("release.run", "search_read", [("trigger_kind", "=", "schedule"), ("pipeline_id.code", "=", "PL-IT-PATHS")], fields=["commit_sha", "ref", "pusher"])
    assert (run["commit_sha"], run["ref"], run["pusher"]) == (head, "refs/heads/main", "schedule")
    api("ir.cron", "method_direct_trigger", [cron["res_id"]])  # the slot is taken: nothing more
    assert api("release.run", "search_count", [("trigger_kind", "=", "schedule"), ("pipeline_id.code", "=", "PL-IT-PATHS")]) == 1
    [after] = api("release.pipeline.trigger", "read", [trigger["id"]], ["next_run_at"])
    assert after["next_run_at"] > "2026-01-01 00:00:00" and after["next_run_at"].endswith("00:00:00")
    [pipeline] = api("release.pipeline", "search_read", [("code", "=", "PL-IT-PATHS")], fields=["next_scheduled_at"])
    assert pipeline["next_scheduled_at"] == after["next_run_at"], "the pipeline form shows the next run"
