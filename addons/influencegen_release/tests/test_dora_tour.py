"""The DORA dashboard, its pivot and its graph in the browser (issue 18, item 10)."""

from odoo.tests import HttpCase, tagged

from .dora_common import DoraData


@tagged("post_install", "-at_install", "services")  # services: needs Chromium
class TestDoraTour(DoraData, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_dora_data()

    def test_a_release_user_reads_the_four_keys(self):
        self.start_tour("/odoo/action-influencegen_release.action_release_run", "influencegen_release_dora_dashboard", login="dora_viewer")
