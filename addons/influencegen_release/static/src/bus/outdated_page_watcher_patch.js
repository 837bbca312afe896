import { OutdatedPageWatcherService } from "@bus/outdated_page_watcher_service";
import { patch } from "@web/core/utils/patch";

/**
 * "The page is out of date" is for a page that lived through a bus disconnection and may
 * have lost notifications sent meanwhile. Odoo 18's watcher also asks after a full page
 * load: Chrome keeps the shared bus worker of the previous page alive but disconnected
 * when the browser opens a new URL (a deep link, a link from an e-mail or an activity),
 * so the new page sees the worker reconnect without having seen it disconnect. It then
 * asks /bus/has_missed_notifications about the last notification *it* received: none yet,
 * null, which the server never finds, so the banner greeted every freshly loaded page.
 *
 * A page loaded after the disconnection read its data after it, and the reconnection
 * replays every notification still on the bus: it has missed nothing. So only a page that
 * saw the disconnection asks, about the last notification known then: its own, or the
 * one the browser's tabs share when it had received none yet.
 */
patch(OutdatedPageWatcherService.prototype, {
    setup(env, services) {
        super.setup(env, services);
        const { bus_service, multi_tab } = services;
        this.igrSawDisconnection = false;
        // Runs after the watcher's own listener, which keeps only this page's last id.
        bus_service.addEventListener("disconnect", () => {
            this.igrSawDisconnection = true;
            this.lastNotificationId =
                bus_service.lastNotificationId ?? multi_tab.getSharedValue("last_notification_id", null);
        });
    },

    async checkHasMissedNotifications() {
        if (!this.igrSawDisconnection) {
            return;
        }
        return super.checkHasMissedNotifications();
    },
});
