import os

from .scheduler_common import SchedulerCase

STAGES = """\
    - name: Build
      tasks:
        - {name: Checkout, key: checkout, uses: git.checkout}
"""


class TestPolling(SchedulerCase):
    def _commit(self, text):
        path = os.path.join(self.git_repo.working_tree_dir, "poll.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.git_repo.index.add([path])
        return self.git_repo.index.commit(text).hexsha

    def test_polling_starts_one_run_per_pipeline_for_a_burst_of_pushes(self):
        self.make_pipeline("PL-T-POLL", STAGES)
        self.repository.poll_minutes = 5
        self.assertEqual(self.repository._poll(), [], "the first poll only records the heads")
        self._commit("one")
        self._commit("two")
        head = self._commit("three")
        runs = self.repository._poll()
        self.assertEqual([(r["pipeline"]) for r in runs], ["PL-T-POLL"])
        run = self.env["release.run"].browse(runs[0]["id"])
        self.assertEqual((run.commit_sha, run.ref, run.pusher), (head, "refs/heads/main", "poller"))
        self.assertEqual(self.repository._poll(), [], "nothing moved since")
        # The cron respects the interval: polled a moment ago, it does not fetch again.
        self._commit("four")
        self.env["release.repository"]._cron_poll()
        self.assertEqual(self.env["release.run"].search_count([("pipeline_id.code", "=", "PL-T-POLL")]), 1)
