from odoo import models


class ReleaseGateResult(models.Model):
    """From a gate's line (the run's Quality gates tab) to the findings it judged."""

    _inherit = "release.gate.result"

    def action_open_findings(self):
        self.ensure_one()
        stage = next(s for s in self.run_id._spec()["stages"] if s["key"] == self.stage_key)
        gate = next(g for g in stage["gates"] if g["key"] == self.gate_key)
        return self.run_id._action_gate_findings(stage, gate)
