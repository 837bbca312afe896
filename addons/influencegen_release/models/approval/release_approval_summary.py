from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools.misc import format_datetime

from ...engine.approval import policy as policy_engine
from ...engine.source.git_source import GitSourceError, commits_between
from ...engine.vocabulary import ROLE_GROUP, count_by_severity

SHORT = 12  # characters of a sha or checksum shown; the whole value is copied or in the title
MAX_COMMITS = 20
MAX_FINDINGS = 10
FINDING_URL = "/odoo/action-influencegen_release.action_release_finding/%s"
UAT_URL = "/odoo/action-influencegen_release.action_release_uat_session/%s"


# One extension per concern, each in a file named after what it adds (the team's rule for
# a model near 400 lines): release_approval_activity.py is the other one.
class ReleaseApproval(models.Model):
    """What the approvers approve, read when they look (never a snapshot from request time):
    ``_what_you_approve`` is the one source of the card of My approvals, the decision dialog,
    the form's summary and the inbox messages."""

    _inherit = "release.approval"  # pylint: disable=consider-merging-classes-inherited

    summary = fields.Html(compute="_compute_summary", sanitize=False, help="What is released, as it stands now.")
    finding_summary = fields.Char(compute="_compute_finding_summary", string="Findings")
    approver_status = fields.Char(compute="_compute_approver_status", string="Approvers", help="Each rule of the policy, by name.")
    deadline_local = fields.Char(compute="_compute_local_times", string="Deadline (your time)")

    @api.depends_context("tz", "uid")
    def _compute_summary(self):
        for approval in self:
            approval.summary = approval._render_summary() if approval.id else False

    @api.depends("run_id.finding_ids")
    def _compute_finding_summary(self):
        for approval in self:
            findings = approval.run_id.finding_ids
            counts = count_by_severity(findings.mapped("severity"))
            approval.finding_summary = self.env._(
                "%(total)s findings: %(critical)s critical, %(high)s high, %(medium)s medium; %(waived)s waived",
                total=len(findings),
                waived=len(findings.filtered("waived")),
                critical=counts["critical"],
                high=counts["high"],
                medium=counts["medium"],
            )

    @api.depends("vote_ids", "state", "excluded_user_ids")
    def _compute_approver_status(self):
        for approval in self:
            approval.approver_status = "; ".join(approval._approver_lines())

    @api.depends_context("tz")
    @api.depends("deadline")
    def _compute_local_times(self):
        for approval in self:
            approval.deadline_local = approval._local_time(approval.deadline)

    # -- actions ----------------------------------------------------------------------------
    @api.model
    def api_my_approvals(self):
        """The pending requests that await the current user's decision, and those blocked for
        the Release Managers, with what they decide on (``facts``: ``_what_you_approve``)."""
        now = fields.Datetime.now()
        user = self.env.user
        pending = self.search([("state", "=", "pending")])
        mine = pending.filtered(
            lambda a: user in a._awaited_users() or (a.blocked_reason and user in a._role_users("release_manager"))
        )
        Vote = self.env["release.approval.vote"]
        result = []
        for approval in mine.sorted("deadline"):
            environment = approval.environment_id
            is_open, when, why = environment._window_state(now) if environment else (True, None, "")
            refusal = Vote._refusal(approval, user, policy_engine.APPROVE)
            if not refusal and approval.evidence_required and not Vote._evidence(approval):
                refusal = (None, self.env._("Approve needs a passed UAT session of this run first: record it here."))
            result.append(
                {
                    "id": approval.id,
                    "name": approval.display_name,
                    "run": {"id": approval.run_id.id, "name": approval.run_id.display_name},
                    "pipeline": approval.pipeline_id.display_name,
                    "version": approval.version or False,
                    "commit": approval.commit_sha or False,
                    "ref": approval.run_id.ref,
                    "checksum": approval.artifact_sha256 or False,
                    "environment": environment.display_name or False,
                    "window": {
                        "name": environment.calendar_id.name or False,
                        "open": is_open,
                        "when": approval._local_time(when) if when else False,
                        "why": why or False,
                    },
                    "findings": approval.finding_summary,
                    "plan": approval.plan or False,
                    "awaiting": approval.approver_status or False,
                    "deadline": approval._local_time(approval.deadline),
                    "evidence_required": approval.evidence_required,
                    "blocked": approval.blocked_reason or False,
                    "can_approve": not refusal,
                    "approve_blocker": refusal[1] if refusal else False,
                    "comment_required": bool(approval._policy().get("comment_required")),
                    "facts": approval._what_you_approve(),
                }
            )
        return result

    def action_record_uat(self):
        """The tester's UAT session of this run, in a dialog: a draft of theirs, else a new one."""
        self.ensure_one()
        Session = self.env["release.uat.session"]
        draft = Session.search([("run_id", "=", self.run_id.id), ("state", "=", "draft"), ("tester_id", "=", self.env.uid)], limit=1)
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Record UAT session"),
            "res_model": "release.uat.session",
            "res_id": draft.id or False,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_run_id": self.run_id.id, "igr_close_on_submit": True},
        }

    # -- what you approve -------------------------------------------------------------------
    def _what_you_approve(self):
        """Everything an approver needs, read now, as plain values (the card renders them)."""
        self.ensure_one()
        run, environment = self.run_id, self.environment_id
        running = environment.current_deployment_id if environment else self.env["release.deployment"]
        package = run.artifact_ids.filtered(lambda a: a.sha256 and a.sha256 == self.artifact_sha256)[:1]
        return {
            "version": run.version or False,
            "commit": run.commit_sha or False,
            "ref": run.ref,
            "checksum": self.artifact_sha256 or False,
            "package": {"name": package.name, "version": package.version or False} if package else False,
            "environment": environment.display_name or False,
            "running": {
                "version": running.version or False,
                "commit": running.commit_sha or False,
                "since": self._local_time(running.finished_at or running.started_at),
            }
            if running
            else False,
            "commits": self._commits_since(running.commit_sha),
            "tests": self._test_totals(),
            "gates": [
                {"name": g.name, "stage": g.stage_key, "result": g.result, "explanation": g.explanation or ""}
                for g in run.gate_result_ids.sorted("id")
            ],
            "findings": self._new_findings(),
            "uat": self._uat_result(),
            "plan": self.plan or False,
            "blocked": self.blocked_reason or False,
            "extras": self._summary_extras(),
            "rollback": self._rollback_plan(running),
            "approvers": self._approver_lines(),
            "deadline": self._local_time(self.deadline),
        }

    def _summary_extras(self):
        """``[{label, text}]`` more facts for approvers (a delivery's rehearsal, an n8n plan):
        extensions add theirs here."""
        return []

    def _commits_since(self, running_sha):
        """The commits this release adds to what the target runs (all when nothing runs)."""
        run = self.run_id
        if not (run.repository_id and run.commit_sha):
            return {"items": [], "more": False, "error": self.env._("no repository: the commits cannot be read")}
        if running_sha == run.commit_sha:
            return {"items": [], "more": False, "error": False}
        mirrors = self.env["release.settings"]._path("git-mirrors")
        try:
            commits = commits_between(run.repository_id.url, running_sha or None, run.commit_sha, mirrors, MAX_COMMITS + 1)
        except GitSourceError as exc:
            return {"items": [], "more": False, "error": str(exc)}
        items = [{"sha": sha, "subject": subject, "author": author} for sha, subject, author in commits[:MAX_COMMITS]]
        return {"items": items, "more": len(commits) > MAX_COMMITS, "error": False}

    def _test_totals(self):
        jobs = self.run_id.job_ids.filtered("tests_total")
        if not jobs:
            return False
        total, failed, errors, skipped = (sum(jobs.mapped(f)) for f in ("tests_total", "tests_failed", "tests_errors", "tests_skipped"))
        return {"total": total, "passed": total - failed - errors - skipped, "failed": failed, "errors": errors, "skipped": skipped}

    def _new_findings(self):
        """The run's findings a baseline does not have (all of them without a baseline)."""
        run = self.run_id
        baseline = run.gate_result_ids.baseline_run_id.sorted("id")[-1:]
        known = set(baseline.finding_ids.filtered(lambda f: not f.waived).mapped("fingerprint"))
        new = run.finding_ids.filtered(lambda f: not f.waived and f.fingerprint not in known)
        return {
            "summary": self.finding_summary,
            "baseline": baseline.display_name or False,
            "count": len(new),
            "items": [
                {
                    "id": f.id,
                    "url": FINDING_URL % f.id,
                    "severity": f.severity,
                    "rule": f.rule,
                    "where": f"{f.file}:{f.line}" if f.file and f.line else f.file or "",
                    "message": (f.message or "")[:160],
                }
                for f in new[:MAX_FINDINGS]
            ],
        }

    def _uat_result(self):
        session = self.run_id.uat_session_ids.filtered(lambda s: s.state == "submitted").sorted("id")[-1:]
        if not session:
            return False
        return {
            "id": session.id,
            "url": UAT_URL % session.id,
            "result": dict(session._fields["result"]._description_selection(self.env)).get(session.result, session.result),
            "passed": session.result == "passed",
            "tester": session.tester_id.name,
            "when": self._local_time(session.submitted_at),
            "environment": session.environment_id.display_name or False,
        }

    def _rollback_plan(self, running):
        rollback = self.run_id._spec().get("rollback") or {}
        strategy = rollback.get("strategy", "none")
        if strategy == "none":
            return self.env._("No rollback in the pipeline: a failed deploy is fixed forward.")
        if not running:
            return self.env._("Nothing runs on the target yet: a failed first deploy has no earlier version to go back to.")
        return self.env._(
            "If the deploy fails: %(strategy)s back to %(version)s (%(commit)s)%(database)s, %(how)s.",
            strategy=strategy.replace("_", " "),
            version=running.version or self.env._("the running version"),
            commit=(running.commit_sha or "")[:SHORT] or "-",
            database=self.env._(", with the database restored from the backup") if rollback.get("restore_database") else "",
            how=self.env._("automatically") if rollback.get("automatic") else self.env._("by a Release Manager"),
        )

    def _approver_lines(self):
        """``QA Lead: 0 of 1 (Jane Doe pending)``: each rule by role name and people."""
        self.ensure_one()
        if not self.policy_json:
            return []
        lines, first_open = [], None
        for rule in policy_engine.standing(self._policy(), self._votes()):
            group = self.env.ref(ROLE_GROUP % rule["role"])
            votes = self.vote_ids.filtered(lambda v, r=rule["role"]: v.role == r)
            people = [self.env._("%(name)s approved", name=v.user_id.name) for v in votes if v.decision == policy_engine.APPROVE]
            people += [self.env._("%(name)s rejected", name=v.user_id.name) for v in votes if v.decision == policy_engine.REJECT]
            if rule["approved"] < rule["quorum"] and self.state == "pending":
                waiting = self._role_users(rule["role"]) - self.excluded_user_ids - self.vote_ids.user_id
                if rule["open"]:
                    first_open = first_open or group.name
                    if waiting:
                        people.append(self.env._("%(names)s pending", names=", ".join(waiting.mapped("name"))))
                    else:
                        people.append(self.env._("nobody left to ask"))
                else:
                    people.append(self.env._("after %(role)s", role=first_open or "-"))
            line = self.env._("%(role)s: %(approved)s of %(quorum)s", role=group.name, approved=rule["approved"], quorum=rule["quorum"])
            lines.append(f"{line} ({'; '.join(people)})" if people else line)
        return lines

    def _local_time(self, value):
        """``value`` (naive UTC) in the reader's time zone, named: '12/01/2026 21:30:00 (Europe/Brussels)'."""
        if not value:
            return False
        tz = self.env.context.get("tz") or self.env.user.tz or "UTC"
        return f"{format_datetime(self.env, value, tz=tz, dt_format='medium')} ({tz})"

    def _render_summary(self):
        """The facts of ``_what_you_approve`` as the HTML of the form, the dialog and the inbox."""
        facts = self._what_you_approve()
        run = self.run_id

        def sha(value):
            return Markup('<code title="%s">%s</code>') % (value, value[:SHORT]) if value else "-"

        commits = facts["commits"]
        if commits["error"]:
            changes = commits["error"]
        elif commits["items"]:
            changes = Markup("<ul>%s</ul>") % Markup("").join(
                Markup("<li>%s %s <i>(%s)</i></li>") % (sha(c["sha"]), c["subject"], c["author"]) for c in commits["items"]
            )
            if commits["more"]:
                changes += self.env._("… and more")
        else:
            changes = self.env._("none: the target runs this commit")
        tests = facts["tests"]
        findings = facts["findings"]
        new = Markup("").join(
            Markup('<li><a href="%s">%s %s</a> %s %s</li>') % (f["url"], f["severity"], f["rule"], f["where"], f["message"])
            for f in findings["items"]
        )
        uat = facts["uat"]
        running = facts["running"]
        rows = [
            (self.env._("Pipeline"), run.pipeline_id.display_name),
            (self.env._("Run"), Markup('<a href="%s">%s</a>') % (run._url(), run.display_name)),
            (self.env._("Version"), facts["version"] or self.env._("not versioned yet")),
            (self.env._("Commit"), Markup("%s (%s)") % (sha(facts["commit"]), facts["ref"])),
            (self.env._("Artifact checksum"), sha(facts["checksum"])),
            (self.env._("Target environment"), facts["environment"] or "-"),
            (
                self.env._("Running there now"),
                Markup("%s (%s), %s") % (running["version"] or "-", sha(running["commit"]), running["since"] or "-")
                if running
                else self.env._("nothing deployed yet"),
            ),
            (self.env._("Changes"), changes),
            (
                self.env._("Tests"),
                self.env._("%(total)s: %(passed)s passed, %(failed)s failed, %(errors)s errors, %(skipped)s skipped", **tests)
                if tests
                else self.env._("no test report"),
            ),
            (
                self.env._("Gates"),
                Markup("<br/>").join(Markup("%s: <b>%s</b> %s") % (g["name"], g["result"], g["explanation"]) for g in facts["gates"])
                or self.env._("none judged yet"),
            ),
            (
                self.env._("Findings"),
                Markup("%s<br/>%s%s") % (
                    findings["summary"],
                    self.env._("%(count)s new since %(baseline)s", count=findings["count"], baseline=findings["baseline"] or self.env._("no baseline")),
                    Markup("<ul>%s</ul>") % new if new else "",
                ),
            ),
            (
                self.env._("UAT"),
                Markup('<a href="%s">%s</a> %s') % (uat["url"], uat["result"], self.env._("by %(tester)s, %(when)s", tester=uat["tester"], when=uat["when"]))
                if uat
                else self.env._("no UAT session recorded"),
            ),
            *((extra["label"], extra["text"]) for extra in facts["extras"]),
            (self.env._("Rollback"), facts["rollback"]),
            (self.env._("Approvers"), Markup("<br/>").join(facts["approvers"]) or "-"),
            (self.env._("Deadline"), facts["deadline"] or "-"),
        ]
        body = Markup("").join(Markup("<tr><th>%s</th><td>%s</td></tr>") % row for row in rows)
        blocked = Markup('<p class="text-danger"><b>%s</b> %s</p>') % (self.env._("Blocked:"), facts["blocked"]) if facts["blocked"] else ""
        plan = Markup("<p><b>%s</b></p><pre>%s</pre>") % (self.env._("Plan"), self.plan) if self.plan else ""
        return Markup('%s<table class="table table-sm o_igr_summary">%s</table>%s') % (blocked, body, plan)
