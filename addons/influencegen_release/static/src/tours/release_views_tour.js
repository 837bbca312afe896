import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");
const BUILD = ".o_igr_run_graph .o_igr_stage[data-stage='Build']";
const STAGING_ENV = ".o_igr_board tr[data-kind='odoo'] .o_igr_environment[data-code='views-staging']";

// Run graph of a running job: the build finishes on the server (tests/test_views_tours.py)
// and the graph shows it through the bus; then the job's log: ANSI colours, first error,
// search beyond the loaded page, download link.
tours.add("influencegen_release_run_graph_live", {
    steps: () => [
        { content: "Open the run graph", trigger: ".o_form_view button[name='action_open_graph']", run: "click" },
        { content: "The build job is running", trigger: `${BUILD} .o_igr_job[data-state='running'] .o_igr_job_name:contains('Compile')` },
        { content: "Its gate waits", trigger: `${BUILD} .o_igr_gate:contains('Build passes: pending')` },
        { content: "A Release Manager may cancel the run", trigger: ".o_igr_run_graph .o_igr_cancel" },
        {
            content: "The build finishes on the server: the card changes without a reload",
            trigger: `${BUILD} .o_igr_job[data-state='succeeded']`,
            timeout: 60000,
        },
        { content: "The gate passed", trigger: `${BUILD} .o_igr_gate:contains('Build passes: passed')` },
        {
            content: "The staging approval is asked for",
            trigger: ".o_igr_stage[data-stage='Staging'] .o_igr_approval:contains('pending')",
        },
        { content: "The run waits for it", trigger: ".o_igr_run_state[data-state='waiting_approval']:contains('waiting for approval')" },
        { content: "Cancel the run", trigger: ".o_igr_run_graph .o_igr_cancel", run: "click" },
        { content: "Confirm", trigger: ".modal button.btn-primary:contains('Cancel run')", run: "click" },
        { content: "Cancelling is asked for: no second cancel", trigger: ".o_igr_run_graph:not(:has(.o_igr_cancel)) .o_igr_run" },
        { content: "Open the job's log", trigger: `${BUILD} .o_igr_job[data-state='succeeded']`, run: "click" },
        { content: "The log opens at its tail, in colour", trigger: ".o_igr_log .o_igr_line:last-of-type .o_igr_fg2:contains('build finished')" },
        { content: "Earlier lines load on demand", trigger: ".o_igr_log .o_igr_older" },
        { content: "Jump to the first error", trigger: ".o_igr_first_error", run: "click" },
        {
            content: "The error line, far before the tail, is shown in bold red",
            trigger: ".o_igr_current .o_igr_fg1.fw-bold:contains('ERROR: module views_demo failed to install')",
        },
        { content: "Search", trigger: "input.o_igr_search", run: "edit step 0011000" },
        { content: "Find next", trigger: ".o_igr_find", run: "click" },
        { content: "The match is shown", trigger: ".o_igr_current:contains('step 0011000')" },
        { content: "The raw log can be downloaded", trigger: ".o_igr_download[href$='/log']" },
    ],
});

// A Release User watches the log of a running job: new lines arrive through the bus.
tours.add("influencegen_release_log_follow", {
    steps: () => [
        { content: "Open the log", trigger: ".o_form_view button[name='action_open_log']", run: "click" },
        { content: "It opens at the tail", trigger: ".o_igr_log .o_igr_line:last-of-type:contains('step 0012099')" },
        { content: "and follows it while the job runs", trigger: "input.o_igr_follow:checked" },
        {
            content: "A new line is written on the server: it appears",
            trigger: ".o_igr_log .o_igr_line:last-of-type .o_igr_fg6:contains('linking views_demo')",
            timeout: 60000,
        },
    ],
});

