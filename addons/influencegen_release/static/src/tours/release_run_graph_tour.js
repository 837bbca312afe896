import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");
const BUILD = ".o_igr_run_graph .o_igr_stage[data-stage='Build and test']";
const STAGING = ".o_igr_run_graph .o_igr_stage[data-stage='Deploy to Graph Staging']";
const UNIT = `${BUILD} .o_igr_job:has(.o_igr_job_name:contains('Unit tests'))`;

/** Fails when a state badge of the graph shows less than its words (cut with an ellipsis). */
function badgesReadWhole() {
    return {
        content: "Every state is read whole: no badge is cut",
        trigger: `${BUILD} .o_igr_job_state`,
        run: () => {
            const cut = [...document.querySelectorAll(".o_igr_run_graph .badge")].filter(
                (badge) => badge.scrollWidth > badge.clientWidth + 1 || getComputedStyle(badge).textOverflow === "ellipsis"
            );
            if (cut.length) {
                throw new Error(`Badges cut: ${cut.map((badge) => badge.innerText).join(", ")}`);
            }
        },
    };
}

// A Release User reads a run whose tests job exited 0 with 8 of 72 tests failed: the gate
// failed, so the stage and the job are red; the deploy stage was never reached. From the
// gate's line (the form's Quality gates tab, then the graph) to the findings it judged.
tours.add("influencegen_release_run_graph_truth", {
    steps: () => [
        { content: "Open the Quality gates tab", trigger: ".o_form_view .o_notebook a.nav-link:contains('Quality gates')", run: "click" },
        { content: "The gate's line links to its findings", trigger: ".o_field_widget[name='gate_result_ids'] button[name='action_open_findings']", run: "click" },
        { content: "A new finding", trigger: ".o_list_view .o_data_row:contains('E1101'):contains('New')" },
        { content: "one still there", trigger: ".o_list_view .o_data_row:contains('C0301'):contains('Still there')" },
        { content: "and one the run fixed", trigger: ".o_list_view .o_data_row:contains('W0611'):contains('Fixed')" },
        { content: "Back to the run", trigger: ".o_back_button", run: "click" },
        { content: "Open the run graph", trigger: ".o_form_view button[name='action_open_graph']", run: "click" },
        { content: "The stage whose gate failed is failed", trigger: `${BUILD}[data-state='failed'] .o_igr_stage_state:contains('failed')` },
        { content: "its gate", trigger: `${BUILD} .o_igr_gate[data-result='failed']:contains('Tests pass: failed')` },
        { content: "the job the gate read is red", trigger: `${UNIT}[data-verdict='failed'] .o_igr_job_state:contains('gate failed')` },
        { content: "with its tests", trigger: `${UNIT} .o_igr_tests.text-danger:contains('64 of 72 tests passed')` },
        { content: "and why", trigger: `${UNIT} .o_igr_job_gate:contains('gate Tests pass failed')` },
        { content: "Its queue time", trigger: `${UNIT} .o_igr_queue:contains('queued 30.0 s')` },
        { content: "its start", trigger: `${UNIT} .o_igr_started:not(:empty)` },
        { content: "and duration", trigger: `${UNIT} .o_igr_duration:contains('2 min 5 s')` },
        { content: "The stage's timing", trigger: `${BUILD} .card-header .o_igr_duration:contains('2 min 5 s')` },
        { content: "The deploy stage was not reached", trigger: `${STAGING}[data-state='not_reached'] .o_igr_stage_state:contains('not reached')` },
        { content: "nor its job, without an exit code", trigger: `${STAGING} .o_igr_job[data-verdict='not_reached']:not(:has(.o_igr_exit)) .o_igr_job_state:contains('not reached')` },
        { content: "nor its gate", trigger: `${STAGING} .o_igr_gate[data-result='not_reached']:contains('Deployed: not reached')` },
        badgesReadWhole(),
        { content: "The gate links to its findings", trigger: `${BUILD} .o_igr_gate_findings:contains('3 findings')`, run: "click" },
        { content: "They are listed, fixed ones too", trigger: ".o_list_view .o_data_row:contains('W0611'):contains('Fixed')" },
    ],
});

// A QA Lead decides the stage that waits for them from the run graph, with the request's
// own dialog; the graph says how long the run has waited instead of a duration.
tours.add("influencegen_release_run_graph_decide", {
    steps: () => [
        { content: "The form shows how long the run waits", trigger: ".o_form_view .o_field_widget[name='waiting_s']" },
        { content: "not a duration", trigger: ".o_form_view:not(:has(.o_field_widget[name='duration_s']))" },
        { content: "Open the run graph", trigger: ".o_form_view button[name='action_open_graph']", run: "click" },
        { content: "The run waits for approval, and since when", trigger: ".o_igr_waiting:contains('waiting for approval for'):contains('since')" },
        { content: "The build ran, and for how long", trigger: ".o_igr_stage[data-stage='Build'] .card-header .o_igr_duration" },
        { content: "Approve the waiting stage", trigger: ".o_igr_stage[data-stage='Staging'] .o_igr_approve", run: "click" },
        { content: "Say why", trigger: ".modal .o_field_widget[name='comment'] textarea", run: "edit Approved from the run graph" },
        { content: "Confirm", trigger: ".modal button[name='action_confirm']", run: "click" },
        { content: "The stage is approved: no more buttons", trigger: ".o_igr_stage[data-stage='Staging'] .o_igr_approval:contains('approved')" },
        { content: "No decision left", trigger: ".o_igr_run_graph:not(:has(.o_igr_approve)) .o_igr_run" },
    ],
});

