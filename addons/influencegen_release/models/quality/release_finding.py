from odoo import api, fields, models

from ...engine.vocabulary import SEVERITIES


class ReleaseFinding(models.Model):
    _name = "release.finding"
    _description = "Finding (from a tool report)"
    _order = "severity_rank desc, file, line, id"

    job_id = fields.Many2one("release.job", required=True, ondelete="restrict", index=True)
    run_id = fields.Many2one(related="job_id.run_id", store=True, index=True)
    pipeline_id = fields.Many2one(related="job_id.pipeline_id", store=True, index=True)
    task_key = fields.Char(related="job_id.task_key", store=True)
    report = fields.Char(help="The report file the finding comes from.")
    tool = fields.Char(required=True, index=True)
    rule = fields.Char(required=True, index=True)
    severity = fields.Selection([(s, s.capitalize()) for s in reversed(SEVERITIES)], required=True, index=True)
    severity_rank = fields.Integer(compute="_compute_severity_rank", store=True)
    file = fields.Char(index=True)
    line = fields.Integer()
    message = fields.Text()
    fingerprint = fields.Char(required=True, index=True, help="Stable across line shifts: decides what is new.")
    waived = fields.Boolean(
        readonly=True, help="Accepted by a waiver when its gate was decided; never part of a later baseline."
    )

    @api.model
    def _record(self, job, findings, report=False):
        """The one converter from the engine's report findings (``engine.quality.reports.Finding``)
        to records of ``job``; ``report`` names the file they were read from."""
        return self.create(
            [
                {
                    "job_id": job.id,
                    "report": report,
                    "tool": f.tool,
                    "rule": f.rule,
                    "severity": f.severity,
                    "file": f.file,
                    "line": f.line,
                    "message": f.message,
                    "fingerprint": f.fingerprint,
                }
                for f in findings
            ]
        )

    def action_waive(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "release.waiver",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_fingerprint": self.fingerprint,
                "default_finding_id": self.id,
                "default_pipeline_id": self.pipeline_id.id,
            },
        }

    @api.depends("severity")
    def _compute_severity_rank(self):
        for finding in self:
            finding.severity_rank = SEVERITIES.index(finding.severity) if finding.severity else 0