// A Release User reads the run graph: no cancel or retry button.
tours.add("influencegen_release_viewer", {
    steps: () => [
        { content: "No cancel button on the form", trigger: ".o_form_view:not(:has(button[name='action_cancel'])) button[name='action_open_graph']", run: "click" },
        { content: "The graph shows the running job", trigger: `${BUILD} .o_igr_job[data-state='running']` },
        { content: "Without cancel or retry", trigger: ".o_igr_run_graph:not(:has(.o_igr_cancel)):not(:has(.o_igr_retry)) .o_igr_run" },
    ],
});

// A Release User reads the environment board: versions, no rollback button; nothing awaits them.
tours.add("influencegen_release_viewer_board", {
    steps: () => [
        { content: "The deployed version is shown", trigger: `${STAGING_ENV} .o_igr_current:contains('1.0.1')` },
        { content: "Without a rollback button", trigger: `.o_igr_environment_board:not(:has(.o_igr_rollback)) ${STAGING_ENV}` },
        { content: "Open the Approvals menu", trigger: ".o_main_navbar button:contains('Approvals')", run: "click" },
        {
            content: "Open My approvals",
            trigger: ".dropdown-item[data-menu-xmlid='influencegen_release.menu_release_my_approvals']",
            run: "click",
        },
        { content: "Nothing awaits a Release User", trigger: ".o_igr_my_approvals .o_igr_nothing" },
    ],
});

// A QA Lead opens the decision activity from the inbox and approves with a comment.
tours.add("influencegen_release_my_approvals", {
    steps: () => [
        { content: "Open the activities", trigger: ".o_menu_systray i[aria-label='Activities']", run: "click" },
        { content: "Open the release decisions", trigger: ".o-mail-ActivityGroup[data-model_name='release.approval']", run: "click" },
        { content: "The request names its environment", trigger: ".o_igr_approval_card .o_igr_environment:contains('Views Staging')" },
        { content: "and the checksum it binds to", trigger: ".o_igr_approval_card .o_igr_checksum:not(:empty)" },
        { content: "and the findings", trigger: ".o_igr_approval_card .o_igr_findings:contains('0 critical')" },
        { content: "and the window", trigger: ".o_igr_approval_card .o_igr_window:contains('no maintenance window')" },
        { content: "Say why on the card", trigger: ".o_igr_approval_card .o_igr_comment", run: "edit Staging checked from my approvals" },
        { content: "Approve: the decision is recorded at once", trigger: ".o_igr_approval_card .o_igr_approve:enabled", run: "click" },
        { content: "Nothing awaits any more", trigger: ".o_igr_my_approvals .o_igr_nothing" },
    ],
});

// A Release Manager reads the board, checks drift (the target has no URL: unknown) and
// rolls back (the target cannot be reached: the failed rollback is shown and recorded).
tours.add("influencegen_release_environment_board", {
    steps: () => [
        { content: "The deployed version", trigger: `${STAGING_ENV} .o_igr_current:contains('1.0.1')` },
        { content: "The last deploy and its outcome", trigger: `${STAGING_ENV} .o_igr_last:contains('Deployed')` },
        { content: "The target served throughout", trigger: `${STAGING_ENV} .o_igr_downtime:contains('no downtime')` },
        { content: "Drift is not read until asked", trigger: `${STAGING_ENV} .o_igr_drift:contains('not checked')` },
        { content: "Check drift", trigger: `${STAGING_ENV} .o_igr_check`, run: "click" },
        { content: "The target does not answer: unknown", trigger: `${STAGING_ENV} .o_igr_drift:contains('unknown')` },
        { content: "and why", trigger: `${STAGING_ENV} .o_igr_drift_details:contains('needs a URL')` },
        { content: "Roll back", trigger: `${STAGING_ENV} .o_igr_rollback`, run: "click" },
        { content: "Confirm", trigger: ".modal button.btn-primary:contains('Roll back')", run: "click" },
        { content: "The failure is reported", trigger: ".o_notification:contains('The rollback failed')" },
        { content: "and shown as the last deploy", trigger: `${STAGING_ENV} .o_igr_last:contains('rollback'):contains('Failed')` },
    ],
});

