"""Triggers through a real server and real ``git push``es into a hub with the real post-receive
hook: ``paths`` decide on what each push changed (a new branch against its merge-base with
main), and a ``schedule`` trigger starts a run on main's head from its own cron."""

import pytest

from devstack.repository import IMAGE

from .repos import Hub, git

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


@pytest.fixture(scope="module")
def hub(server, workdir):
    """The origin the repository record reads, a bare hub with the hook that developers push
    to, and the Odoo API."""
    return Hub(workdir, "it-triggers", {".influencegen/pipeline.yml": PIPELINE, "addons/sale/models.py": "x = 1\n", "README.md": "hi\n"})


def runs_at(api, sha):
    return api("release.run", "search_read", [("commit_sha", "=", sha), ("pipeline_id.code", "=", "PL-IT-PATHS")], fields=["trigger_kind"])


def test_paths_decide_on_what_each_real_push_changed(hub):
    origin, api, commit, push = hub.origin, hub.api, hub.commit, hub.push
    readme = commit({"README.md": "docs only\n"})
    output = push("main")
    assert not runs_at(api, readme)
    assert "no pipeline matched: paths addons/** match none of the 1 changed file(s) since" in output, output
    assert "README.md (PL-IT-PATHS)" in output, output

    module = commit({"addons/sale/models.py": "x = 2\n"})
    output = push("main")
    [run] = runs_at(api, module)
    assert f"PL-IT-PATHS run #{run['id']}" in output and run["trigger_kind"] == "push", output

    # New branches: compared with their merge-base with main.
    git("checkout", "-q", "-b", "feature/docs", readme, cwd=origin.working_tree_dir)
    docs = commit({"docs/guide.md": "guide\n"})
    output = push("feature/docs")
    assert not runs_at(api, docs)
    assert f"since the merge-base {readme[:12]} with main: docs/guide.md" in output, output
    git("checkout", "-q", "-b", "feature/stock", readme, cwd=origin.working_tree_dir)
    stock = commit({"addons/stock/models.py": "y = 1\n"})
    push("feature/stock")
    [branch_run] = runs_at(api, stock)
    [note] = api("mail.message", "search_read", [("model", "=", "release.run"), ("res_id", "=", branch_run["id"]), ("body", "ilike", "Started:")], fields=["body"])
    assert f"addons/stock/models.py of 1 changed file(s) since the merge-base {readme[:12]} with main" in note["body"]
    git("checkout", "-q", "main", cwd=origin.working_tree_dir)


def test_a_schedule_starts_a_run_on_main_from_its_cron(hub):
    origin, api = hub.origin, hub.api
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
