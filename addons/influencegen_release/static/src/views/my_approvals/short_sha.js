import { Component } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

const SHORT = 12; // as the server's summary (release_approval_summary.SHORT)

/** A sha or checksum shown short, whole in its title, with a button copying the whole value. */
export class ShortSha extends Component {
    static template = "influencegen_release.ShortSha";
    static props = { value: { type: [String, Boolean], optional: true } };

    setup() {
        this.notification = useService("notification");
    }

    get short() {
        return (this.props.value || "").slice(0, SHORT);
    }

    async copy() {
        try {
            await browser.navigator.clipboard.writeText(this.props.value);
            this.notification.add(_t("Copied %s", this.short), { type: "success" });
        } catch {
            this.notification.add(_t("The browser refused to copy: the whole value is in the tooltip."), { type: "warning" });
        }
    }
}

/** The same as a form field widget: ``<field name="commit_sha" widget="igr_short_sha"/>``. */
export class ShortShaField extends Component {
    static template = "influencegen_release.ShortShaField";
    static components = { ShortSha };
    static props = { ...standardFieldProps };
}

registry.category("fields").add("igr_short_sha", { component: ShortShaField, supportedTypes: ["char"] });
