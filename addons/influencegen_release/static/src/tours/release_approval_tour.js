import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");
const CARD = ".o_igr_approval_card";

// Issue 18, item 1: a QA Lead is told. The decision is wanted now: it counts on the activity
// menu's badge as "Today", and the Discuss inbox holds the request's message with the summary.
export const toldSteps = () => [
    { content: "The activity menu's badge counts the decision", trigger: ".o_menu_systray .o-mail-ActivityMenu-counter:contains('1')" },
    { content: "Open the activities", trigger: ".o_menu_systray i[aria-label='Activities']", run: "click" },
    {
        content: "The release decision is due today, not in the future",
        trigger: ".o-mail-ActivityGroup[data-model_name='release.approval'] span:contains('1 Today')",
    },
];
tours.add("influencegen_release_approval_told", { steps: toldSteps });

export const inboxSteps = () => [
    {
        content: "The Discuss inbox holds the request, with what to decide and a link",
        trigger: ".o-mail-Message:contains('Your decision is requested'):contains('Add a smoke check') a[href='/odoo/release-my-approvals']",
    },
];
tours.add("influencegen_release_approval_inbox", { steps: inboxSteps });

// Item 1: the request's chatter offers no Mark Done (nor Cancel) on the decision activity:
// it closes with Approve or Reject.
export const noMarkDoneSteps = () => [
    { content: "The request's activity", trigger: ".o-mail-Activity:contains('Decide:')" },
    { content: "says how it closes", trigger: ".o-mail-Activity .o_igr_decide_hint" },
    {
        content: "and has no Mark Done or Cancel",
        trigger: ".o-mail-Activity:not(:has(.o-mail-Activity-markDone)):not(:has(button.btn-danger))",
    },
];
// Item 2 on the request's form and its decision dialog, item 3 in the dialog: what is
// approved, and Approve explains what is missing instead of failing on Confirm.
tours.add("influencegen_release_approval_no_mark_done", {
    steps: () => [
        ...noMarkDoneSteps(),
        { content: "The form says what is approved", trigger: ".o_form_view .o_notebook a.nav-link:contains('What you approve')", run: "click" },
        { content: "the commits since the running version", trigger: ".o_form_view .o_field_widget[name='summary']:contains('Add a smoke check'):contains('Fix the invoice total')" },
        { content: "and each approver by name", trigger: ".o_form_view .o_field_widget[name='summary']:contains('Jane Doe')" },
        { content: "Approve is the way out", trigger: ".o_form_view .o_form_statusbar button[name='action_approve']", run: "click" },
        { content: "The dialog says what is approved too", trigger: ".modal .o_field_widget[name='summary']:contains('Add a smoke check')" },
        { content: "and that the UAT evidence is missing, with the way to record it", trigger: ".modal .o_igr_evidence_missing button[name='action_record_uat']" },
        { content: "no Confirm until then", trigger: ".modal:not(:has(button[name='action_confirm'])) .modal-footer button:contains('Discard')", run: "click" },
        { content: "The request still waits", trigger: "body:not(:has(.modal)) .o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Pending')" },
    ],
});

