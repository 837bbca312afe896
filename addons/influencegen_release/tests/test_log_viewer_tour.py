"""The log viewer of a finished job (issue 18, item 7): opens at the end, line numbers and
links to a line, search forward, backward and from the start on the server, errors and
warnings marked, the attempts of a retried job."""

import os
import shutil
import tempfile

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..engine.execution.log_store import LogStore
from .views_common import ViewsTourCase

JOB_URL = "/odoo/action-influencegen_release.action_release_job/%s"


@tagged("post_install", "-at_install", "services")  # services: needs Chromium
class TestLogViewerTour(ViewsTourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Lines 1-100 steps, 101 the error, 102-12101 steps, 12102 a warning, 12103 the end.
        LogStore(cls.job.log_dir).append(b"\x1b[33mWARNING: views_demo uses a deprecated field\x1b[0m\n")
        cls.finish_build(cls.env)

    def test_a_finished_log_opens_at_its_end_numbers_searches_and_links_lines(self):
        self.start_tour(JOB_URL % self.job.id, "influencegen_release_log_viewer", login="views_viewer", timeout=120)

    def test_the_server_searches_backward_and_numbers_lines(self):
        job = self.job.with_user(self.viewer)
        end = job.api_log_find("build finished")
        self.assertEqual(job.api_log_find("step 0000050", end, direction="backward"), job.api_log_find("step 0000050"))
        self.assertEqual(job.api_log_find("", None, direction="backward"), job.api_log_find(""), "the only error line")
        self.assertEqual(job.api_log_find("step 0000050", job.api_log_find("step 0000050"), direction="backward"), -1)
        page = job.api_log_view(line=101)
        self.assertEqual((page["first_line"], page["start"]), (101, job.api_log_find("")))
        self.assertTrue(page["text"].startswith("\x1b[1;31mERROR"))
        tail = job.api_log_view()
        self.assertEqual(tail["end"], tail["size"])
        self.assertEqual(tail["first_line"] + tail["text"].count("\n") - 1, 12103, "the last line's number")

    def retried_job(self):
        """The staging deploy job, retried once: each attempt's log in its own folder."""
        root = tempfile.mkdtemp(prefix="igr-attempts-")
        self.addCleanup(shutil.rmtree, root, True)
        LogStore(os.path.join(root, "attempt-1")).append(
            b"attempt one\n\x1b[1;31mERROR\x1b[0m: flaky import\n[influencegen] exit code 75 is retryable: attempt 2\n"
        )
        LogStore(os.path.join(root, "attempt-2")).append(b"attempt two\nattempt two deployed\n")
        job = self.views_run.job_ids.filtered(lambda j: j.task_key == "deploy")
        now = fields.Datetime.now()
        job.write({"state": "succeeded", "attempt": 2, "log_dir": os.path.join(root, "attempt-2"), "started_at": now, "finished_at": now})
        return job

    def test_a_retried_job_keeps_the_log_of_each_attempt(self):
        job = self.retried_job().with_user(self.viewer)
        page = job.api_log_view()
        self.assertEqual((page["attempt"], page["state"]), (2, "succeeded"))
        self.assertEqual([(a["attempt"], a["current"]) for a in page["attempts"]], [(2, True), (1, False)])
        first = job.api_log_view(attempt=1)
        self.assertEqual((first["attempt"], first["state"]), (1, "failed"), "an earlier attempt failed: it was retried")
        self.assertIn("flaky import", first["text"])
        self.assertEqual(job.api_log_find("", 0, attempt=1), len("attempt one\n"), "its first error")
        self.assertEqual(job.api_log_find("", 0), -1, "the current attempt has none")
        with self.assertRaises(UserError):
            job.api_log_view(attempt=3)

    def test_the_attempts_of_a_retried_job_in_the_browser(self):
        job = self.retried_job()
        self.start_tour(JOB_URL % job.id, "influencegen_release_log_attempts", login="views_viewer", timeout=120)