const NEEDS_JOB = (name) => `.o_igr_run_graph .o_igr_job:has(.o_igr_job_name:contains('${name}'))`;

/** The one `needs` curve runs from the right edge of Compile's card to the left edge of
 * Unit's card (within a few pixels), and no other curve is drawn. */
function needsEdgeJoinsTheCards() {
    return {
        content: "One curve, from Compile's card to Unit's card",
        trigger: ".o_igr_run_graph svg.o_igr_needs path.o_igr_need",
        run: () => {
            const paths = document.querySelectorAll(".o_igr_run_graph svg.o_igr_needs path.o_igr_need");
            const card = (name) =>
                [...document.querySelectorAll(".o_igr_run_graph .o_igr_job")].find((job) => job.querySelector(".o_igr_job_name").innerText.trim() === name);
            const compile = card("Compile");
            const unit = card("Unit");
            if (paths.length !== 1) {
                throw new Error(`expected one needs edge, got ${paths.length}`);
            }
            const path = paths[0];
            if (path.dataset.from !== compile.dataset.jobId || path.dataset.to !== unit.dataset.jobId) {
                throw new Error(`the edge joins jobs ${path.dataset.from} -> ${path.dataset.to}, not Compile -> Unit`);
            }
            const origin = path.ownerSVGElement.getBoundingClientRect();
            const start = path.getPointAtLength(0);
            const end = path.getPointAtLength(path.getTotalLength());
            const from = compile.getBoundingClientRect();
            const to = unit.getBoundingClientRect();
            const near = (a, b) => Math.abs(a - b) <= 3;
            if (!near(origin.left + start.x, from.right) || !(from.top <= origin.top + start.y && origin.top + start.y <= from.bottom)) {
                throw new Error(`the edge starts at ${start.x},${start.y}, not on Compile's right edge`);
            }
            if (!near(origin.left + end.x, to.left) || !(to.top <= origin.top + end.y && origin.top + end.y <= to.bottom)) {
                throw new Error(`the edge ends at ${end.x},${end.y}, not on Unit's left edge`);
            }
            if (getComputedStyle(path).stroke === "none" || getComputedStyle(path).visibility === "hidden") {
                throw new Error("the edge is not drawn");
            }
        },
    };
}

// Issue 18, item 6 with the `needs:` of the pipeline format: Unit needs only Compile and ran
// while Slow still runs; the graph draws that edge and says it in words on Unit's card.
tours.add("influencegen_release_run_graph_needs", {
    steps: () => [
        { content: "Open the run graph", trigger: ".o_form_view button[name='action_open_graph']", run: "click" },
        { content: "Slow still runs", trigger: `${NEEDS_JOB("Slow")}[data-state='running']` },
        { content: "Unit already ran", trigger: `${NEEDS_JOB("Unit")}[data-state='succeeded']` },
        { content: "and says what it needs", trigger: `${NEEDS_JOB("Unit")} .o_igr_job_needs:contains('needs Compile')` },
        { content: "E2E needs nothing", trigger: `${NEEDS_JOB("E2E")}:not(:has(.o_igr_job_needs))` },
        needsEdgeJoinsTheCards(),
    ],
});

// Item 8: the Findings menu as a Release User reads it: grouped by run, found by rule, file
// and tool, filtered by novelty versus the baseline and by severity.
function searchFor(text, field) {
    return [
        { content: `Search ${text}`, trigger: ".o_searchview_input", run: `edit ${text}` },
        { content: `in ${field}`, trigger: `.o_searchview_autocomplete .o_menu_item:contains('Search ${field}')`, run: "click" },
    ];
}

function filterBy(label) {
    return [
        { content: "Open the filters", trigger: ".o_searchview_dropdown_toggler", run: "click" },
        { content: `Filter: ${label}`, trigger: `.o_filter_menu .o_menu_item:contains('${label}')`, run: "click" },
        { content: "Close the filters", trigger: ".o_searchview_dropdown_toggler", run: "click" },
    ];
}

tours.add("influencegen_release_findings_by_run", {
    steps: () => [
        { content: "Grouped by run: the baseline and the failed run", trigger: ".o_list_view .o_group_header:contains('PL-GRAPH #') ~ .o_group_header:contains('PL-GRAPH #')" },
        ...searchFor("E1101", "Rule"),
        ...searchFor("models/c.py", "File"),
        ...searchFor("pylint", "Tool"),
        ...filterBy("New versus baseline"),
        ...filterBy("Medium"),
        { content: "One run left: open it", trigger: ".o_list_view:not(:has(.o_group_header ~ .o_group_header)) .o_group_header:contains('PL-GRAPH #')", run: "click" },
        { content: "Its new finding", trigger: ".o_list_view .o_data_row:contains('E1101'):contains('models/c.py'):contains('New')" },
        { content: "and nothing else", trigger: ".o_list_view:not(:has(.o_data_row:contains('C0301')))" },
    ],
});
