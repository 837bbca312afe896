from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestReleaseUi(HttpCase):
    def test_runs_menu_and_pipeline_form(self):
        self.start_tour("/odoo", "influencegen_release_runs_and_pipeline", login="admin")
