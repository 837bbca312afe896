from odoo import api, fields, models
from odoo.exceptions import UserError


class ReleaseUatScenario(models.Model):
    _name = "release.uat.scenario"
    _description = "UAT Scenario"
    _order = "session_id, sequence, id"

    session_id = fields.Many2one("release.uat.session", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(string="Scenario", required=True)
    result = fields.Selection(
        [("todo", "Not run"), ("pass", "Pass"), ("fail", "Fail"), ("blocked", "Blocked")],
        required=True,
        default="todo",
    )
    note = fields.Text()

    @api.model_create_multi
    def create(self, vals_list):
        scenarios = super().create(vals_list)
        if scenarios.session_id.filtered(lambda s: s.state == "submitted"):
            raise UserError(self.env._("A submitted UAT session is evidence: no scenario can be added."))
        return scenarios

    def write(self, vals):
        if self.session_id.filtered(lambda s: s.state == "submitted"):
            raise UserError(self.env._("A submitted UAT session is evidence: its scenarios cannot be changed."))
        return super().write(vals)
