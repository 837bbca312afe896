import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");
const PROD = ".o_igr_dora_row[data-pipeline='[PL-DORA] DORA pipeline'][data-environment='DORA Production']";

// A Release User reads DORA's four keys of the deployments tests/dora_common.py made, then
// the pivot and the graph behind them.
tours.add("influencegen_release_dora_dashboard", {
    steps: () => [
        { content: "Open the Reporting menu", trigger: ".o_main_navbar button:contains('Reporting')", run: "click" },
        {
            content: "Open DORA metrics",
            trigger: ".dropdown-item[data-menu-xmlid='influencegen_release.menu_release_dora_dashboard']",
            run: "click",
        },
        { content: "Production comes first", trigger: `.o_igr_dora tbody tr:first-child${PROD}` },
        { content: "Deployment frequency", trigger: `${PROD} .o_igr_frequency:contains('3.0 per month'):contains('3 successful')` },
        { content: "Lead time for changes", trigger: `${PROD} .o_igr_lead_time:contains('3.3 h')` },
        { content: "Change failure rate", trigger: `${PROD} .o_igr_failure_rate:contains('60 %'):contains('3 of 5')` },
        { content: "Time to restore", trigger: `${PROD} .o_igr_restore_time:contains('2.5 h')` },
        { content: "Staging has its own keys", trigger: ".o_igr_dora_row[data-environment='DORA Staging'] .o_igr_failure_rate:contains('0 %')" },
        { content: "Over 90 days", trigger: ".o_igr_period[data-days='90']", run: "click" },
        { content: "The period is shown", trigger: ".o_igr_period.active[data-days='90']" },
        { content: "90 days include a deployment of 40 days ago", trigger: `${PROD} .o_igr_frequency:contains('1.3 per month'):contains('4 successful')` },
        { content: "Open the pivot", trigger: ".o_igr_open_pivot", run: "click" },
        { content: "The pivot shows production by pipeline", trigger: ".o_pivot .o_pivot_header_cell_closed:contains('DORA pipeline'), .o_pivot th:contains('DORA pipeline')" },
        { content: "with the four keys as measures", trigger: ".o_pivot th:contains('Change failure rate (%)')" },
        { content: "Switch to the graph", trigger: ".o_switch_view.o_graph", run: "click" },
        { content: "The deployment frequency graph", trigger: ".o_graph_renderer canvas" },
    ],
});
