import { Component, onPatched, onWillStart, useRef, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { latestOnly, stateClass, useRunChanges } from "../live";
import { ansiSegments } from "./ansi";

const encoder = new TextEncoder();
const DONE = ["succeeded", "failed", "cancelled", "skipped"];

/** A job's log: opens at the tail (one page, whatever the log's size), pages back on
 * demand, follows the tail while the job runs, finds the first error and searches the
 * whole log on the server. Lines carry their byte offset in the log file. */
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
        });
        this.page = latestOnly((args) => this.orm.call("release.job", "api_log_page", [[this.jobId]], args));
        this.scrollTo = "bottom";
        onWillStart(() => this.openTail());
        onPatched(() => this.scroll());
        useRunChanges(({ job_ids }) => {
            if (job_ids.includes(this.jobId) && this.state.follow) {
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
        const lines = page.text.split("\n");
        if (lines.at(-1) === "") {
            lines.pop();
        }
        return lines.map((text) => {
            const line = { offset, segments: ansiSegments(text, style) };
            offset += encoder.encode(text).length + 1;
            return line;
        });
    }

    accept(page) {
        Object.assign(this.state, { size: page.size, jobState: page.state });
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
            this.accept(page);
            Object.assign(this.state, { lines: this.toLines(page), start: page.start, end: page.end, follow: false, current: offset });
            this.scrollTo = offset;
        }
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

    async find(text, from) {
        const offset = await this.orm.call("release.job", "api_log_find", [[this.jobId]], { text, start: from });
        if (offset < 0) {
            this.state.message = text ? `"${text}" is not in the log${from ? " after this line" : ""}.` : "No error in the log.";
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

    search(ev) {
        ev.preventDefault();
        const next = this.state.lines.find((line) => line.offset > this.state.current);
        this.find(this.state.query, this.state.current >= 0 && next ? next.offset : 0);
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
