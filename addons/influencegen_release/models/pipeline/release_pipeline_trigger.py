from odoo import fields, models

from ...engine.pipeline.spec import TRIGGER_EVENTS, ref_matches


class ReleasePipelineTrigger(models.Model):
    _name = "release.pipeline.trigger"
    _description = "Pipeline Trigger Rule"
    _order = "pipeline_id, sequence, id"

    pipeline_id = fields.Many2one("release.pipeline", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    event = fields.Selection([(e, e.capitalize()) for e in TRIGGER_EVENTS], required=True, default="push")
    branch_patterns = fields.Char(help="Comma-separated glob patterns of branches, e.g. main, release/*")
    tag_patterns = fields.Char(help="Comma-separated glob patterns of tags, e.g. v*")
    path_patterns = fields.Char(help="Comma-separated glob patterns of changed paths that start a run.")
    source_pipeline_code = fields.Char(string="After pipeline", help="For pipeline triggers: the pipeline it follows.")
    source_result = fields.Selection(
        [("succeeded", "Succeeded"), ("failed", "Failed"), ("any", "Any result")], default="succeeded"
    )
    schedule = fields.Char(help="For scheduled triggers: an interval such as 1h or 1d.")

    def _matches_ref(self, ref):
        """True when this push/tag trigger accepts the Git ref."""
        self.ensure_one()
        if self.event == "push" and ref.startswith("refs/tags/"):
            return False
        patterns = self.branch_patterns if self.event == "push" else self.tag_patterns
        return ref_matches([p.strip() for p in (patterns or "").split(",") if p.strip()], ref)
