from markupsafe import Markup

from odoo import Command, api, fields, models

from ...engine.quality.gates import evaluate


class ReleaseGateResult(models.Model):
    """The verdict of one automatic quality gate on one run, recorded once when the jobs it
    reads are done; a manual gate's verdict is its stage's approval."""

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

    @api.model
    def _result_of(self, run, stage, gate):
        """passed, failed or pending: ``gate`` of ``stage`` (of the run's snapshot) on ``run``."""
        if gate["type"] == "manual":
            decided = run.approval_ids.filtered(lambda a: a.stage_id.key == stage["key"] and a.state in ("approved", "rejected"))
            return {"approved": "passed", "rejected": "failed"}.get(decided[:1].state, "pending")
        return self._recorded(run, stage, gate)[:1].result or "pending"

    @api.model
    def _stage_passes(self, run, stage):
        """Evaluate the stage's automatic gates once, when its jobs are done; a failure stops the run."""
        passed = True
        for gate in (g for g in stage["gates"] if g["type"] == "automatic"):
            result = self._recorded(run, stage, gate) or self._evaluate(run, stage, gate)
            passed &= result.result == "passed"
        return passed

    @api.model
    def _evaluate(self, run, stage, gate):
        """Judge ``gate`` on the results of the jobs it reads, record the verdict, and tell
        the run (a failure through its failure notifications)."""
        keys = {key for criterion in gate["criteria"] for key in criterion["from"]}
        jobs = run.job_ids.filtered(lambda j: j.task_key in keys)
        baseline_run = self._baseline_run(run, gate["baseline"])
        # Findings that only passed thanks to a waiver stay "new" for later runs: when the
        # waiver expires, they block again.
        baseline = set(baseline_run.finding_ids.filtered(lambda f: not f.waived).mapped("fingerprint")) if baseline_run else None
        waived = self.env["release.waiver"]._waived(run.pipeline_id, set(jobs.finding_ids.mapped("fingerprint")))
        outcome = evaluate(gate["criteria"], {job.task_key: job._gate_input() for job in jobs}, baseline, waived)
        jobs.finding_ids.filtered(lambda f: f.fingerprint in waived).write({"waived": True})
        jobs.finding_ids._compare(run, baseline_run, baseline_run.finding_ids.filtered(lambda f: f.task_key in keys))
        blocking = {f.fingerprint for f in outcome.blocking}
        record = self.create(
            {
                "run_id": run.id,
                "gate_id": self.env["release.gate"].with_context(active_test=False).search(
                    [("stage_id.pipeline_id", "=", run.pipeline_id.id), ("stage_id.key", "=", stage["key"]), ("key", "=", gate["key"])],
                    limit=1,
                ).id,
                "gate_key": gate["key"],
                "stage_key": stage["key"],
                "name": gate["name"],
                "result": "passed" if outcome.passed else "failed",
                "explanation": outcome.explanation,
                "baseline_run_id": baseline_run.id if baseline_run else False,
                "finding_ids": [Command.set(jobs.finding_ids.filtered(lambda f: f.fingerprint in blocking).ids)],
            }
        )
        body = Markup("<p>%s</p><pre>%s</pre>") % (
            self.env._("Gate %(gate)s %(result)s.", gate=gate["name"], result=record.result),
            outcome.explanation,
        )
        if outcome.passed:
            run.message_post(body=body)
        else:
            subject = self.env._("%(run)s: gate %(gate)s failed", run=run.display_name, gate=gate["name"])
            self.env["release.notification"]._notify_failure(run, subject, body)
        return record

    @api.model
    def _recorded(self, run, stage, gate):
        return run.gate_result_ids.filtered(lambda r: r.stage_key == stage["key"] and r.gate_key == gate["key"])

    @api.model
    def _baseline_run(self, run, baseline):
        """The run whose findings are old: by default the last success on the same branch."""
        if baseline == "none":
            return run.browse()
        ref = f"refs/heads/{baseline.split(':', 1)[1]}" if baseline.startswith("branch:") else run.ref
        return run.search(
            [("pipeline_id", "=", run.pipeline_id.id), ("ref", "=", ref), ("state", "=", "succeeded"), ("id", "!=", run.id)],
            order="id desc",
            limit=1,
        )
