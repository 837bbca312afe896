import { Component, onWillStart, useState } from "@odoo/owl";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { formatDuration, localTime, stateClass, stateIcon } from "../live";

const TIERS = ["development", "staging", "production"];
// What a drift badge says, shown as the board's legend.
export const DRIFT_LEGEND = [
    { state: "same", label: "same", text: "the target runs what was deployed here last" },
    { state: "drift", label: "drift", text: "the target differs from it (changed outside the pipeline)" },
    { state: "unknown", label: "unknown", text: "the target could not be read (no URL, not answering): the reason is shown" },
    { state: "not_checked", label: "not checked", text: "targets are read only when asked: Check drift" },
];

/** Environments by component kind and tier: the version and commit each runs, the last
 * deploy with its outcome, who deployed and approved it and how long it took. Drift is read
 * from the targets only when asked (they may be slow or down), with a legend. Release
 * Managers promote a version to the next tier and roll back. */
export class EnvironmentBoard extends Component {
    static template = "influencegen_release.EnvironmentBoard";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.dialog = useService("dialog");
        this.tiers = TIERS;
        this.stateClass = stateClass;
        this.stateIcon = stateIcon;
        this.localTime = localTime;
        this.formatDuration = formatDuration;
        this.legend = DRIFT_LEGEND;
        this.notification = useService("notification");
        this.state = useState({ rows: [], drift: {}, checking: false });
        onWillStart(() => this.load());
    }

    async load() {
        this.state.rows = await this.orm.call("release.environment", "api_board", []);
    }

    inTier(row, tier) {
        return row.environments.filter((environment) => environment.tier === tier);
    }

    async checkDrift(environment) {
        this.state.drift[environment.id] = { state: "checking", details: [] };
        this.state.drift[environment.id] = await this.orm.call("release.environment", "api_drift", [[environment.id]]);
    }

    async checkAll() {
        this.state.checking = true;
        try {
            for (const row of this.state.rows) {
                for (const environment of row.environments) {
                    await this.checkDrift(environment);
                }
            }
        } finally {
            this.state.checking = false;
        }
    }

    rollback(environment) {
        this.dialog.add(ConfirmationDialog, {
            body: _t("Roll %s back to its previous successful deployment?", environment.name),
            confirmLabel: _t("Roll back"),
            confirm: async () => {
                const result = await this.orm.call("release.environment", "action_rollback", [[environment.id]]);
                if (result && result.type) {
                    await this.action.doAction(result);
                }
                await this.load();
            },
            cancel: () => {},
        });
    }

    promote(environment, target) {
        this.dialog.add(ConfirmationDialog, {
            body: _t("Deploy %(version)s, which %(from)s runs, to %(to)s?", { version: target.version, from: environment.name, to: target.name }),
            confirmLabel: _t("Promote"),
            confirm: async () => {
                const result = await this.orm.call("release.environment", "api_deploy", [target.code, target.version]);
                const ok = ["deployed", "unchanged"].includes(result.outcome);
                this.notification.add(ok ? _t("%s deployed to %s.", target.version, target.name) : result.error || result.outcome, {
                    type: ok ? "success" : "danger",
                    title: ok ? _t("Promoted") : _t("The promotion failed"),
                });
                await this.load();
            },
            cancel: () => {},
        });
    }

    openEnvironment(environment) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "release.environment",
            res_id: environment.id,
            views: [[false, "form"]],
        });
    }

    openRun(run) {
        this.action.doAction({
            type: "ir.actions.client",
            tag: "influencegen_release.run_graph",
            name: run.name,
            context: { active_id: run.id },
        });
    }
}

registry.category("actions").add("influencegen_release.environment_board", EnvironmentBoard);