// The pipeline definition: stages, tasks and gates beside the YAML.
tours.add("influencegen_release_pipeline_graph", {
    steps: () => [
        { content: "Open the definition graph", trigger: ".o_form_view button[name='action_open_graph']", run: "click" },
        { content: "The build stage and its task", trigger: ".o_igr_pipeline_graph .o_igr_stage[data-stage='build'] .o_igr_task[data-task='compile']" },
        { content: "Its gate's criteria", trigger: ".o_igr_stage[data-stage='build'] .o_igr_criteria:contains('tasks compile succeeded')" },
        { content: "The manual gate of staging", trigger: ".o_igr_stage[data-stage='staging'] .o_igr_gate:contains('UAT Sign-off')" },
        { content: "The YAML beside it", trigger: ".o_igr_yaml pre:contains('key: staging')" },
        { content: "Hide the YAML", trigger: ".o_igr_toggle_yaml", run: "click" },
        { content: "The YAML is hidden", trigger: ".o_igr_pipeline_graph:not(:has(.o_igr_yaml)) .o_igr_stage" },
    ],
});

// A Release Manager reads the board as it should read: version and commit, the last deploy,
// who deployed and who approved, how long it took, a drift legend; promotes the staging
// version to production (its target cannot be read: the failure is reported and recorded),
// then reads the deployments and the parity screen.
tours.add("influencegen_release_board_manager", {
    steps: () => [
        { content: "The legend explains the drift badges", trigger: ".o_igr_legend:contains('unknown'):contains('could not be read')" },
        { content: "Version and commit", trigger: `${STAGING_ENV} .o_igr_current:contains('Version'):contains('1.0.1'):contains('commit'):contains('222222222222')` },
        { content: "Who deployed: the person, not OdooBot", trigger: `${STAGING_ENV} .o_igr_by:contains('Deployed by'):contains('Dana Developer')` },
        { content: "Who approved", trigger: `${STAGING_ENV} .o_igr_approved_by:contains('Quinn Tester')` },
        { content: "How long it took", trigger: `${STAGING_ENV} .o_igr_deploy_duration:contains('Took')` },
        { content: "and how long the target was down", trigger: `${STAGING_ENV} .o_igr_downtime:contains('Downtime'):contains('2.4 s')` },
        { content: "Drift is not read until asked", trigger: `${STAGING_ENV} .o_igr_drift:contains('not checked')` },
        { content: "Promote to the next tier", trigger: `${STAGING_ENV} .o_igr_promote[data-target='views-prod']:contains('Promote 1.0.1 to Views Production')`, run: "click" },
        { content: "Confirm", trigger: ".modal button.btn-primary:contains('Promote')", run: "click" },
        { content: "The outcome is reported", trigger: ".o_notification:contains('The promotion failed')" },
        { content: "and shown on production", trigger: ".o_igr_environment[data-code='views-prod'] .o_igr_last:contains('Failed')" },
        { content: "Open the Environments menu", trigger: ".o_main_navbar button:contains('Environments')", run: "click" },
        { content: "Open the deployments", trigger: ".dropdown-item:contains('Deployments')", run: "click" },
        { content: "The person and the approver", trigger: ".o_list_view .o_data_row:contains('Dana Developer'):contains('Quinn Tester')" },
        { content: "Open the Environments menu again", trigger: ".o_main_navbar button:contains('Environments')", run: "click" },
        { content: "Open parity", trigger: ".dropdown-item:contains('Parity')", run: "click" },
        { content: "It has a title", trigger: ".o_form_view .oe_title:contains('Environment parity: Odoo databases')" },
        { content: "Compare", trigger: ".o_form_view button[name='action_compare']", run: "click" },
        { content: "A column per environment", trigger: ".o_igr_parity th:contains('Views Production')" },
        { content: "the unreachable one says so", trigger: ".o_igr_parity td:contains('not reachable'), .o_igr_parity td:contains('No component could be read')" },
    ],
});
