import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");
const LOG = ".o_igr_log_viewer .o_igr_log";

function search(content, text, button) {
    return [
        { content: `Search for "${text}"`, trigger: "input.o_igr_search", run: `edit ${text}` },
        { content, trigger: button, run: "click" },
    ];
}

// The log of a finished job (tests/test_log_viewer_tour.py): it opens at its end, numbers
// its lines, marks errors and warnings, searches the whole log on the server forward,
// backward and from the start, and links to a line.
tours.add("influencegen_release_log_viewer", {
    steps: () => [
        { content: "Open the log", trigger: ".o_form_view button[name='action_open_log']", run: "click" },
        {
            content: "A finished log opens at its end",
            trigger: `${LOG} .o_igr_line:last-of-type:contains('build finished')`,
            run: () => {
                const log = document.querySelector(".o_igr_log");
                if (log.scrollTop + log.clientHeight < log.scrollHeight - 2) {
                    throw new Error(`The log is not scrolled to its end (${log.scrollTop} + ${log.clientHeight} of ${log.scrollHeight})`);
                }
            },
        },
        { content: "Lines are numbered from the log's start", trigger: `${LOG} .o_igr_line:last-of-type .o_igr_lineno:contains('12103')` },
        { content: "A warning line is marked", trigger: `${LOG} .o_igr_warning_line[data-line='12102']:contains('deprecated')` },
        ...search("Find from the start", "views_demo failed", ".o_igr_find_first"),
        { content: "The error line, far before the end", trigger: `${LOG} .o_igr_current.o_igr_error_line[data-line='101']:contains('ERROR')` },
        ...search("Find next", "step 0011999", ".o_igr_find"),
        { content: "Found after the error, on the server", trigger: `${LOG} .o_igr_current[data-line='12001']:contains('step 0011999')` },
        ...search("Find previous", "step 0000050", ".o_igr_find_previous"),
        { content: "Found before it, beyond the loaded lines", trigger: `${LOG} .o_igr_current[data-line='51']:contains('step 0000050')` },
        { content: "Find next again", trigger: ".o_igr_find", run: "click" },
        { content: "There is no later match", trigger: ".o_igr_message:contains('is not in the log after this line')" },
        { content: "Find previous again", trigger: ".o_igr_find_previous", run: "click" },
        { content: "There is no earlier match", trigger: ".o_igr_message:contains('is not in the log before this line')" },
        { content: "Link to the error line", trigger: `${LOG} .o_igr_line[data-line='101'] .o_igr_lineno`, run: "click" },
        {
            content: "The address names the line",
            trigger: `${LOG} .o_igr_current[data-line='101']`,
            run: () => {
                if (window.location.hash !== "#L101") {
                    throw new Error(`The address is ${window.location.href}`);
                }
                window.location.reload();
            },
        },
        { content: "The link opens the log at that line", trigger: `${LOG} .o_igr_current[data-line='101'].o_igr_error_line:contains('ERROR')` },
        { content: "and says which", trigger: ".o_igr_current_line:contains('line 101')" },
    ],
});

// A job retried once: its current attempt's log opens, the first attempt's is chosen from
// the list, with its error marked and found.
tours.add("influencegen_release_log_attempts", {
    steps: () => [
        { content: "Open the log", trigger: ".o_form_view button[name='action_open_log']", run: "click" },
        { content: "The current attempt's log", trigger: `${LOG} .o_igr_line:last-of-type:contains('attempt two deployed')` },
        { content: "says which attempt it is", trigger: ".o_igr_shown_attempt:contains('attempt 2 of 2')" },
        { content: "Choose the first attempt", trigger: "select.o_igr_attempt", run: "select 1" },
        { content: "Its log, with its error marked", trigger: `${LOG} .o_igr_error_line:contains('flaky import')` },
        { content: "and how it ended", trigger: `${LOG} .o_igr_line:last-of-type:contains('is retryable')` },
        { content: "Jump to its first error", trigger: ".o_igr_first_error", run: "click" },
        { content: "Found in that attempt", trigger: `${LOG} .o_igr_current:contains('flaky import')` },
        { content: "Back to the current attempt", trigger: "select.o_igr_attempt", run: "select 2" },
        { content: "Its log again", trigger: `${LOG} .o_igr_line:last-of-type:contains('attempt two deployed')` },
    ],
});
