import { ActivityListPopoverItem } from "@mail/core/web/activity_list_popover_item";
import { patch } from "@web/core/utils/patch";

// A release decision closes by Approve or Reject on its request only (the server refuses
// Mark Done and Cancel on it: mail_activity.py); the list popover offers neither.
patch(ActivityListPopoverItem.prototype, {
    get hasMarkDoneButton() {
        return !this.props.activity.release_decision && super.hasMarkDoneButton;
    },
    get hasCancelButton() {
        return !this.props.activity.release_decision && super.hasCancelButton;
    },
});
