import { registry } from "@web/core/registry";
import { inboxSteps, noMarkDoneSteps, toldSteps, twoClicksSteps } from "./release_approval_tour";

const tours = registry.category("web_tour.tours");

/** Inside a box that fits the screen and scrolls or clips sideways by design (Odoo's lists,
 * the notebook's tabs, the chatter's top bar): what such a box holds may be wider. */
function contained(el, root, width) {
    for (let box = el.parentElement; box && box !== root; box = box.parentElement) {
        const overflow = getComputedStyle(box).overflowX;
        if (overflow !== "visible" && !box.matches(".o_content, .modal-body") && box.getBoundingClientRect().right <= width + 1) {
            return true;
        }
    }
    return false;
}

function describe(el) {
    const classes = [...el.classList].join(".");
    return `<${el.tagName.toLowerCase()}${classes ? "." + classes : ""}> "${(el.innerText || "").slice(0, 60)}"`;
}

/** Fails when a visible element of the screen (or the dialog, or the box ``rootSelector``)
 * ends beyond the right edge of the phone, or the page itself can be scrolled sideways. */
function fitsThePhone(label, trigger, rootSelector = null) {
    return {
        content: `${label}: nothing runs off the right edge of the phone`,
        trigger,
        run: () => {
            const width = document.documentElement.clientWidth;
            if (window.innerWidth > 400) {
                throw new Error(`The tour expects a phone, the window is ${window.innerWidth} px wide`);
            }
            const root =
                (rootSelector && document.querySelector(rootSelector)) ||
                document.querySelector(".modal .modal-dialog") ||
                document.querySelector(".o_action_manager");
            const wide = [root, ...root.querySelectorAll("*")].filter((el) => {
                const box = el.getBoundingClientRect();
                return box.width > 0 && box.height > 0 && box.right > width + 1 && !contained(el, root, width);
            });
            if (wide.length) {
                // The innermost ones say what is too wide; their containers only follow.
                const culprits = wide.filter((el) => !wide.some((other) => other !== el && el.contains(other)));
                const names = culprits.slice(0, 5).map(describe).join(", ");
                throw new Error(`${label}: ${culprits.length} element(s) run off the ${width} px screen: ${names}`);
            }
            const content = document.querySelector(".o_action_manager .o_content");
            if (content && content.scrollWidth > content.clientWidth + 1) {
                throw new Error(`${label}: the screen scrolls sideways (${content.scrollWidth} px in ${content.clientWidth} px)`);
            }
        },
    };
}

/** The button is a visible button on the screen, not an entry of a menu. A disabled button
 * takes no tour step: ``trigger`` then names an enabled element shown with it. */
function visibleButton(content, selector, trigger = selector) {
    return {
        content,
        trigger,
        run: () => {
            const button = document.querySelector(selector);
            const box = button.getBoundingClientRect();
            if (button.closest(".dropdown-menu, .o-dropdown--menu") || box.left < 0 || box.right > document.documentElement.clientWidth) {
                throw new Error(`${content}: the button is hidden in a menu or off the screen`);
            }
        },
    };
}

// A QA Lead on a phone (390 x 844): My approvals, the request's form, the decision dialog.
tours.add("influencegen_release_phone_approvals", {
    steps: () => [
        { content: "My approvals shows the request", trigger: ".o_igr_my_approvals .o_igr_approval_card .o_igr_checksum:not(:empty)" },
        // Reject needs a reason: with one written on the card, both buttons are enabled.
        { content: "A comment on the card", trigger: ".o_igr_approval_card .o_igr_comment", run: "edit Looked at it" },
        visibleButton("Approve is a button on the card", ".o_igr_approval_card .o_igr_approve:enabled"),
        visibleButton("Reject is a button on the card", ".o_igr_approval_card .o_igr_reject:enabled"),
        fitsThePhone("My approvals", ".o_igr_approval_card"),
        { content: "Open the request", trigger: ".o_igr_approval_card .card-header a", run: "click" },
        { content: "The request's form", trigger: ".o_form_view .o_field_widget[name='artifact_sha256']" },
        visibleButton("Approve is a button of the form", ".o_form_view .o_igr_decide button[name='action_approve']"),
        visibleButton("Reject is a button of the form", ".o_form_view .o_igr_decide button[name='action_reject']"),
        fitsThePhone("The request's form", ".o_form_view .o_form_sheet"),
        { content: "Approve", trigger: ".o_form_view .o_igr_decide button[name='action_approve']", run: "click" },
        { content: "The decision dialog", trigger: ".modal .o_field_widget[name='comment'] textarea" },
        visibleButton("Confirm is a button of the dialog", ".modal button[name='action_confirm']"),
        fitsThePhone("The decision dialog", ".modal .o_field_widget[name='summary']"),
        { content: "Say why", trigger: ".modal .o_field_widget[name='comment'] textarea", run: "edit Checked on my phone" },
        { content: "Confirm", trigger: ".modal button[name='action_confirm']", run: "click" },
        { content: "The request is approved", trigger: ".o_form_view:not(:has(.modal)) .o_statusbar_status button.o_arrow_button_current:contains('Approved')" },
    ],
});

