import { Component, onWillStart, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

/** A pipeline's stages, tasks and gates at a glance, beside the YAML they come from. */
export class PipelineGraph extends Component {
    static template = "influencegen_release.PipelineGraph";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.state = useState({ pipeline: null, showYaml: true });
        onWillStart(async () => {
            this.state.pipeline = await this.orm.call("release.pipeline", "api_definition", [[this.props.action.context.active_id]]);
        });
    }
}

registry.category("actions").add("influencegen_release.pipeline_graph", PipelineGraph);
