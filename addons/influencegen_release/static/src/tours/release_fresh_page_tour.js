import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

function pause(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** After a full page load: waits for the bus to connect and for the check of missed
 * notifications that follows a (re)connection, then fails if any notification shows. */
function loadedWithoutBanner(label, trigger) {
    return {
        content: `${label}: the bus connects and no 'The page is out of date' banner appears`,
        trigger,
        run: async () => {
            const bus = odoo.__WOWL_DEBUG__.root.env.services.bus_service;
            for (let i = 0; i < 150 && bus.workerState !== "CONNECTED"; i++) {
                await pause(100);
            }
            if (bus.workerState !== "CONNECTED") {
                throw new Error(`${label}: the bus did not connect (${bus.workerState})`);
            }
            await pause(2500); // the check runs right after the connection; its answer comes back
            const banner = document.querySelector(".o_notification");
            if (banner) {
                throw new Error(`${label}: ${banner.innerText}`);
            }
        },
    };
}

const RUNS = "/odoo/action-influencegen_release.action_release_run";

/** Opens `path()` as a link from an e-mail or an activity does: a full page load. */
function open(content, path) {
    return { content, trigger: "body", run: () => (window.location.href = path()) };
}

// The run's deep link loaded twice, with another page between: a navigation to a new URL
// keeps Chrome's shared bus worker alive but disconnected, the case that showed the banner.
tours.add("influencegen_release_fresh_page", {
    steps: () => [
        {
            content: "The tour starts on the run's deep link: remember it",
            trigger: ".o_form_view .o_form_sheet",
            run: () => (sessionStorage.igr_deep_link = window.location.pathname),
        },
        loadedWithoutBanner("The run's deep link", ".o_form_view .o_form_sheet"),
        open("Open the runs", () => RUNS),
        loadedWithoutBanner("The runs", ".o_kanban_view"),
        open("Open the run's deep link again", () => sessionStorage.igr_deep_link),
        loadedWithoutBanner("The run's deep link, loaded again", ".o_form_view .o_form_sheet"),
        open("Open the runs again", () => RUNS),
        loadedWithoutBanner("The runs, loaded again", ".o_kanban_view"),
    ],
});

// The banner still warns a page that lived through a disconnection during which its
// notifications were lost (tests/test_fresh_page_tour.py empties the bus, then drops the
// connection).
tours.add("influencegen_release_outdated_page", {
    steps: () => [
        { content: "The run's deep link", trigger: ".o_form_view .o_form_sheet" },
        {
            content: "The connection drops after the bus lost this page's notifications: the banner shows",
            trigger: ".o_notification:contains('The page is out of date')",
            timeout: 60000,
        },
    ],
});
