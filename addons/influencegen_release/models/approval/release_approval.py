import hashlib
import json
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ...engine.approval import policy as policy_engine
from ...engine.source.git_source import GitSourceError, commit_author
from ...engine.vocabulary import ROLE_GROUP

APPROVAL_STATES = [
    ("pending", "Pending"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("void", "Void"),
]
ACTIVITY_TYPE = "influencegen_release.mail_activity_type_release_approval"
ESCALATION_TYPE = "influencegen_release.mail_activity_type_release_escalation"
DEPLOYABLE_KINDS = ("odoo_modules", "n8n_workflows", "image", "iac_plan")  # what an approval binds to


class ReleaseApproval(models.Model):
    """One request for a human decision on one stage of one run (UAT sign-off, Go/No-Go).

    Its state follows from its votes (``release.approval.vote``, immutable): approvers only
    ever create a vote, and the request's outcome is computed from the policy snapshot the
    run started with. A new artifact checksum voids the request; the run asks again.
    """

    _name = "release.approval"
    _description = "Approval Request (UAT sign-off, Go/No-Go)"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _mail_post_access = "read"  # approvers comment and close their activities without write rights

    run_id = fields.Many2one("release.run", required=True, ondelete="restrict", index=True, readonly=True)
    pipeline_id = fields.Many2one(related="run_id.pipeline_id", store=True, index=True)
    stage_id = fields.Many2one("release.stage", required=True, ondelete="restrict", readonly=True)
    stage_key = fields.Char(readonly=True)
    gate_id = fields.Many2one("release.gate", ondelete="restrict", readonly=True)
    environment_id = fields.Many2one(related="stage_id.environment_id", store=True)
    version = fields.Char(related="run_id.version")
    commit_sha = fields.Char(related="run_id.commit_sha", string="Commit")
    policy_json = fields.Text(string="Policy (JSON)", readonly=True, help="The stage's approval policy when requested.")
    state = fields.Selection(
        APPROVAL_STATES, compute="_compute_state", store=True, index=True, tracking=True, readonly=True
    )
    void_reason = fields.Char(readonly=True, tracking=True)
    artifact_sha256 = fields.Char(
        string="Artifact checksum",
        readonly=True,
        help="The approval binds to this exact artifact: the package's SHA-256, the same value as on its "
        "deployment (with several packages, one SHA-256 over all of them; before any package, over the commit).",
    )
    plan = fields.Text(readonly=True, help="What the deploy changes: the upgrade plan of an Odoo target, the infrastructure plan of an iac environment.")
    plan_digest = fields.Char(readonly=True, help="The deploy refuses to run a plan other than this one.")
    blocked_reason = fields.Char(
        readonly=True, tracking=True, help="Why no approver is asked yet: the Release Managers fix this first."
    )
    requested_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    deadline = fields.Datetime(readonly=True)
    reminded_at = fields.Datetime(readonly=True)
    escalated_at = fields.Datetime(readonly=True)
    vote_ids = fields.One2many("release.approval.vote", "approval_id", string="Decisions", readonly=True)
    decided_by_id = fields.Many2one("res.users", compute="_compute_state", store=True, string="Decided by")
    decided_at = fields.Datetime(compute="_compute_state", store=True)
    comment = fields.Text(compute="_compute_state", store=True, string="Deciding comment")
    excluded_user_ids = fields.Many2many(
        "res.users", string="Excluded (segregation of duties)", readonly=True, help="Author, pusher or triggering user."
    )
    exclusion_note = fields.Char(readonly=True)
    evidence_required = fields.Boolean(string="UAT evidence required", readonly=True)
    uat_session_ids = fields.One2many(related="run_id.uat_session_ids", string="UAT sessions")
    awaiting = fields.Char(compute="_compute_awaiting", help="Approvals still needed, per role.")
    can_decide = fields.Boolean(compute="_compute_can_decide")

    @api.depends("vote_ids.decision", "void_reason")
    def _compute_state(self):
        for approval in self:
            votes = approval.vote_ids.sorted("id")
            if approval.void_reason:
                state = "void"
            elif not approval.policy_json:
                state = "pending"
            else:
                state = policy_engine.outcome(approval._policy(), approval._votes(), approval._eligible_counts())
            approval.state = state
            last = votes[-1:] if state in ("approved", "rejected") else votes.browse()
            approval.decided_by_id = last.user_id
            approval.decided_at = last.create_date
            approval.comment = last.comment

    @api.depends("vote_ids", "state")
    def _compute_awaiting(self):
        for approval in self:
            pending = approval.state == "pending" and approval.policy_json
            approval.awaiting = ", ".join(policy_engine.missing(approval._policy(), approval._votes())) if pending else ""

    @api.depends_context("uid")
    @api.depends("state", "vote_ids")
    def _compute_can_decide(self):
        Vote = self.env["release.approval.vote"]
        for approval in self:
            approval.can_decide = not Vote._refusal(approval, self.env.user, policy_engine.REJECT)

    def _compute_display_name(self):
        for approval in self:
            approval.display_name = f"{approval.stage_id.name or ''} · {approval.run_id.display_name or ''}"

    # -- actions ----------------------------------------------------------------------------
    def action_approve(self):
        return self._open_decision(policy_engine.APPROVE)

    def action_reject(self):
        return self._open_decision(policy_engine.REJECT)

    def action_open_run(self):
        self.ensure_one()
        return self.run_id._action_open()

    @api.model
    def api_decide(self, approval_id, decision, comment=""):
        """Approve or reject (``decision``) request ``approval_id`` as the calling user."""
        approval = self.browse(int(approval_id)).exists()
        if not approval:
            raise UserError(self.env._("There is no approval request %(id)s.", id=approval_id))
        approval.check_access("read")
        approval._decide(decision, comment or "")
        return approval._status()

    # -- decisions; requests, activities, deadlines (called by the run's state machine) --------
    def _decide(self, decision, comment):
        """Record the current user's vote; the request's state follows from the votes."""
        self.ensure_one()
        return self.env["release.approval.vote"].create({"approval_id": self.id, "decision": decision, "comment": comment})

    @api.model
    def _decision(self, run, stage_spec, jobs):
        """pending, approved or rejected: the current request of the run's stage (``jobs`` are
        its jobs), asked for when missing and asked for again when the artifact it was bound
        to changed."""
        checksum = self._release_checksum(run)
        approvals = run.approval_ids.filtered(lambda a: a.stage_key == stage_spec["key"] and a.state != "void")
        current = approvals.sorted("id")[-1:]
        if current and current.artifact_sha256 != checksum:
            current._void(
                self.env._(
                    "the artifact changed from %(old)s to %(new)s", old=(current.artifact_sha256 or "")[:12], new=checksum[:12]
                )
            )
            current = approvals.browse()
        if not current:
            self._request(run, stage_spec, jobs[:1].stage_id, checksum)
            return "pending"
        if current.state == "pending":
            current._retry_plan()
            current._sync_activities()
        return current.state

    @api.model
    def _release_checksum(self, run):
        """What approvals bind to: the deployable artifact of the run (its own sha256), a digest
        of several, else a digest of its commit."""
        artifacts = run.artifact_ids.filtered(lambda a: a.kind in DEPLOYABLE_KINDS and a.sha256)
        if len(artifacts) == 1:  # the package's own checksum: the value its deployment shows
            return artifacts.sha256
        lines = sorted(f"{a.kind}:{a.name}:{a.sha256}" for a in artifacts) or [f"commit:{run.commit_sha}"]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    @api.model
    def _excluded_approvers(self, run, exclusions):
        """Users who may not decide on the run's change, and why (segregation of duties)."""
        Users = self.env["res.users"].with_context(active_test=False)
        excluded, notes = Users, []
        if "triggerer" in exclusions:
            excluded |= run.triggered_by_id
            notes.append(self.env._("%(user)s triggered the run", user=run.triggered_by_id.name))
            if run.pusher:
                pushers = Users.search(["|", ("login", "=ilike", run.pusher), ("email", "=ilike", run.pusher)])
                excluded |= pushers
                notes += [self.env._("%(user)s pushed it", user=u.name) for u in pushers]
        if "author" in exclusions and run.repository_id and run.commit_sha:
            try:
                name, email = commit_author(run.repository_id.url, run.commit_sha, self.env["release.settings"]._path("git-mirrors"))
            except GitSourceError as exc:
                notes.append(self.env._("commit author unknown: %(error)s", error=exc))
            else:
                authors = Users.search(["|", ("email", "=ilike", email), ("login", "=ilike", email)]) if email else Users
                excluded |= authors
                who = ", ".join(authors.mapped("name")) or name  # a person's name, never an address
                notes.append(self.env._("%(name)s authored the commit", name=who))
        return excluded, "; ".join(notes)

    @api.model
    def _request(self, run, stage_spec, stage, checksum):
        spec_policy = stage_spec["approval"]
        now = fields.Datetime.now()
        excluded, note = self._excluded_approvers(run, spec_policy.get("exclude", []))
        environment = run.job_ids.filtered(lambda j: j.stage_key == stage_spec["key"]).environment_id[:1]
        plan, plan_digest = environment._deployer()._plan(environment, run) if environment else (False, False)
        approval = self.create(
            {
                "run_id": run.id,
                "stage_id": stage.id,
                "stage_key": stage_spec["key"],
                "gate_id": stage.gate_ids.filtered(lambda g: g.gate_type == "manual")[:1].id,
                "policy_json": json.dumps(spec_policy, sort_keys=True),
                "artifact_sha256": checksum,
                "deadline": now + timedelta(seconds=spec_policy.get("deadline", 72 * 3600)),
                "excluded_user_ids": [fields.Command.set(excluded.ids)],
                "exclusion_note": note,
                "evidence_required": spec_policy.get("evidence") == "uat",
                "plan": plan,
                "plan_digest": plan_digest,
                # A deployer that plans and could not: nobody can approve what cannot be shown.
                "blocked_reason": plan if plan and not plan_digest else False,
            }
        )
        approval._sync_activities()
        run.message_post(
            body=self.env._(
                "Stage %(stage)s waits for approval (%(awaiting)s).", stage=stage_spec["name"], awaiting=approval.approver_status
            )
            if not approval.blocked_reason
            else self.env._("Stage %(stage)s is blocked: %(why)s", stage=stage_spec["name"], why=approval.blocked_reason)
        )
        if not approval.blocked_reason:
            approval._notify_requested()
        return approval

    def _notify_requested(self):
        """Queue the pipeline's ``approval_requested`` notifications (email, Slack), once per stage."""
        self.ensure_one()
        run = self.run_id
        subject = self.env._("%(run)s: %(stage)s waits for approval", run=run.display_name, stage=self.stage_id.name)
        body = self.env._("%(subject)s (%(awaiting)s).\n%(url)s", subject=subject, awaiting=self.approver_status, url=run._url())
        self.env["release.notification"]._enqueue(run, "approval_requested", subject, body, stage_key=self.stage_key)

    def _void(self, reason):
        for approval in self.filtered(lambda a: a.state in ("pending", "approved")):
            approval.void_reason = reason
            approval._close_activities(approval.activity_ids, reason)
            approval.message_post(body=self.env._("Void: %(reason)s", reason=reason))

    def _check_deadlines(self, now):
        """Remind the awaited approvers after ``remind``; past the deadline, escalate once."""
        for approval in self.filtered(lambda a: a.state == "pending"):
            policy = approval._policy()
            remind_at = approval.requested_at + timedelta(seconds=policy.get("remind", 24 * 3600))
            if not approval.reminded_at and now >= remind_at:
                approval.reminded_at = now
                approval._notify_inbox(
                    approval._awaited_users(),
                    self.env._("Reminder: your decision is awaited (%(awaiting)s).", awaiting=approval.approver_status),
                )
            if not approval.escalated_at and approval.deadline and now >= approval.deadline:
                approval.escalated_at = now
                group = self.env.ref(ROLE_GROUP % policy.get("escalate_to", "release_manager"))
                managers = group.users.filtered("active")
                for user in managers:
                    approval._schedule_activity(ESCALATION_TYPE, user, self.env._("Overdue: %(name)s", name=approval.display_name))
                approval._notify_inbox(
                    managers, self.env._("Overdue, escalated to you: nobody decided in time (%(awaiting)s).", awaiting=approval.approver_status)
                )
                approval.message_post(
                    body=self.env._(
                        "The deadline passed without a decision (%(awaiting)s): escalated to %(group)s.",
                        awaiting=approval.approver_status,
                        group=group.name,
                    )
                )

    # -- helpers ----------------------------------------------------------------------------
    def _policy(self):
        return json.loads(self.policy_json or '{"rules": []}')

    def _votes(self):
        return [policy_engine.Vote(v.user_id.id, v.role, v.decision) for v in self.vote_ids]

    def _user_roles(self, user):
        return {rule["group"] for rule in self._policy()["rules"] if user.has_group(ROLE_GROUP % rule["group"])}

    def _role_users(self, role):
        return self.env.ref(ROLE_GROUP % role).users.filtered(lambda u: u.active and not u.share)

    def _eligible_counts(self):
        return {
            rule["group"]: len(self._role_users(rule["group"]) - self.excluded_user_ids)
            for rule in self._policy()["rules"]
        }

    def _awaited_users(self):
        voted = self.vote_ids.user_id
        users = self.env["res.users"]
        if self.blocked_reason:
            return users
        for role in policy_engine.open_roles(self._policy(), self._votes()):
            users |= self._role_users(role)
        return users - voted - self.excluded_user_ids

    def _open_decision(self, decision):
        self.ensure_one()
        refusal = self.env["release.approval.vote"]._refusal(self, self.env.user, decision)
        if refusal:
            raise refusal[0](refusal[1])
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Approve") if decision == policy_engine.APPROVE else self.env._("Reject"),
            "res_model": "release.approval.decision",
            "view_mode": "form",
            "views": [(False, "form")],  # also opened by the web client's doAction (My approvals)
            "target": "new",
            "context": {"default_approval_id": self.id, "default_decision": decision},
        }

    def _status(self):
        self.ensure_one()
        return {
            "id": self.id,
            "state": self.state,
            "run": self.run_id.id,
            "stage": self.stage_id.name,
            "awaiting": self.awaiting or False,
            "artifact_sha256": self.artifact_sha256 or False,
            "votes": self.vote_ids.sorted("id")._status(),
        }