// The card with what is approved (issue 18, items 2 to 4) on a phone: the facts wrap, Record
// UAT session, Approve and Reject are buttons on the screen, the session's dialog fits.
tours.add("influencegen_release_phone_uat_card", {
    steps: () => [
        { content: "The card says what is approved", trigger: ".o_igr_approval_card .o_igr_commits .o_igr_commit_line:contains('Add a smoke check')" },
        visibleButton("Record UAT session is a button on the card", ".o_igr_approval_card .o_igr_record_uat"),
        { content: "Approve waits for the evidence and says why", trigger: ".o_igr_approval_card:has(.o_igr_approve:disabled) .o_igr_approve_why:contains('UAT session')" },
        fitsThePhone("The approval card", ".o_igr_approval_card .o_igr_approvers"),
        { content: "Record the UAT session", trigger: ".o_igr_approval_card .o_igr_record_uat", run: "click" },
        { content: "Add a scenario", trigger: ".modal .o_field_x2many_list_row_add a", run: "click" },
        { content: "Name it", trigger: ".modal .o_field_widget[name='name'] input", run: "edit Invoice a sales order" },
        { content: "It passed", trigger: ".modal .o_field_widget[name='result'] select", run: "select \"pass\"" },
        fitsThePhone("The UAT session dialog", ".modal .o_form_view"),
        { content: "Submit the evidence", trigger: ".modal button[name='action_submit']", run: "click" },
        { content: "Back on the card", trigger: "body:not(:has(.modal)) .o_igr_approval_card .o_igr_uat:contains('Passed')" },
        { content: "Say why", trigger: ".o_igr_approval_card .o_igr_comment", run: "edit Checked on my phone" },
        // A disabled button takes no tour action: Approve and Reject are measured once enabled.
        visibleButton("Approve is a button on the card", ".o_igr_approval_card .o_igr_approve:enabled"),
        visibleButton("Reject is a button on the card", ".o_igr_approval_card .o_igr_reject:enabled"),
        { content: "Approve", trigger: ".o_igr_approval_card .o_igr_approve:enabled", run: "click" },
        { content: "Nothing awaits any more", trigger: ".o_igr_my_approvals .o_igr_nothing" },
    ],
});

// Issue 18, items 1, 3 and 5 on a phone: the approver is told (the activity menu's badge, the
// decision due today, the Discuss inbox's message), the request's activity closes by a vote
// only, and from the activity to a recorded decision takes at most 2 clicks; each screen fits.
tours.add("influencegen_release_phone_approval_told", {
    steps: () => [
        ...toldSteps(),
        fitsThePhone("The activity menu", ".o-mail-ActivityGroup[data-model_name='release.approval']", ".o-mail-ActivityMenu"),
    ],
});

tours.add("influencegen_release_phone_approval_inbox", {
    steps: () => [...inboxSteps(), fitsThePhone("The Discuss inbox", ".o-mail-Message:contains('Your decision is requested')")],
});

tours.add("influencegen_release_phone_approval_no_mark_done", {
    steps: () => [
        ...noMarkDoneSteps(),
        visibleButton("Approve is a button of the form", ".o_form_view .o_igr_decide button[name='action_approve']"),
        fitsThePhone("The request's form and its activity", ".o-mail-Activity .o_igr_decide_hint"),
    ],
});

tours.add("influencegen_release_phone_two_clicks", {
    steps: () =>
        twoClicksSteps([
            { content: "The card says what is approved", trigger: ".o_igr_approval_card .o_igr_commits .o_igr_commit_line:contains('Add a smoke check')" },
            visibleButton("Approve is a button on the card", ".o_igr_approval_card .o_igr_approve:enabled"),
            // Reject waits for a reason: it is measured beside the enabled Approve.
            visibleButton("Reject is a button on the card", ".o_igr_approval_card .o_igr_reject", ".o_igr_approval_card .o_igr_approve:enabled"),
            fitsThePhone("My approvals", ".o_igr_approval_card .o_igr_approvers"),
        ]),
});
