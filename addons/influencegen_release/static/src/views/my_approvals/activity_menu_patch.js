import { ActivityMenu } from "@mail/core/web/activity_menu";
import { patch } from "@web/core/utils/patch";

// The "Release decision" activities of the inbox open the user's approvals screen.
patch(ActivityMenu.prototype, {
    openActivityGroup(group, filter = "all") {
        if (group.model === "release.approval") {
            this.dropdown.close();
            this.action.doAction("influencegen_release.action_release_my_approvals");
            return;
        }
        return super.openActivityGroup(group, filter);
    },
});
