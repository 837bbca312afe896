import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { ShortSha } from "./short_sha";

/** What awaits the current user's decision, with what they approve read now. Approve and
 * Reject record the vote at once (api_decide: the rules stay on the server), with the card's
 * comment; Approve is disabled, and says why, while the request cannot take it (UAT evidence
 * missing: "Record UAT session" opens the session beside the card). */
export class MyApprovals extends Component {
    static template = "influencegen_release.MyApprovals";
    static components = { Layout, ShortSha };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.notification = useService("notification");
        this.state = useState({ approvals: [], loaded: false, comments: {}, busy: false });
        onWillStart(() => this.load());
    }

    async load() {
        this.state.approvals = await this.orm.call("release.approval", "api_my_approvals", []);
        this.state.loaded = true;
    }

    comment(approval) {
        return (this.state.comments[approval.id] || "").trim();
    }

    /** Why ``decision`` cannot be taken now, or "" when it can. */
    blocker(approval, decision) {
        if (approval.blocked) {
            return _t("Blocked: the Release Managers fix the plan first.");
        }
        if (decision === "approve") {
            if (!approval.can_approve) {
                return approval.approve_blocker;
            }
            return approval.comment_required && !this.comment(approval) ? _t("A comment is required to approve.") : "";
        }
        return this.comment(approval) ? "" : _t("Write why to reject.");
    }

    async decide(approval, decision) {
        this.state.busy = true;
        try {
            await this.orm.call("release.approval", "api_decide", [approval.id, decision, this.comment(approval)]);
            this.notification.add(decision === "approve" ? _t("Approved: %s", approval.name) : _t("Rejected: %s", approval.name), {
                type: decision === "approve" ? "success" : "warning",
            });
            delete this.state.comments[approval.id];
        } finally {
            this.state.busy = false;
            await this.load();
        }
    }

    async recordUat(approval) {
        const action = await this.orm.call("release.approval", "action_record_uat", [[approval.id]]);
        await this.action.doAction(action, { onClose: () => this.load() });
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
