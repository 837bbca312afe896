import { Component, onWillStart, useState } from "@odoo/owl";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { formatDuration, latestOnly, localTime, stateClass, stateIcon, stateLabel, useRunChanges } from "../live";
import { RunGraphNeeds } from "./run_graph_needs";

/** A run as a graph: stages as columns, jobs as cards, gates and approvals as badges, each
 * with the verdict that holds (a gate that failed fails its stage and the jobs it read; what
 * a finished run never reached says so) and its queue time, start and duration. Follows the
 * run live through the bus; cancel, retry and the decision of a waiting stage for users
 * allowed to (the server says who may, and checks again). */
export class RunGraph extends Component {
    static template = "influencegen_release.RunGraph";
    static components = { Layout, RunGraphNeeds };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.dialog = useService("dialog");
        this.stateClass = stateClass;
        this.formatDuration = formatDuration;
        this.localTime = localTime;
        this.stateIcon = stateIcon;
        this.stateLabel = stateLabel;
        this.state = useState({ run: null });
        this.fetch = latestOnly((id) => this.orm.call("release.run", "api_graph", [id]));
        onWillStart(() => this.load());
        useRunChanges(({ run_ids }) => {
            if (run_ids.includes(this.runId)) {
                this.load();
            }
        });
    }

    get runId() {
        return this.props.action.context.active_id;
    }

    async load() {
        const run = await this.fetch(this.runId);
        if (run) {
            this.state.run = run;
        }
    }

    /** The names of the jobs ``job`` needs (the edges the SVG layer draws, in words). */
    needsOf(job) {
        const names = new Map(this.state.run.stages.flatMap((stage) => stage.jobs.map((other) => [other.id, other.name])));
        return (this.state.run.needs || []).filter((edge) => edge.to === job.id).map((edge) => names.get(edge.from));
    }

    approvalsOf(stage) {
        return this.state.run.approvals.filter((approval) => approval.stage === stage.name);
    }

    openRun(runId, name) {
        this.action.doAction({
            type: "ir.actions.client",
            tag: "influencegen_release.run_graph",
            name: _t("%s graph", name),
            context: { active_id: runId },
        });
    }

    /** Approve or reject through the request's own decision dialog (comment, evidence, quorum). */
    async decide(approval, method) {
        const dialog = await this.orm.call("release.approval", method, [[approval.id]]);
        await this.action.doAction(dialog, { onClose: () => this.load() });
    }

    async openGateFindings(stage, gate) {
        this.action.doAction(await this.orm.call("release.run", "action_open_gate_findings", [[this.runId], stage.key, gate.key]));
    }

    openForm() {
        this.action.doAction({ type: "ir.actions.act_window", res_model: "release.run", res_id: this.runId, views: [[false, "form"]] });
    }

    async openLog(job) {
        this.action.doAction(await this.orm.call("release.job", "action_open_log", [[job.id]]));
    }

    cancel() {
        this.dialog.add(ConfirmationDialog, {
            body: _t("Stop this run and its running jobs?"),
            confirmLabel: _t("Cancel run"),
            confirm: async () => {
                await this.orm.call("release.run", "action_cancel", [[this.runId]]);
                await this.load();
            },
            cancel: () => {},
        });
    }

    async retry() {
        const action = await this.orm.call("release.run", "action_retry", [[this.runId]]);
        this.openRun(action.res_id, this.state.run.pipeline);
    }
}

registry.category("actions").add("influencegen_release.run_graph", RunGraph);
