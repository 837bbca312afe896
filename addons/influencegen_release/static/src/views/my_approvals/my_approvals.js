import { Component, onWillStart, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

/** What awaits the current user's decision. Approve and Reject open the request's own
 * decision dialog (release.approval.decision): the rules and the vote stay on the server. */
export class MyApprovals extends Component {
    static template = "influencegen_release.MyApprovals";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ approvals: [], loaded: false });
        onWillStart(() => this.load());
    }

    async load() {
        this.state.approvals = await this.orm.call("release.approval", "api_my_approvals", []);
        this.state.loaded = true;
    }

    async decide(approval, method) {
        const dialog = await this.orm.call("release.approval", method, [[approval.id]]);
        await this.action.doAction(dialog, { onClose: () => this.load() });
    }

    openRun(approval) {
        this.action.doAction({
            type: "ir.actions.client",
            tag: "influencegen_release.run_graph",
            name: approval.run.name,
            context: { active_id: approval.run.id },
        });
    }

    openRequest(approval) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "release.approval",
            res_id: approval.id,
            views: [[false, "form"]],
        });
    }
}

registry.category("actions").add("influencegen_release.my_approvals", MyApprovals);