// Items 2, 3 and 4: a QA Lead reads what they approve on the card, in names and local time,
// copies a commit, records the UAT session from the card, and approves.
tours.add("influencegen_release_approval_uat_inline", {
    steps: () => [
        { content: "The commits since the running version", trigger: `${CARD} .o_igr_commits .o_igr_commit_line:contains('Add a smoke check'):contains('Dev Eloper')` },
        { content: "both of them", trigger: `${CARD} .o_igr_commits .o_igr_commit_line:contains('Fix the invoice total')` },
        { content: "what the target runs now", trigger: `${CARD} .o_igr_running:contains('1.0.0')` },
        { content: "the test totals", trigger: `${CARD} .o_igr_tests:contains('72: 72 passed, 0 failed')` },
        { content: "each gate", trigger: `${CARD} .o_igr_gates:contains('Build passes: passed')` },
        { content: "new findings with links", trigger: `${CARD} .o_igr_findings a[href*='action_release_finding']:contains('sql-injection')` },
        { content: "the rollback plan", trigger: `${CARD} .o_igr_rollback:contains('back to 1.0.0')` },
        { content: "approvers by role name and person", trigger: `${CARD} .o_igr_approvers:contains('QA Lead: 0 of 1'):contains('Jane Doe'):contains('pending')` },
        { content: "no role keys", trigger: `${CARD} .o_igr_approvers:not(:contains('qa_lead'))` },
        { content: "the deadline in the user's time zone", trigger: `${CARD} .o_igr_deadline:contains('Europe/Brussels')` },
        {
            content: "short shas, whole in the title; copy copies the whole sha",
            trigger: `${CARD} .o_igr_commit .o_igr_copy`,
            run: async () => {
                const code = document.querySelector(`${CARD} .o_igr_commit code.o_igr_sha`);
                if (code.innerText.trim().length !== 12 || code.title.length !== 40) {
                    throw new Error(`expected a 12-character sha titled with 40, got "${code.innerText}" / "${code.title}"`);
                }
                // Headless Chrome grants no clipboard: record what the button writes.
                navigator.clipboard.writeText = async (text) => {
                    document.body.dataset.igrCopied = text;
                };
                document.querySelector(`${CARD} .o_igr_commit .o_igr_copy`).click();
            },
        },
        { content: "the whole sha was copied", trigger: "body[data-igr-copied]:not([data-igr-copied=''])" },
        { content: "Approve waits for the evidence", trigger: `${CARD} .o_igr_approve:disabled` },
        { content: "and says why", trigger: `${CARD} .o_igr_approve_why:contains('UAT session')` },
        { content: "Record the UAT session from the card", trigger: `${CARD} .o_igr_record_uat`, run: "click" },
        { content: "Add a scenario", trigger: ".modal .o_field_x2many_list_row_add a", run: "click" },
        { content: "Name it", trigger: ".modal .o_data_row .o_field_widget[name='name'] input", run: "edit Invoice a sales order" },
        { content: "It passed", trigger: ".modal .o_data_row .o_field_widget[name='result'] select", run: "select \"pass\"" },
        { content: "Submit the evidence", trigger: ".modal button[name='action_submit']", run: "click" },
        { content: "Back on the card: the UAT result and tester", trigger: `body:not(:has(.modal)) ${CARD} .o_igr_uat:contains('Passed'):contains('Jane Doe')` },
        { content: "Say why", trigger: `${CARD} .o_igr_comment`, run: "edit Invoicing works on staging" },
        { content: "Approve is enabled now", trigger: `${CARD} .o_igr_approve:enabled`, run: "click" },
        { content: "Nothing awaits any more", trigger: ".o_igr_my_approvals .o_igr_nothing" },
    ],
});

// Item 3: from the activity to a recorded decision in at most 2 clicks once the evidence
// exists. Counting starts with the activity in view (the activity menu open). ``onTheCard``:
// steps that only look (no click) at the card before Approve, as the phone's layout checks.
export const twoClicksSteps = (onTheCard = []) => [
    { content: "Open the activities", trigger: ".o_menu_systray i[aria-label='Activities']", run: "click" },
    {
        content: "The activity is in view: count the clicks from here",
        trigger: ".o-mail-ActivityGroup[data-model_name='release.approval']",
        run: () => {
            document.body.dataset.igrClicks = "0";
            document.addEventListener("click", () => (document.body.dataset.igrClicks = String(Number(document.body.dataset.igrClicks) + 1)), true);
        },
    },
    { content: "1: the activity", trigger: ".o-mail-ActivityGroup[data-model_name='release.approval']", run: "click" },
    ...onTheCard,
    { content: "2: Approve", trigger: `${CARD} .o_igr_approve:enabled`, run: "click" },
    { content: "The decision is recorded", trigger: ".o_igr_my_approvals .o_igr_nothing" },
    {
        content: "in at most 2 clicks",
        trigger: "body[data-igr-clicks]",
        run: () => {
            const clicks = Number(document.body.dataset.igrClicks);
            if (clicks > 2) {
                throw new Error(`${clicks} clicks from the activity to the decision (at most 2)`);
            }
        },
    },
];
tours.add("influencegen_release_approval_two_clicks", { steps: () => twoClicksSteps() });
