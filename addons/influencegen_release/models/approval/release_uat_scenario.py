from odoo import fields, models


class ReleaseUatScenario(models.Model):
    _name = "release.uat.scenario"
    _description = "UAT Scenario"
    _inherit = ["release.evidence.mixin"]
    _order = "session_id, sequence, id"
    _evidence_parent = "session_id"  # sealed when its session is submitted

    session_id = fields.Many2one("release.uat.session", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(string="Scenario", required=True)
    result = fields.Selection(
        [("todo", "Not run"), ("pass", "Pass"), ("fail", "Fail"), ("blocked", "Blocked")],
        required=True,
        default="todo",
    )
    note = fields.Text()

    def _evidence_label(self):
        return self.env._("A scenario of a submitted UAT session")
