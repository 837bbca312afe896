import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// Opens Release > Runs, then Configuration > Pipelines and the PL-ODOO-MOD form, checking
// that the seed pipeline shows its stages, then a runner host's form.
registry.category("web_tour.tours").add("influencegen_release_runs_and_pipeline", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Release app",
            trigger: ".o_app[data-menu-xmlid='influencegen_release.menu_release_root']",
            run: "click",
        },
        {
            content: "Runs is the app's first screen",
            trigger: ".o_breadcrumb:contains('Runs')",
        },
        {
            content: "Open the Configuration menu",
            trigger: ".o_main_navbar button:contains('Configuration')",
            run: "click",
        },
        {
            content: "Open Pipelines",
            trigger: ".dropdown-item[data-menu-xmlid='influencegen_release.menu_release_pipelines']",
            run: "click",
        },
        {
            content: "Open the Odoo modules pipeline",
            trigger: ".o_list_view .o_data_row td[name='code']:contains('PL-ODOO-MOD')",
            run: "click",
        },
        {
            content: "The form shows the pipeline's name",
            trigger: ".o_form_view .o_field_widget[name='name'] input:value('Odoo Custom Modules CI/CD Pipeline')",
        },
        {
            content: "Its eight stages are listed, ending with production",
            trigger: ".o_field_widget[name='stage_ids'] .o_data_row:nth-child(8) td[name='name']:contains('Deploy to Production')",
        },
        {
            content: "The production stage deploys to the production environment",
            trigger: ".o_field_widget[name='stage_ids'] .o_data_row:nth-child(8) td[name='environment_id']:contains('Odoo Production')",
        },
        {
            content: "Open the Configuration menu again",
            trigger: ".o_main_navbar button:contains('Configuration')",
            run: "click",
        },
        {
            content: "Open Runner hosts",
            trigger: ".dropdown-item[data-menu-xmlid='influencegen_release.menu_release_runners']",
            run: "click",
        },
        {
            content: "Open the local engine",
            trigger: ".o_list_view .o_data_row td[name='name']:contains('Local Docker engine')",
            run: "click",
        },
        {
            content: "The runner form shows its engine URL",
            trigger: ".o_form_view .o_field_widget[name='docker_url'] input:value('unix:///var/run/docker.sock')",
        },
    ],
});

// A QA Lead opens Release > Approvals, finds the request awaiting them and approves it with
// a comment in the decision dialog; the request shows as approved, with the decision listed.
registry.category("web_tour.tours").add("influencegen_release_approve", {
    url: "/odoo/action-influencegen_release.action_release_approval",
    steps: () => [
        {
            content: "The pending request is listed with what it awaits",
            trigger: ".o_list_view .o_data_row td[name='approver_status']:contains('QA Lead: 0 of 1')",
            run: "click",
        },
        {
            content: "The request says what is released",
            trigger: ".o_form_view .o_field_widget[name='environment_id']:contains('Tour Staging')",
        },
        {
            content: "Approve",
            trigger: ".o_form_view button[name='action_approve']",
            run: "click",
        },
        {
            content: "Say why",
            trigger: ".modal .o_field_widget[name='comment'] textarea",
            run: "edit Scenarios passed on staging",
        },
        {
            content: "Confirm the decision",
            trigger: ".modal button[name='action_confirm']",
            run: "click",
        },
        {
            content: "The request is approved",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Approved')",
        },
        {
            content: "What is approved comes first; the decisions are on their own tab",
            trigger: ".o_form_view .o_notebook a.nav-link:contains('Decisions')",
            run: "click",
        },
        {
            content: "The decision is listed with its comment",
            trigger: ".o_field_widget[name='vote_ids'] .o_data_row td[name='comment']:contains('Scenarios passed on staging')",
        },
    ],
});
