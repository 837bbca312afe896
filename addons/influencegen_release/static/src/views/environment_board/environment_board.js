import { Component, onWillStart, useState } from "@odoo/owl";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { stateClass } from "../live";

const TIERS = ["development", "staging", "production"];

/** Environments by component kind and tier: what runs where, the last deploy and its
 * outcome. Drift is read from the targets only when asked (they may be slow or down). */
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
