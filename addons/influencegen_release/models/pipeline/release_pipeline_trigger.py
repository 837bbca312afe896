from odoo import api, fields, models

from ...engine.pipeline.spec import TRIGGER_EVENTS, ref_matches

MAX_CHAIN_DEPTH = 5  # a chain of pipelines longer than this is a loop in the configuration


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

    @api.model
    def _start_followers(self, run):
        """Start the pipelines that follow a finished ``run`` on its commit, linked to it: the
        ``on_success`` pipelines of its snapshot when it succeeded, and the pipelines whose
        ``pipeline`` trigger follows its pipeline's result. Starts each once per run."""
        if run.state not in ("succeeded", "failed") or not run.repository_id:
            return
        codes = run._spec().get("on_success", []) if run.state == "succeeded" else []
        followers = self.env["release.pipeline"].search([("code", "in", codes)])
        followers |= self.search(
            [
                ("event", "=", "pipeline"),
                ("source_pipeline_code", "=", run.pipeline_id.code),
                ("source_result", "in", [run.state, "any"]),
            ]
        ).pipeline_id
        depth, ancestor = 0, run
        while ancestor.parent_run_id:
            depth, ancestor = depth + 1, ancestor.parent_run_id
        Run = self.env["release.run"]
        for pipeline in followers.filtered("active"):
            if depth >= MAX_CHAIN_DEPTH:
                run.message_post(body=self.env._("Not starting %(code)s: the chain is %(depth)s runs deep.", code=pipeline.code, depth=depth + 1))
                continue
            params = {"repository": run.repository_id.name, "ref": run.ref, "sha": run.commit_sha, "before": False, "pusher": run.pusher or False}
            fingerprint = f"{pipeline._run_fingerprint(run.repository_id, params)}:after:{run.id}"
            if Run.search_count([("fingerprint", "=", fingerprint)]):
                continue
            child = pipeline._create_run(run.repository_id, params, fingerprint)
            child.parent_run_id = run
            run.message_post(body=self.env._("Started %(run)s (chained).", run=child.display_name))
            child.message_post(body=self.env._("Started by %(run)s, which %(state)s.", run=run.display_name, state=run.state))
