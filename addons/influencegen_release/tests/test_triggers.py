import datetime as dt
import os

from freezegun import freeze_time

from .scheduler_common import SchedulerCase

PIPELINE = """\
version: 1
pipeline:
  code: %(code)s
  name: Trigger test
  kind: odoo
  triggers:
%(triggers)s
  stages:
    - name: Build
      tasks:
        - {name: Checkout, key: checkout, uses: git.checkout}
"""


class TestTriggers(SchedulerCase):
    """What starts a run: ``paths`` of push triggers against what the push changed (the same
    decision for hooks, webhooks, polling and the CLI, all through ``api_trigger``), and
    schedules driven by their own cron, one run per slot."""

    def load(self, code, triggers):
        pipeline = self.env["release.pipeline.loader"]._load_text(PIPELINE % {"code": code, "triggers": triggers}, f"{code}.yml")
        self.repository.pipeline_ids |= pipeline
        return pipeline

    def commit(self, files, branch="main", start=None):
        repo = self.git_repo
        if start:
            repo.git.checkout("-B", branch, start)
        else:
            repo.git.checkout(branch)
        for path, text in files.items():
            target = os.path.join(repo.working_tree_dir, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)
        repo.index.add(list(files))
        return repo.index.commit(f"change {', '.join(files)}").hexsha

    def push(self, after, before=None, ref="refs/heads/main", **extra):
        payload = {"repository": "sched-repo", "ref": ref, "after": after, "before": before or "", "pusher": "dev", **extra}
        return self.env["release.run"].with_user(self.developer).api_trigger(payload)

    def chatter(self, run):
        run = self.env["release.run"].browse(run["id"]) if isinstance(run, dict) else run
        return " ".join(str(body) for body in run.message_ids.mapped("body"))

    def test_paths_decide_on_what_the_push_changed(self):
        pipeline = self.load("PL-T-PATHS", '    - {event: push, branches: ["main", "feature/*"], paths: ["addons/**", "!addons/**/*.md"]}')
        base = self.commit({"addons/sale/models.py": "x = 1\n"})
        readme = self.commit({"README.md": "docs\n", "addons/sale/README.md": "docs\n"})
        result = self.push(readme, before=base)
        self.assertEqual(result["runs"], [])
        self.assertEqual(
            result["message"],
            f"no pipeline matched: paths addons/**, !addons/**/*.md match none of the 2 changed file(s) since {base[:12]}: "
            "README.md, addons/sale/README.md (PL-T-PATHS)",
        )
        code = self.commit({"addons/sale/models.py": "x = 2\n"})
        [summary] = self.push(code, before=readme)["runs"]
        run = self.env["release.run"].browse(summary["id"])
        self.assertEqual((run.pipeline_id, run.trigger_kind, run.commit_sha), (pipeline, "push", code))
        self.assertIn(f"Started: addons/sale/models.py of 1 changed file(s) since {readme[:12]} match paths", self.chatter(run))
        self.assertEqual(self.push(code, before=readme)["runs"], [summary], "a redelivery finds the same run")
        # A new branch is compared with its merge-base with the default branch.
        docs_branch = self.commit({"docs/guide.md": "guide\n"}, branch="feature/docs", start=base)
        self.assertEqual(self.push(docs_branch, ref="refs/heads/feature/docs")["runs"], [])
        module_branch = self.commit({"addons/stock/models.py": "y = 1\n"}, branch="feature/stock", start=readme)
        [branch_run] = self.push(module_branch, ref="refs/heads/feature/stock")["runs"]
        self.assertIn(f"since the merge-base {readme[:12]} with main", self.chatter(branch_run))
        # A previous head the mirror never had (history rewritten): started, saying why.
        forced = self.commit({"notes.txt": "n\n"}, branch="feature/stock", start=base)
        [forced_run] = self.push(forced, before="e" * 40, ref="refs/heads/feature/stock")["runs"]
        self.assertIn(f"paths not checked (the previous head {'e' * 12} is no longer in the mirror)", self.chatter(forced_run))
        # Naming the pipeline is a manual run: its triggers are not consulted.
        manual = self.commit({"README.md": "again\n"})
        [manual_run] = self.push(manual, before=code, pipeline="PL-T-PATHS")["runs"]
        self.assertEqual(self.env["release.run"].browse(manual_run["id"]).trigger_kind, "manual")

    def test_a_trigger_without_paths_still_starts_beside_one_with_paths(self):
        other = self.load("PL-T-ALWAYS", '    - {event: push, branches: ["main"]}')
        self.load("PL-T-ADDONS", '    - {event: push, branches: ["main"], paths: ["addons/**"]}')
        base = self.commit({"a.txt": "a\n"})
        head = self.commit({"README.md": "b\n"})
        result = self.push(head, before=base)
        self.assertEqual([r["pipeline"] for r in result["runs"]], [other.code])
        self.assertEqual([s["pipeline"] for s in result["skipped"]], ["PL-T-ADDONS"])
        self.assertTrue(result["message"].startswith("not started: paths addons/** match none"), result["message"])

    def test_schedule_runs_the_default_branch_once_per_slot(self):
        with freeze_time("2026-03-04 10:17:00"):
            pipeline = self.load("PL-T-SCHED", "    - {event: schedule, schedule: 1h}")
            trigger = pipeline.trigger_ids
            self.assertEqual(trigger.next_run_at, dt.datetime(2026, 3, 4, 11, 0))
            self.assertEqual(pipeline.next_scheduled_at, dt.datetime(2026, 3, 4, 11, 0), "the form shows the next run")
        Run = self.env["release.run"]
        runs = lambda: Run.search([("pipeline_id", "=", pipeline.id)])  # noqa: E731
        with freeze_time("2026-03-04 10:59:00"):
            Run.env["release.pipeline.trigger"]._cron_schedule()
            self.assertFalse(runs(), "not before its slot")
        with freeze_time("2026-03-04 11:00:20"):
            self.env["release.pipeline.trigger"]._cron_schedule()
            self.env["release.pipeline.trigger"]._cron_schedule()  # a second server, or a late tick
            run = runs()
            self.assertEqual(len(run), 1)
            self.assertEqual((run.trigger_kind, run.ref, run.commit_sha, run.pusher), ("schedule", "refs/heads/main", self.git_repo.heads.main.commit.hexsha, "schedule"))
            self.assertIn("Started by the schedule 1h (slot 2026-03-04 11:00:00 UTC) at the head of main.", self.chatter(run))
            self.assertEqual(trigger.next_run_at, dt.datetime(2026, 3, 4, 12, 0))
        # Hours later (servers down): one run for the missed slots, then the next slot after now.
        with freeze_time("2026-03-04 15:42:00"):
            self.env["release.pipeline.trigger"]._cron_schedule()
            self.assertEqual(len(runs()), 2, "the same commit runs again at the next slot: a schedule is not a push")
            self.assertEqual(trigger.next_run_at, dt.datetime(2026, 3, 4, 16, 0))
        # A slot another server claimed meanwhile (its row moved on) is not taken again.
        with freeze_time("2026-03-04 16:00:30"):
            self.env.cr.execute("UPDATE release_pipeline_trigger SET next_run_at = '2026-03-04 17:00' WHERE id = %s", [trigger.id])
            self.assertEqual(trigger.next_run_at, dt.datetime(2026, 3, 4, 16, 0), "this transaction still read the old slot")
            self.assertFalse(trigger._claim_slot(dt.datetime(2026, 3, 4, 16, 0, 30)))
            self.assertEqual(trigger.next_run_at, dt.datetime(2026, 3, 4, 17, 0))
        # A cron expression, and an archived pipeline never runs.
        with freeze_time("2026-03-04 16:10:00"):
            trigger.schedule = "30 2 * * 1-5"
            self.assertEqual(trigger.next_run_at, dt.datetime(2026, 3, 5, 2, 30))
            pipeline.active = False
        with freeze_time("2026-03-05 02:31:00"):
            self.env["release.pipeline.trigger"]._cron_schedule()
            self.assertEqual(len(runs()), 2)
        self.assertTrue(self.env.ref("influencegen_release.ir_cron_release_schedule").active)
