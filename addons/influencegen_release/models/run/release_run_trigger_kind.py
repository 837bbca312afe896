from odoo import fields, models

TRIGGER_KINDS = [
    ("push", "Push"),
    ("tag", "Tag"),
    ("manual", "Manual"),
    ("schedule", "Schedule"),
    ("pipeline", "Pipeline (chained)"),
]


class ReleaseRun(models.Model):
    """What started a run, set once when it is created (``release.pipeline._create_run``)."""

    _inherit = "release.run"

    trigger_kind = fields.Selection(TRIGGER_KINDS, string="Started by", readonly=True, index=True)
