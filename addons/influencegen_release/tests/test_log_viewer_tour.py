"""The log viewer of a finished job (issue 18, item 7): opens at the end, line numbers and
links to a line, search forward, backward and from the start on the server, errors and
warnings marked."""

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
