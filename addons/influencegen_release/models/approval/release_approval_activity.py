from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup

from odoo import fields, models

from .release_approval import ACTIVITY_TYPE

BLOCKER_TYPE = "influencegen_release.mail_activity_type_release_blocker"
CLOSING = "igr_approval_closing"  # context key: the request itself closes its activities
INBOX = "igr_inbox"  # context key: the message goes to its recipients' Discuss inbox
PLAN_RETRY = timedelta(minutes=5)  # a blocked request computes its plan again this often


class ReleaseApproval(models.Model):
    """How a request reaches people. Each awaited approver gets one decision activity, due
    today (the decision is wanted now, so it counts in the activity menu; the request's own
    deadline is in its note), and a message in their Discuss inbox with the summary and a
    link, whatever their notification preference. The activity has no exit but Approve and
    Reject (``mail.activity`` refuses Mark Done and Cancel on it). Reminders and escalations
    arrive the same way. A request whose deploy plan cannot be computed asks nobody to
    approve: it goes to the Release Managers as a blocker until the plan can be computed."""

    _inherit = "release.approval"

    plan_checked_at = fields.Datetime(readonly=True, help="When the plan of a blocked request was last computed.")

    def _sync_activities(self):
        """One open activity per person whose vote is awaited now, none for anybody else; the
        Release Managers' blocker while the plan cannot be computed."""
        activity_type = self.env.ref(ACTIVITY_TYPE)
        for approval in self:
            wanted = approval._awaited_users() if approval.state == "pending" else self.env["res.users"]
            open_activities = approval.activity_ids.filtered(lambda a: a.activity_type_id == activity_type)
            approval._close_activities(
                open_activities.filtered(lambda a, w=wanted: a.user_id not in w),
                self.env._("No longer awaited from you."),
            )
            asked = wanted - open_activities.user_id
            for user in asked:
                approval._schedule_activity(ACTIVITY_TYPE, user, self.env._("Decide: %(name)s", name=approval.display_name))
            approval._notify_inbox(asked, self.env._("Your decision is requested: approve or reject."))
            approval._sync_blocker()

    def _sync_blocker(self):
        self.ensure_one()
        blocker_type = self.env.ref(BLOCKER_TYPE)
        blocked = self.state == "pending" and self.blocked_reason
        managers = self._role_users("release_manager") if blocked else self.env["res.users"]
        open_blockers = self.activity_ids.filtered(lambda a: a.activity_type_id == blocker_type)
        self._close_activities(
            open_blockers.filtered(lambda a: a.user_id not in managers), self.env._("The plan can be computed again.")
        )
        told = managers - open_blockers.user_id
        for user in told:
            self._schedule_activity(BLOCKER_TYPE, user, self.env._("Blocked: %(name)s", name=self.display_name))
        self._notify_inbox(
            told,
            self.env._(
                "Blocked: no approver is asked until the deploy plan can be computed (%(why)s). "
                "Fix the environment; the plan is computed again every few minutes.",
                why=self.blocked_reason,
            ),
        )

    def _retry_plan(self):
        """Blocked requests compute their plan again (at most every PLAN_RETRY); once it can be
        computed, the approvers are asked and bound to it."""
        now = fields.Datetime.now()
        for approval in self.filtered(lambda a: a.blocked_reason):
            if approval.plan_checked_at and approval.plan_checked_at + PLAN_RETRY > now:
                continue
            environment = approval.run_id.job_ids.filtered(lambda j, a=approval: j.stage_key == a.stage_key).environment_id[:1]
            plan, digest = environment._deployer()._plan(environment, approval.run_id) if environment else (False, False)
            approval.write(
                {"plan": plan, "plan_digest": digest, "plan_checked_at": now, "blocked_reason": plan if plan and not digest else False}
            )
            if not approval.blocked_reason:
                approval.message_post(body=self.env._("The deploy plan can be computed now: the approvers are asked."))
                approval._notify_requested()

    def _schedule_activity(self, xmlid, user, summary):
        """An activity due today in ``user``'s time zone, its note the request's deadline."""
        self.ensure_one()
        local = self.with_context(tz=user.tz or "UTC")
        note = Markup("<p>%s</p>") % self.env._(
            "Wanted now; the deadline is %(deadline)s.", deadline=local._local_time(self.deadline) or "-"
        )
        # Who reads their inbox gets the request's own message (_notify_inbox); who reads
        # mail also gets Odoo's "assigned to you" email.
        quiet = user.notification_type == "inbox"
        return self.with_context(mail_activity_quick_update=quiet).activity_schedule(
            xmlid, date_deadline=fields.Date.context_today(local), summary=summary, note=note, user_id=user.id
        )

    def _notify_inbox(self, users, headline):
        """A note on the request addressed to ``users`` (internal ones), in their Discuss inbox
        to be read: the headline, what they decide on, in their time zone, and a link."""
        self.ensure_one()
        by_tz = defaultdict(lambda: self.env["res.users"])
        for user in users.filtered(lambda u: not u.share and u.active):
            by_tz[user.tz or "UTC"] |= user
        for tz, group in by_tz.items():
            local = self.with_context(tz=tz)
            link = Markup('<p><a href="%s">%s</a> · <a href="%s">%s</a></p>') % (
                "/odoo/release-my-approvals",
                self.env._("Open my approvals"),
                f"/odoo/action-influencegen_release.action_release_approval/{self.id}",
                self.env._("Open the request"),
            )
            body = Markup("<p><b>%s</b></p>%s%s") % (headline, local._render_summary(), link)
            local.with_context(**{INBOX: True}).message_post(
                body=body, partner_ids=group.partner_id.ids, message_type="comment", subtype_xmlid="mail.mt_note"
            )

    def _close_activities(self, activities, feedback):
        for activity in activities:
            activity.with_context(**{CLOSING: True}).action_feedback(feedback=feedback)

    def _notify_get_recipients(self, message, msg_vals, **kwargs):
        recipients = super()._notify_get_recipients(message, msg_vals, **kwargs)
        if self.env.context.get(INBOX):
            for recipient in recipients:
                if recipient.get("uid") and not recipient.get("share"):
                    recipient["notif"] = "inbox"
        return recipients
