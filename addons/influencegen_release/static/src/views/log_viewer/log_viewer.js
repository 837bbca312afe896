import { Component, onMounted, onPatched, onWillStart, useRef, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { latestOnly, stateClass, useRunChanges } from "../live";
import { ansiSegments } from "./ansi";

const encoder = new TextEncoder();
const DONE = ["succeeded", "failed", "cancelled", "skipped"];
const LINE_LINK = /^#L(\d+)$/; // the fragment of a link to a line: #L1234
// The words the server's "first error" looks for (release_job.ERROR_LINE), and warnings.
const ERROR_WORDS = /\b(?:error|fatal|traceback|exception)\b/i;
const FAIL_WORD = /\bFAIL(?:ED|URE)?\b/; // in capitals: not the "0 failed" of a summary
const WARNING_WORDS = /\b(?:warn|warning|deprecated|deprecation)\b/i;

/** "error", "warning" or "" for a line's text (its ANSI codes removed). */
export function lineLevel(text) {
    if (ERROR_WORDS.test(text) || FAIL_WORD.test(text)) {
        return "error";
    }
    return WARNING_WORDS.test(text) ? "warning" : "";
}

/** A job's log: opens at its end (one page, whatever the log's size) or at the line a link
 * names (#L1234), pages back on demand, follows the tail while the job runs, numbers its
 * lines, marks errors and warnings, and searches the whole log on the server forward,
 * backward and from the start. A retried job's earlier attempts are chosen from a list.
 * Lines carry their byte offset in the log file. */
export class LogViewer extends Component {
    static template = "influencegen_release.LogViewer";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.stateClass = stateClass;
        this.body = useRef("body");
        this.state = useState({
            lines: [], start: 0, end: 0, size: 0, jobState: "", follow: true, query: "", current: -1, message: "",
            attempt: null, attempts: [],
        });
        // Every page and search reads the attempt shown (null: the current one).
        this.page = latestOnly((args) =>
            this.orm.call("release.job", "api_log_view", [[this.jobId]], { ...args, attempt: this.state.attempt })
        );
        this.scrollTo = "bottom";
        const link = LINE_LINK.exec(browser.location.hash);
        onWillStart(() => (link ? this.openLine(parseInt(link[1])) : this.openTail()));
        onMounted(() => this.scroll());
        onPatched(() => this.scroll());
        useRunChanges(({ job_ids }) => {
            if (job_ids.includes(this.jobId) && this.state.follow && !this.state.attempt) {
                this.loadNewer();
            }
        });
    }

    get jobId() {
        return this.props.action.context.active_id;
    }

    get running() {
        return !DONE.includes(this.state.jobState);
    }

    get downloadUrl() {
        return `/influencegen_release/job/${this.jobId}/log`;
    }

    toLines(page) {
        const style = {};
        let offset = page.start;
        let number = page.first_line;
        const lines = page.text.split("\n");
        if (lines.at(-1) === "") {
            lines.pop();
        }
        return lines.map((text) => {
            const segments = ansiSegments(text, style);
            const line = { offset, number, segments, level: lineLevel(segments.map((s) => s.text).join("")) };
            offset += encoder.encode(text).length + 1;
            number++;
            return line;
        });
    }

    accept(page) {
        Object.assign(this.state, { size: page.size, jobState: page.state, attempts: page.attempts });
    }

    get shownAttempt() {
        return this.state.attempts.find((attempt) => attempt.attempt === this.state.attempt) || this.state.attempts[0];
    }

    /** Shows the log of another attempt (a retry keeps each attempt's log), from its end. */
    async selectAttempt(ev) {
        const attempt = parseInt(ev.target.value);
        const current = this.state.attempts.find((a) => a.current);
        this.state.attempt = current && current.attempt === attempt ? null : attempt;
        Object.assign(this.state, { current: -1, message: "" });
        await this.openTail();
    }

    async openTail() {
        const page = await this.page({});
        if (page) {
            this.accept(page);
            Object.assign(this.state, { lines: this.toLines(page), start: page.start, end: page.end, follow: this.running });
            this.scrollTo = "bottom";
        }
    }

    async openAt(offset) {
        const page = await this.page({ start: offset });
        if (page) {
            this.show(page, offset);
        }
    }

    /** Opens the page that starts at line `number` (from a link to that line). */
    async openLine(number) {
        const page = await this.page({ line: number });
        if (page) {
            this.show(page, page.start);
        }
    }

    show(page, current) {
        this.accept(page);
        Object.assign(this.state, { lines: this.toLines(page), start: page.start, end: page.end, follow: false, current });
        this.scrollTo = current;
    }

    async loadOlder() {
        const page = await this.page({ end: this.state.start });
        if (page) {
            this.accept(page);
            this.state.lines = [...this.toLines(page), ...this.state.lines];
            this.state.start = page.start;
            this.scrollTo = null;
        }
    }

    async loadNewer() {
        const page = await this.page({ start: this.state.end });
        if (page) {
            this.accept(page);
            this.state.lines = [...this.state.lines, ...this.toLines(page)];
            this.state.end = page.end;
            this.scrollTo = this.state.follow ? "bottom" : null;
        }
    }

    toggleFollow() {
        this.state.follow = !this.state.follow;
        if (this.state.follow) {
            this.openTail();
        }
    }

    /** Marks `line` and puts a link to it in the address bar (#L<number>), to copy. */
    selectLine(line) {
        Object.assign(this.state, { current: line.offset, follow: false });
        const url = new URL(browser.location.href);
        url.hash = `L${line.number}`;
        browser.history.replaceState(browser.history.state, "", url.href);
    }

    get currentLine() {
        return this.state.lines.find((line) => line.offset === this.state.current);
    }

    async find(text, from, direction = "forward") {
        const args = { text, start: from, direction, attempt: this.state.attempt };
        const offset = await this.orm.call("release.job", "api_log_find", [[this.jobId]], args);
        if (offset < 0) {
            const where = direction === "backward" ? (from === null ? "" : " before this line") : from ? " after this line" : "";
            this.state.message = text ? `"${text}" is not in the log${where}.` : "No error in the log.";
            return;
        }
        this.state.message = "";
        if (offset >= this.state.start && offset < this.state.end) {
            this.state.current = offset;
            this.scrollTo = offset;
            this.state.follow = false;
        } else {
            await this.openAt(offset);
        }
    }

    firstError() {
        this.find("", 0);
    }

    /** The next match after the current line (from the start when none is current). */
    search(ev) {
        ev?.preventDefault();
        const next = this.state.lines.find((line) => line.offset > this.state.current);
        this.find(this.state.query, this.state.current >= 0 && next ? next.offset : 0);
    }

    /** The last match before the current line (before the log's end when none is current). */
    searchBackward() {
        this.find(this.state.query, this.state.current >= 0 ? this.state.current : null, "backward");
    }

    searchFromStart() {
        this.find(this.state.query, 0);
    }

    scroll() {
        const body = this.body.el;
        if (!body || this.scrollTo === null) {
            return;
        }
        if (this.scrollTo === "bottom") {
            body.scrollTop = body.scrollHeight;
        } else {
            body.querySelector(`[data-offset="${this.scrollTo}"]`)?.scrollIntoView({ block: "center" });
        }
        this.scrollTo = null;
    }
}

registry.category("actions").add("influencegen_release.log_viewer", LogViewer);
