"""No "The page is out of date" banner after a reload or a deep link, and still the banner
when a page lived through a disconnection that lost its notifications (issue 18, item 11)."""

import contextlib
import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.addons.bus.websocket import CloseCode
from odoo.tests import tagged

from .views_common import ViewsTourCase

RUN_URL = "/odoo/action-influencegen_release.action_release_run/%s"


@tagged("post_install", "-at_install", "services")  # services: needs Chromium
class TestFreshPageTour(ViewsTourCase):
    websocket = True  # these tours watch the bus

    def test_a_deep_link_loaded_twice_shows_no_out_of_date_banner(self):
        self.start_tour(RUN_URL % self.views_run.id, "influencegen_release_fresh_page", login="views_viewer", timeout=120)

    def test_a_page_that_lost_notifications_while_disconnected_is_told(self):
        channel = hashable(channel_with_db(self.env.cr.dbname, self.env.ref("influencegen_release.group_release_user")))
        dropped = threading.Event()

        def lose_notifications_then_drop_the_connection():
            deadline = time.monotonic() + 60
            while not dispatch._channels_to_ws.get(channel) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)  # the page has received the notifications the bus still holds
            with self.registry.cursor() as cr:
                # What the bus's garbage collection does to notifications older than 100 s.
                api.Environment(cr, SUPERUSER_ID, {})["bus.bus"].search([]).unlink()
            for websocket in list(dispatch._channels_to_ws.get(channel, ())):
                # As a restarting server or a broken network would; a websocket of an earlier
                # test may be gone already.
                with contextlib.suppress(KeyError, OSError):
                    websocket.disconnect(CloseCode.GOING_AWAY)
            dropped.set()

        threading.Thread(target=lose_notifications_then_drop_the_connection, daemon=True).start()
        self.start_tour(RUN_URL % self.views_run.id, "influencegen_release_outdated_page", login="views_viewer", timeout=120)
        self.assertTrue(dropped.is_set())
