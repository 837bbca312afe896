"""Browser tours of the OWL screens, one per screen and role, with a live update pushed
through the bus while the run graph and the log viewer watch a running job."""

import functools
import threading
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.tests import tagged

from ..engine.execution.log_store import LogStore
from .views_common import ViewsTourCase

RUN_URL = "/odoo/action-influencegen_release.action_release_run/%s"
JOB_URL = "/odoo/action-influencegen_release.action_release_job/%s"


@tagged("post_install", "-at_install", "services")  # services: needs Chromium
class TestViewsTours(ViewsTourCase):
    websocket = True  # these tours watch the bus

    def _when_watched(self, method, change):
        """In a second thread, as the scheduler would: once the browser has called ``method``
        of release.run or release.job and listens on the bus, apply ``change(env)`` and commit,
        then wake the browser's websocket (the NOTIFY that test cursors never send)."""
        channel = hashable(channel_with_db(self.env.cr.dbname, self.env.ref("influencegen_release.group_release_user")))
        watched, done = threading.Event(), threading.Event()
        model_name, name = method.split(".")[-2:]
        model = self.registry[f"release.{model_name}"]
        original = getattr(model, name)

        @functools.wraps(original)  # keeps @api.model where the original has it
        def spy(records, *args, **kwargs):
            watched.set()
            return original(records, *args, **kwargs)

        def work():
            deadline = time.monotonic() + 60
            while not (watched.is_set() and dispatch._channels_to_ws.get(channel)) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1)  # let the tour see the state before the change first
            with self.registry.cursor() as cr:
                change(api.Environment(cr, SUPERUSER_ID, {}))
                # A test cursor: its commit creates the bus messages, as the scheduler's would.
                cr.commit()  # pylint: disable=invalid-commit
            for websocket in list(dispatch._channels_to_ws.get(channel, ())):
                websocket.trigger_notification_dispatching()
            done.set()

        self.startPatcher(patch.object(model, name, spy))
        threading.Thread(target=work, daemon=True).start()
        return done

    def test_run_graph_updates_live_and_log_viewer_pages_and_searches(self):
        done = self._when_watched("run.api_graph", self.finish_build)
        self.start_tour(RUN_URL % self.views_run.id, "influencegen_release_run_graph_live", login="admin", timeout=120)
        self.assertTrue(done.is_set(), "the build was finished while the tour watched")
        self.assertEqual(self.views_run.state, "waiting_approval")
        self.assertTrue(self.views_run.cancel_requested, "the graph's Cancel run button asked the scheduler to stop the run")

    def test_log_viewer_follows_the_tail_of_a_running_job(self):
        def more_log(env):
            LogStore(self.job.log_dir).append(b"\x1b[36mlinking views_demo\x1b[0m\n")
            self.job.with_env(env).write({"log_size": self.store.size()})

        done = self._when_watched("job.api_log_page", more_log)
        self.start_tour(JOB_URL % self.job.id, "influencegen_release_log_follow", login="views_viewer", timeout=120)
        self.assertTrue(done.is_set(), "the log grew while the tour watched")

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
