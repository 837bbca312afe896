import logging

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ...engine.pipeline.schedule import ScheduleError, parse_schedule
from ...engine.pipeline.spec import TRIGGER_EVENTS, ref_matches
from ...engine.source import push
from ...engine.source.git_source import Comparison, GitSourceError, branch_head, compare_push
from ...engine.source.paths import PatternError, compile_patterns

_logger = logging.getLogger(__name__)

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
    path_patterns = fields.Char(
        help="Comma-separated patterns of changed paths (GitHub's: addons/**, **/Dockerfile, !docs/**): "
        "a push starts a run only when a changed file matches."
    )
    source_pipeline_code = fields.Char(string="After pipeline", help="For pipeline triggers: the pipeline it follows.")
    source_result = fields.Selection(
        [("succeeded", "Succeeded"), ("failed", "Failed"), ("any", "Any result")], default="succeeded"
    )
    schedule = fields.Char(help="For scheduled triggers: an interval (30m, 6h, 1d, 1w) or a cron expression in UTC (0 2 * * 1-5).")
    next_run_at = fields.Datetime(
        string="Next run",
        compute="_compute_next_run_at",
        store=True,
        readonly=True,
        help="The next slot of a schedule trigger; the schedule cron claims it once, whatever the number of servers.",
    )

    @api.depends("event", "schedule")
    def _compute_next_run_at(self):
        now = fields.Datetime.now()
        for trigger in self:
            try:
                schedule = parse_schedule(trigger.schedule) if trigger.event == "schedule" else None
            except ScheduleError:
                schedule = None
            trigger.next_run_at = schedule.next_after(now) if schedule else False

    @api.constrains("event", "schedule", "path_patterns")
    def _check_schedule_and_paths(self):
        for trigger in self:
            try:
                if trigger.event == "schedule":
                    parse_schedule(trigger.schedule)
                compile_patterns(trigger._paths())
            except (ScheduleError, PatternError) as exc:
                raise ValidationError(
                    self.env._("Trigger %(seq)s of %(code)s: %(error)s", seq=trigger.sequence, code=trigger.pipeline_id.code, error=exc)
                ) from None

    def _paths(self):
        self.ensure_one()
        return [p.strip() for p in (self.path_patterns or "").split(",") if p.strip()]

    def _matches_ref(self, ref):
        """True when this push/tag trigger accepts the Git ref."""
        self.ensure_one()
        if self.event == "push" and ref.startswith("refs/tags/"):
            return False
        patterns = self.branch_patterns if self.event == "push" else self.tag_patterns
        return ref_matches([p.strip() for p in (patterns or "").split(",") if p.strip()], ref)

    # -- pushes ----------------------------------------------------------------------------------
    @api.model
    def _start_push(self, repository, params, code=False):
        """The one decision of what a push starts, whoever reports it (Git hooks, webhooks, the
        poller, the CLI and the wizard all reach it through ``release.run.api_trigger``): the
        repository's pipelines whose push or tag triggers match the ref and, for a push trigger
        with ``paths``, whose patterns match a file the push changed. Naming ``code`` starts that
        pipeline whatever its triggers say (a manual run). Return ``{"runs", "skipped", "message"}``."""
        ref = params["ref"]
        pipelines = repository._pipelines_for(ref, code)
        if code:
            return {"runs": [pipelines._trigger(repository, dict(params, trigger_kind="manual"))]}
        params = dict(params, trigger_kind="tag" if ref.startswith("refs/tags/") else "push")
        comparison, runs, skipped = None, [], []
        for pipeline in pipelines:
            triggers = pipeline.trigger_ids.filtered(lambda t, ref=ref: t._matches_ref(ref))
            start, note = True, False
            if all(t.event == "push" and t._paths() for t in triggers):
                comparison = comparison or self._compare(repository, params)
                decisions = [push.paths_decision(t._paths(), comparison) for t in triggers]
                start = any(decision for decision, _reason in decisions)
                note = next(reason for decision, reason in decisions if decision == start)
            if start:
                runs.append(pipeline._trigger(repository, params, note=note and self.env._("Started: %(why)s.", why=note)))
            else:
                skipped.append({"pipeline": pipeline.code, "reason": note})
        result = {"runs": runs, "skipped": skipped}
        if skipped:
            reasons = "; ".join(f"{s['reason']} ({s['pipeline']})" for s in skipped)
            result["message"] = (
                self.env._("no pipeline matched: %(reasons)s", reasons=reasons)
                if not runs
                else self.env._("not started: %(reasons)s", reasons=reasons)
            )
        return result

    @api.model
    def _compare(self, repository, params):
        """What the push changed, read from the repository's mirror (see ``compare_push``)."""
        before = push.commit_sha(params.get("before") or "")
        if not push.is_full_sha(before) or push.is_deleted(before):
            before = ""  # a new branch, or a caller that does not know the previous head
        try:
            return compare_push(
                repository.url,
                params["ref"],
                params["sha"],
                before,
                repository.default_branch,
                self.env["release.settings"]._path("git-mirrors"),
            )
        except GitSourceError as exc:
            return Comparison(None, reason=str(exc))

    # -- schedules -------------------------------------------------------------------------------
    @api.model
    def _cron_schedule(self):
        """Start the schedule triggers whose slot has come, each slot once (``_claim_slot``)."""
        now = fields.Datetime.now()
        due = self.search([("event", "=", "schedule"), ("next_run_at", "<=", now), ("pipeline_id.active", "=", True)])
        for trigger in due:
            slot = trigger._claim_slot(now)
            if slot:
                trigger._start_schedule(slot)

    def _claim_slot(self, now):
        """Move this trigger's slot to the next one after ``now``, unless another server (or a
        late cron of this one) has moved it already: the row is locked, and only a slot still
        equal to the one read is taken. Return the claimed slot, or False."""
        self.ensure_one()
        slot, cr = self.next_run_at, self.env.cr
        try:
            with cr.savepoint():
                cr.execute(
                    """SELECT id FROM release_pipeline_trigger WHERE id = %s AND next_run_at = %s
                       FOR NO KEY UPDATE SKIP LOCKED""",
                    [self.id, slot],
                    log_exceptions=False,
                )
                if not cr.fetchone():
                    return False
                following = parse_schedule(self.schedule).next_after(now)
                cr.execute("UPDATE release_pipeline_trigger SET next_run_at = %s WHERE id = %s", [following, self.id])
        except (pg_errors.SerializationFailure, ScheduleError) as exc:
            # Changed by another transaction since ours began: it has the slot.
            _logger.info("schedule trigger %s not claimed: %s", self.id, exc)
            return False
        finally:
            self.invalidate_recordset(["next_run_at"])
            self.pipeline_id.invalidate_recordset(["next_scheduled_at"])
        return slot

    def _start_schedule(self, slot):
        """One run of the pipeline per repository that carries it, at its default branch's head."""
        self.ensure_one()
        pipeline, Run = self.pipeline_id, self.env["release.run"]
        repositories = self.env["release.repository"].search([("pipeline_ids", "in", pipeline.id)]) | pipeline.repository_id
        when = fields.Datetime.to_string(slot)
        for repository in repositories.filtered("active"):
            ref = f"refs/heads/{repository.default_branch}"
            try:
                sha = branch_head(repository.url, repository.default_branch, self.env["release.settings"]._path("git-mirrors"))
            except GitSourceError as exc:
                pipeline.message_post(
                    body=self.env._("Scheduled run of %(slot)s UTC on %(repo)s not started: %(error)s", slot=when, repo=repository.name, error=exc)
                )
                continue
            params = {"repository": repository.name, "ref": ref, "sha": sha, "before": False, "pusher": "schedule", "trigger_kind": "schedule"}
            fingerprint = f"{pipeline._run_fingerprint(repository, params)}:schedule:{when}"
            if Run.search_count([("fingerprint", "=", fingerprint)]):
                continue
            run = pipeline._create_run(repository, params, fingerprint)
            run.message_post(
                body=self.env._(
                    "Started by the schedule %(schedule)s (slot %(slot)s UTC) at the head of %(branch)s.",
                    schedule=self.schedule,
                    slot=when,
                    branch=repository.default_branch,
                )
            )
            Run._wake_scheduler()
        if not repositories:
            _logger.info("schedule of %s: no repository carries it, nothing started", pipeline.code)

    # -- chains ----------------------------------------------------------------------------------
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
            params = {"repository": run.repository_id.name, "ref": run.ref, "sha": run.commit_sha, "before": False, "pusher": run.pusher or False, "trigger_kind": "pipeline"}
            fingerprint = f"{pipeline._run_fingerprint(run.repository_id, params)}:after:{run.id}"
            if Run.search_count([("fingerprint", "=", fingerprint)]):
                continue
            child = pipeline._create_run(run.repository_id, params, fingerprint)
            child.parent_run_id = run
            run.message_post(body=self.env._("Started %(run)s (chained).", run=child.display_name))
            child.message_post(body=self.env._("Started by %(run)s, which %(state)s.", run=run.display_name, state=run.state))
