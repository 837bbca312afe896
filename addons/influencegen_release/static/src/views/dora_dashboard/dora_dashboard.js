import { Component, onWillStart, useState } from "@odoo/owl";
import { serializeDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

export const PERIODS = [30, 90, 365];

/** "2.5 per day", "0.7 per week", "1.0 per month": the largest unit with at least one. */
export function formatFrequency(perDay) {
    if (!perDay) {
        return _t("none");
    }
    if (perDay >= 1) {
        return _t("%s per day", perDay.toFixed(1));
    }
    if (perDay * 7 >= 1) {
        return _t("%s per week", (perDay * 7).toFixed(1));
    }
    return _t("%s per month", (perDay * 30).toFixed(1));
}

/** Hours as "25 min", "3.3 h" or "2.1 days". */
export function formatHours(hours) {
    if (hours === false || hours === null || hours === undefined) {
        return "–";
    }
    if (hours < 1) {
        return _t("%s min", Math.round(hours * 60));
    }
    if (hours < 48) {
        return _t("%s h", hours.toFixed(1));
    }
    return _t("%s days", (hours / 24).toFixed(1));
}

/** DORA's four keys per pipeline and environment over a period, production first; the
 * pivot and graph views (release.dora.metric) break them down by date. */
export class DoraDashboard extends Component {
    static template = "influencegen_release.DoraDashboard";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.periods = PERIODS;
        this.formatFrequency = formatFrequency;
        this.formatHours = formatHours;
        this.state = useState({ days: PERIODS[0], rows: [], loaded: false });
        onWillStart(() => this.load());
    }

    async load(days = this.state.days) {
        const result = await this.orm.call("release.dora.metric", "api_dora", [], { days });
        Object.assign(this.state, { days: result.days, rows: result.rows, loaded: true });
    }

    failureRateClass(row) {
        if (!row.failures) {
            return "text-success";
        }
        // DORA's best performers keep it at 15 % or less.
        return row.change_failure_rate > 15 ? "text-danger" : "text-warning";
    }

    /** The deployments behind the numbers: the pivot, the graph or the list, for the period
     * (and the row's pipeline and environment). */
    openAnalysis(viewType, row = null) {
        const since = serializeDateTime(luxon.DateTime.now().minus({ days: this.state.days }));
        const domain = [["date", ">=", since]];
        if (row) {
            domain.push(["environment_id", "=", row.environment.id]);
            domain.push(["pipeline_id", "=", row.pipeline ? row.pipeline.id : false]);
        }
        const types = [viewType, ...["pivot", "graph", "list"].filter((type) => type !== viewType)];
        this.action.doAction({
            type: "ir.actions.act_window",
            name: row ? `${row.pipeline ? row.pipeline.name : ""} · ${row.environment.name}` : _t("DORA analysis"),
            res_model: "release.dora.metric",
            views: types.map((type) => [false, type]),
            domain,
        });
    }
}

registry.category("actions").add("influencegen_release.dora_dashboard", DoraDashboard);
