from odoo import fields, models


class ReleaseGateResult(models.Model):
    _name = "release.gate.result"
    _description = "Quality Gate Result of a Run"
    _order = "run_id desc, id"

    run_id = fields.Many2one("release.run", required=True, ondelete="restrict", index=True)
    pipeline_id = fields.Many2one(related="run_id.pipeline_id", store=True, index=True)
    gate_id = fields.Many2one("release.gate", required=True, ondelete="restrict")
    gate_key = fields.Char(required=True)
    stage_key = fields.Char(required=True)
    name = fields.Char(required=True)
    result = fields.Selection([("passed", "Passed"), ("failed", "Failed")], required=True)
    explanation = fields.Text()
    baseline_run_id = fields.Many2one("release.run", string="Baseline run", ondelete="set null")
    finding_ids = fields.Many2many("release.finding", string="Blocking findings")
