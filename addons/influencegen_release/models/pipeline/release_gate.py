import json

from odoo import api, fields, models

from ...engine.vocabulary import SEVERITIES


def describe_criterion(criterion):
    """One readable line for a gate criterion of the pipeline format."""
    sources = ", ".join(criterion.get("from", []))
    if criterion["check"] == "succeeded":
        return f"tasks {sources} succeeded"
    if criterion["check"] == "tests":
        return f"tests of {sources}: at most {criterion['max_failed']} failed, at least {criterion['min_total']} run"
    higher = SEVERITIES[SEVERITIES.index(criterion["severity"]) :]
    scope = "new " if criterion.get("new") else ""
    text = f"at most {criterion['max']} {scope}{'/'.join(reversed(higher))} findings from {sources}"
    if criterion.get("unknown") == "warn":
        text += " (unknown results only warn)"
    return text


class ReleaseGate(models.Model):
    _name = "release.gate"
    _description = "Quality Gate"
    _order = "stage_id, sequence, id"

    stage_id = fields.Many2one("release.stage", required=True, ondelete="cascade", index=True)
    pipeline_id = fields.Many2one(related="stage_id.pipeline_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    key = fields.Char(required=True)
    name = fields.Char(required=True)
    description = fields.Text(help="The criteria as the specification words them.")
    active = fields.Boolean(default=True)
    gate_type = fields.Selection(
        [("automatic", "Automatic"), ("manual", "Manual approval")], required=True, default="automatic"
    )
    criteria_json = fields.Text(string="Criteria (JSON)", default="[]")
    criteria_summary = fields.Text(compute="_compute_criteria_summary")
    baseline = fields.Char(
        default="last_success", help="Which findings count as old: last_success, none or branch:<name>."
    )
    requirements = fields.Char(help="Requirement IDs (REQ-...) this gate enforces.")

    _sql_constraints = [("key_unique", "unique(stage_id, key)", "A gate key is unique within its stage.")]

    @api.depends("criteria_json", "gate_type")
    def _compute_criteria_summary(self):
        for gate in self:
            if gate.gate_type == "manual":
                approvers = ", ".join(
                    f"{rule.quorum} × {rule.group_id.name}" for rule in gate.stage_id.approval_rule_ids
                )
                gate.criteria_summary = self.env._("Decided by approval: %(approvers)s", approvers=approvers)
            else:
                criteria = json.loads(gate.criteria_json or "[]")
                gate.criteria_summary = "\n".join(describe_criterion(c) for c in criteria)
