from markupsafe import Markup

from odoo import api, fields, models

from ..engine.delivery.parity import compare, describe


class ReleaseParity(models.TransientModel):
    """Environment parity report (REQ-DI-ENVPAR), read live from the targets themselves by
    their deployers (``_live_state``): installed module versions and code checksums of Odoo
    targets, workflow versions and active flags of n8n targets. A component that differs, or
    is missing somewhere, drifts."""

    _name = "release.parity"
    _description = "Environment Parity Report"

    kind = fields.Selection([("odoo", "Odoo databases"), ("n8n", "n8n instances")], required=True, default="odoo")
    environment_ids = fields.Many2many("release.environment", string="Environments")
    report = fields.Html(readonly=True, sanitize=True)
    drift_count = fields.Integer(readonly=True)
    component_count = fields.Integer(readonly=True)

    @api.depends("kind")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for parity in self:
            parity.display_name = self.env._("Environment parity: %(kind)s", kind=kinds.get(parity.kind, ""))

    def action_compare(self):
        self.ensure_one()
        environments = self.environment_ids or self.env["release.environment"].search([("kind", "=", self.kind), ("url", "!=", False)])
        result = self._compare(environments)
        self.write(
            {
                "environment_ids": [fields.Command.set(environments.ids)],
                "report": self._render(result),
                "drift_count": sum(1 for row in result["rows"] if row["drift"]),
                "component_count": len(result["rows"]),
            }
        )
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id, "view_mode": "form", "target": "current"}

    @api.model
    def api_parity(self, kind="odoo", codes=None):
        """XML-RPC: ``{environments, rows: [{component, values: {code: text}, drift}], errors}``."""
        domain = [("kind", "=", kind), ("url", "!=", False)] + ([("code", "in", list(codes))] if codes else [])
        return self._compare(self.env["release.environment"].search(domain))

    # -- helpers ----------------------------------------------------------------------------
    def _compare(self, environments):
        states, errors = {}, {}
        for environment in environments:
            deployer = environment._deployer()
            try:
                states[environment.code] = deployer._live_state(environment)
            except deployer._target_errors() as exc:
                errors[environment.code] = str(exc)
        rows = compare(states)
        return {
            "environments": list(states),
            "rows": [
                {"component": row.component, "values": {code: describe(value) for code, value in row.values.items()}, "drift": row.drift}
                for row in rows
            ],
            "errors": errors,
        }

    def _render(self, result):
        """A table with a column per environment (its name, code and tier), unreachable ones
        too, a row per component and its drift."""
        environments = self.env["release.environment"].search([("code", "in", [*result["environments"], *result["errors"]])])
        by_code = {e.code: e for e in environments}
        codes = [*result["environments"], *result["errors"]]
        head = Markup("").join(
            Markup('<th>%s<br/><small class="text-muted">%s · %s</small></th>') % (by_code[c].name, c, by_code[c].tier) for c in codes
        )
        unreachable = Markup('<td class="text-muted">%s</td>') % self.env._("not reachable")
        body = Markup("")
        for row in result["rows"]:
            cells = Markup("").join(Markup("<td>%s</td>") % (row["values"].get(code) or "—") for code in result["environments"])
            cells += unreachable * len(result["errors"])
            mark = Markup('<span class="badge text-bg-danger">drift</span>') if row["drift"] else Markup('<span class="badge text-bg-success">same</span>')
            body += Markup("<tr><td>%s</td>%s<td>%s</td></tr>") % (row["component"], cells, mark)
        if not result["rows"]:
            body = Markup('<tr><td colspan="%s" class="text-muted">%s</td></tr>') % (
                len(codes) + 2,
                self.env._("No component could be read: no environment of this kind answered."),
            )
        errors = Markup("").join(Markup("<li>%s: %s</li>") % item for item in result["errors"].items())
        table = Markup('<table class="table table-sm table-bordered o_igr_parity"><thead><tr><th>%s</th>%s<th>%s</th></tr></thead><tbody>%s</tbody></table>') % (
            self.env._("Component"),
            head,
            self.env._("Parity"),
            body,
        )
        return table + (Markup("<p>%s</p><ul>%s</ul>") % (self.env._("Not reachable:"), errors) if errors else Markup(""))
