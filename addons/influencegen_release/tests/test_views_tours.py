"""Browser tours of the OWL screens, one per screen and role, with a live update pushed
through the bus while the run graph and the log viewer watch a running job."""

import threading
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.addons.bus.websocket import WebsocketConnectionHandler
from odoo.tests import HttpCase, tagged

from .views_common import ViewsData

RUN_URL = "/odoo/action-influencegen_release.action_release_run/%s"


@tagged("post_install", "-at_install")
class TestViewsTours(ViewsData, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo refuses websockets during tests by default; these tours watch the bus.
        cls.startClassPatcher(patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=True))
        cls.setup_views_data()

    def _finish_build_when_watched(self, graph_loaded):
        """In a second thread, as the scheduler would: once the browser shows the run and
        listens on the bus, finish the build (commit), then wake the browser's websocket
        (the NOTIFY that test cursors never send)."""
        channel = hashable(channel_with_db(self.env.cr.dbname, self.env.ref("influencegen_release.group_release_user")))
        done = threading.Event()

        def work():
            deadline = time.monotonic() + 60
            while not (graph_loaded.is_set() and dispatch._channels_to_ws.get(channel)) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1)  # let the tour see the running job first
            with self.registry.cursor() as cr:
                self.finish_build(api.Environment(cr, SUPERUSER_ID, {}))
                # A test cursor: its commit creates the bus messages, as the scheduler's would.
                cr.commit()  # pylint: disable=invalid-commit
            for websocket in list(dispatch._channels_to_ws.get(channel, ())):
                websocket.trigger_notification_dispatching()
            done.set()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        return done

    def test_run_graph_updates_live_and_log_viewer_follows_pages_and_searches(self):
        graph_loaded = threading.Event()
        Run = self.registry["release.run"]
        original = Run.api_graph

        @api.model
        def api_graph(model, run_id):
            graph_loaded.set()
            return original(model, run_id)

        with patch.object(Run, "api_graph", api_graph):
            done = self._finish_build_when_watched(graph_loaded)
            self.start_tour(RUN_URL % self.views_run.id, "influencegen_release_run_graph_live", login="admin", timeout=120)
        self.assertTrue(done.is_set(), "the build was finished while the tour watched")
        self.assertEqual(self.views_run.state, "waiting_approval")

    def test_a_release_user_sees_the_graph_and_the_board_without_buttons(self):
        self.deployments()
        self.start_tour(RUN_URL % self.views_run.id, "influencegen_release_viewer", login="views_viewer")
        self.start_tour("/odoo/release-environment-board", "influencegen_release_viewer_board", login="views_viewer")

    def test_my_approvals_approve_with_a_comment_from_the_inbox(self):
        self.finish_build(self.env)
        approval = self.views_run.approval_ids
        self.assertIn(self.qa, approval.activity_ids.user_id)
        self.start_tour("/odoo", "influencegen_release_my_approvals", login="views_qa")
        self.assertEqual((approval.state, approval.decided_by_id), ("approved", self.qa))
        self.assertEqual(approval.comment, "Staging checked from my approvals")

    def test_environment_board_drift_and_rollback_button(self):
        self.deployments()
        self.start_tour("/odoo/release-environment-board", "influencegen_release_environment_board", login="admin")

    def test_pipeline_definition_graph_beside_its_yaml(self):
        self.start_tour(
            f"/odoo/action-influencegen_release.action_release_pipeline/{self.pipeline.id}",
            "influencegen_release_pipeline_graph",
            login="admin",
        )
