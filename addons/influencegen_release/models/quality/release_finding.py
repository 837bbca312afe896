from odoo import Command, api, fields, models

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
    novelty = fields.Selection(
        [("new", "New"), ("known", "In the baseline")],
        string="Versus baseline",
        default="new",
        readonly=True,
        index=True,
        help="New: its fingerprint is absent from the baseline run (the gate's; with none, every finding is new).",
    )
    baseline_run_id = fields.Many2one("release.run", string="Baseline run", readonly=True, ondelete="set null")
    fixed_in_run_ids = fields.Many2many(
        "release.run",
        "release_finding_fixed_run_rel",
        "finding_id",
        "run_id",
        string="Fixed in",
        readonly=True,
        help="Later runs that compared themselves with this finding's run and no longer have it.",
    )
    change = fields.Selection(
        [("new", "New"), ("known", "Still there"), ("fixed", "Fixed")],
        string="In this run",
        compute="_compute_change",
        help="What the finding is to the run the list is opened from (context igr_run_id).",
    )

    @api.depends_context("igr_run_id")
    @api.depends("run_id", "novelty", "fixed_in_run_ids")
    def _compute_change(self):
        run_id = self.env.context.get("igr_run_id")
        for finding in self:
            if run_id and finding.run_id.id != run_id:
                finding.change = "fixed" if run_id in finding.fixed_in_run_ids.ids else False
            else:
                finding.change = finding.novelty

    @api.model
    def _record(self, job, findings, report=False):
        """The one converter from the engine's report findings (``engine.quality.reports.Finding``)
        to records of ``job``; ``report`` names the file they were read from. They are new or
        known against the run's default baseline (the gate judging them compares again with
        its own, ``_compare``)."""
        records = self.create(
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
        baseline = self.env["release.gate.result"]._baseline_run(job.run_id, "last_success")
        old = baseline.finding_ids.filtered(lambda f: f.task_key == job.task_key and f.report == report)
        records._compare(job.run_id, baseline, old)
        return records

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

    @api.model
    def _action_of_run(self, run, task_keys=None, title=None):
        """The findings of ``run`` (of the tasks ``task_keys``, all when None) and those of its
        baseline that it fixed, marked new, still there or fixed in it."""
        in_scope = [("task_key", "in", list(task_keys))] if task_keys is not None else []
        action = self.env["ir.actions.act_window"]._for_xml_id("influencegen_release.action_release_finding")
        action.update(
            name=title or self.env._("Findings of %(run)s", run=run.display_name),
            domain=["|", ("run_id", "=", run.id), ("fixed_in_run_ids", "in", [run.id]), *in_scope],
            context={"igr_run_id": run.id},
        )
        return action

    def _compare(self, run, baseline_run, old):
        """These findings of ``run`` against ``old``, the findings of ``baseline_run`` in the
        same scope (the same tasks and report): new when their fingerprint is not among them; each old finding absent
        from these is fixed in ``run``. Waived baseline findings are not the baseline (as for
        the gates): what only passed thanks to a waiver stays new."""
        baseline = old.filtered(lambda f: not f.waived)
        prints = set(baseline.mapped("fingerprint"))
        new = self.filtered(lambda f: f.fingerprint not in prints)
        values = {"baseline_run_id": baseline_run.id or False}
        new.write(dict(values, novelty="new"))
        (self - new).write(dict(values, novelty="known"))
        current = set(self.mapped("fingerprint"))
        baseline.filtered(lambda f: f.fingerprint not in current).write({"fixed_in_run_ids": [Command.link(run.id)]})

    @api.depends("severity")
    def _compute_severity_rank(self):
        for finding in self:
            finding.severity_rank = SEVERITIES.index(finding.severity) if finding.severity else 0
