from odoo import fields, models


class ReleaseRehearsalOverride(models.TransientModel):
    """A Release Manager lets an approval go on despite a failed upgrade rehearsal, with a reason."""

    _name = "release.rehearsal.override"
    _description = "Override a failed upgrade rehearsal"

    rehearsal_id = fields.Many2one("release.rehearsal", required=True, ondelete="cascade")
    error = fields.Text(related="rehearsal_id.error")
    reason = fields.Text(required=True)

    def action_confirm(self):
        self.ensure_one()
        self.rehearsal_id._override(self.reason)
        return {"type": "ir.actions.act_window_close"}
