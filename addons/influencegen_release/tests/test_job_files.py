"""A job's files through the Docker API only (no folder shared with the runner host): the
commit at /src, read-only; a task's declared outputs in the workspace of the run's later
tasks; a cache keyed by a file's checksum back in a later run; job volumes removed."""

import os

from .scheduler_common import SchedulerCase

STAGES = """\
    - name: Build
      tasks:
        - name: Make
          key: make
          run: >-
            mkdir -p build/dist .cache/pip && cp /src/hello.txt build/dist/from-src.txt &&
            echo built > build/dist/app.whl && (touch /src/x 2>&1 | grep -o 'Read-only file system');
            if [ -f .cache/pip/stamp ]; then echo "cache hit: $(cat .cache/pip/stamp)"; else echo cache miss; fi;
            echo "$IGR_RUN_ID" > .cache/pip/stamp
          outputs: [build]
          cache: {key_file: hello.txt, paths: [.cache/pip]}
    - name: Use
      tasks:
        - name: Read
          key: read
          run: cat build/dist/app.whl build/dist/from-src.txt && echo extra >> build/dist/app.whl
        - name: Missing
          key: missing
          allow_failure: true
          run: "true"
          outputs: [not/made]
"""


class TestJobFiles(SchedulerCase):
    def test_outputs_reach_later_tasks_and_the_cache_later_runs(self):
        pipeline = self.make_pipeline("PL-T-FILES", STAGES)
        run = self.trigger()
        self.tick_until(lambda: run.state in ("succeeded", "failed"))
        make, read, missing = (self.job(run, key) for key in ("make", "read", "missing"))
        self.assertEqual(make.state, "succeeded", make.log_tail)
        self.assertIn("Read-only file system\ncache miss", make.log_tail)
        self.assertIn("[influencegen] outputs kept for later tasks: build (", make.log_tail)
        self.assertIn("[influencegen] cache saved: ", make.log_tail)
        self.assertGreater(make.output_size, 0)
        self.assertEqual(read.state, "succeeded", read.log_tail)
        self.assertIn("[influencegen] outputs of 'Make' restored into /workspace", read.log_tail)
        self.assertIn("built\nhello from the commit", read.log_tail)
        self.assertEqual(
            (missing.state, missing.failure_reason), ("failed", "outputs not kept: declared outputs were not produced: not/made")
        )
        volumes = self.runner._client().volumes({"influencegen.db": self.env.cr.dbname, "influencegen.run": str(run.id)})
        self.assertEqual(volumes, {}, "job volumes go with their containers")

        # A later run on another commit with the same key file gets the cache back (and saves
        # none again); the first run's outputs are gone once it has ended.
        path = os.path.join(self.git_repo.working_tree_dir, "other.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("another file\n")
        self.git_repo.index.add([path])
        second = self.trigger(sha=self.git_repo.index.commit("another").hexsha)
        self.tick_until(lambda: second.state in ("succeeded", "failed"))
        again = self.job(second, "make")
        self.assertIn(f"cache hit: {run.id}", again.log_tail)
        self.assertIn("[influencegen] cache restored: ", again.log_tail)
        self.assertNotIn("cache saved", again.log_tail)
        self.assertFalse(os.path.exists(make._output_file()), "outputs of an ended run are pruned")
        self.assertEqual(pipeline.code, "PL-T-FILES")
