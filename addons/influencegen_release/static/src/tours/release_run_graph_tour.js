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
