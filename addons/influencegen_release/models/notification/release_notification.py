import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.tools import html2plaintext, plaintext2html

from ...engine.execution.masking import Masker
from ...engine.execution.stages import stage_events, stage_state
from ...engine.pipeline.spec import NOTIFY_EVENTS
from ...engine.vocabulary import ROLE_GROUP

_logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_MINUTES = (1, 2, 4, 8, 16)  # wait after the 1st, 2nd... failed attempt
BATCH_SIZE = 50  # notifications sent per cron run; the cron re-runs itself while more are due
SLACK_TIMEOUT_S = 5
PLAN_LINES = 50  # changes listed in a plan_ready message
FAILURE_EVENTS = {"build_failed", "validation_failed", "scan_failed", "run_failed"}
# What a failed quality gate is called, by pipeline kind (the seed's notification events).
GATE_FAILURE_EVENT = {"odoo": "build_failed", "n8n": "validation_failed", "iac": "validation_failed", "docker": "scan_failed"}


class ReleaseNotification(models.Model):
    """Outbox of pipeline notifications: queued by runs, delivered by a cron with retries.

    Queuing only writes records, so a run never waits for (or fails because of) a mail
    server or a Slack webhook. Webhook URLs are secrets: only their reference is stored.
    The rules a run follows are those of its snapshot (``notifications`` of the pipeline spec
    it started with): the ``release.notification.rule`` records only show them.
    """

    _name = "release.notification"
    _description = "Pipeline Notification (outbox)"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _rec_name = "subject"

    run_id = fields.Many2one("release.run", required=True, readonly=True, ondelete="cascade", index=True)
    pipeline_id = fields.Many2one("release.pipeline", required=True, readonly=True, ondelete="cascade", index=True)
    event = fields.Selection(
        [(event, event.replace("_", " ").capitalize()) for event in NOTIFY_EVENTS], required=True, readonly=True
    )
    channel = fields.Selection([("email", "Email"), ("slack", "Slack")], required=True, readonly=True)
    subject = fields.Char(required=True, readonly=True)
    body = fields.Text(readonly=True, help="Plain text.")
    partner_ids = fields.Many2many("res.partner", string="Email recipients", readonly=True)
    webhook_ref = fields.Char(
        string="Slack webhook reference", readonly=True, help="env:NAME, file:/path or param:key; resolved when sending."
    )
    state = fields.Selection(
        [("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
        required=True,
        default="pending",
        readonly=True,
        index=True,
        tracking=True,
    )
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(string="Next attempt", readonly=True, default=fields.Datetime.now, index=True)
    last_error = fields.Text(readonly=True)
    sent_at = fields.Datetime(readonly=True)
    mail_id = fields.Many2one("mail.mail", string="Email", readonly=True, ondelete="set null")
    stage_key = fields.Char(
        readonly=True, index=True, help="The stage whose outcome this notifies: each event once per run and stage."
    )

    # -- actions ------------------------------------------------------------------------------
    def action_retry(self):
        """Send again at once: a failed notification gets one more attempt."""
        to_retry = self.filtered(lambda n: n.state != "sent")
        to_retry.write({"state": "pending", "next_attempt_at": fields.Datetime.now()})
        if to_retry:
            self._wake_delivery()
        return True

    # -- queuing ------------------------------------------------------------------------------
    @api.model
    def _enqueue(self, run, event, subject, body, stage_key=False):
        """Queue one notification per channel of each rule of the run's snapshot that listens to
        ``event``; note on the run what was queued and wake the delivery cron. With
        ``stage_key``, an event already queued for that stage of the run is not queued again.

        ``body`` is plain text (HTML, as Markup, is converted). Never raises into the caller
        (a run's state machine): a problem is logged and nothing is queued.
        """
        try:
            with self.env.cr.savepoint():
                return self._enqueue_unsafe(run, event, subject, body, stage_key)
        except Exception:  # notifications must never block a run
            _logger.exception("run %s: notifications of %s not queued", run.id, event)
            return self.browse()

    def _enqueue_unsafe(self, run, event, subject, body, stage_key):
        outbox = self
        if event not in NOTIFY_EVENTS:
            _logger.warning("run %s: unknown notification event %r ignored", run.id, event)
            return outbox
        rules = self._rules_for(run, event, stage_key)
        if not rules:
            return outbox
        if callable(body):
            body = body()
        if isinstance(body, Markup):
            body = html2plaintext(body)
        body = f"{body or ''}\n\n{run._url()}".strip()
        followers = run.pipeline_id.message_partner_ids
        values = []
        for rule in rules:
            channels = rule.get("channels", [])
            common = {
                "run_id": run.id,
                "pipeline_id": run.pipeline_id.id,
                "event": event,
                "subject": subject,
                "body": body,
                "stage_key": stage_key or False,
            }
            if "email" in channels:
                partners = (followers | self._rule_users([rule]).filtered("active").partner_id).filtered("email")
                values.append(dict(common, channel="email", partner_ids=[Command.set(partners.ids)]))
            if "slack" in channels:
                values.append(dict(common, channel="slack", webhook_ref=rule.get("slack_webhook") or False))
        notifications = outbox.create(values)
        unaddressed = notifications.filtered(lambda n: n.channel == "email" and not n.partner_ids)
        unaddressed.write({"state": "failed", "next_attempt_at": False, "last_error": self.env._("No recipient has an email address.")})
        run.message_post(
            body=self.env._(
                "Notifications queued for %(event)s: %(channels)s.",
                event=event,
                channels=", ".join(n._describe() for n in notifications),
            ),
            message_type="comment",
            subtype_xmlid="mail.mt_note",
        )
        if notifications - unaddressed:
            self._wake_delivery()
        return notifications

    def _rules_for(self, run, event, stage_key=False):
        """The rules of the run's snapshot listening to ``event``; none when this stage already notified it."""
        rules = [rule for rule in run._spec().get("notifications", []) if event in rule.get("events", [])]
        if rules and stage_key:
            done = self.search_count(
                [("run_id", "=", run.id), ("event", "=", event), ("stage_key", "=", stage_key)], limit=1
            )
            return [] if done else rules
        return rules

    def _rule_users(self, rules):
        """The members of the groups (roles) snapshot ``rules`` notify."""
        groups = self.env["res.groups"]
        for role in {role for rule in rules for role in rule.get("groups", [])}:
            groups |= self.env.ref(ROLE_GROUP % role)
        return groups.users

    @api.model
    def _notify_stage(self, run, stage_spec, outcome):
        """Queue what a finished stage of the run's spec (``outcome``: 'succeeded' or 'failed')
        tells the pipeline's rules. Safe to call on every tick: each event once per stage."""
        notifications = self.browse()
        for event in self._events_for_stage(stage_spec, outcome):
            subject = self.env._(
                "%(run)s: %(stage)s: %(event)s",
                run=run.display_name,
                stage=stage_spec.get("name"),
                event=dict(self._fields["event"]._description_selection(self.env)).get(event, event),
            )
            notifications |= self._enqueue(
                run, event, subject, lambda e=event: self._stage_body(run, stage_spec, outcome, e), stage_spec.get("key")
            )
        return notifications

    @api.model
    def _notify_run(self, run):
        """Queue run_succeeded or run_failed for a finished run."""
        if run.state not in ("succeeded", "failed"):
            return self.browse()
        subject = self.env._("%(run)s %(state)s", run=run.display_name, state=run.state)
        return self._enqueue(run, f"run_{run.state}", subject, lambda: self._run_body(run))

    def _run_body(self, run):
        lines = [self._run_line(run)]
        for stage in run._spec().get("stages", []):
            lines.append(f"- {stage['name']}: {stage_state(run._stage_jobs(stage))}")
        return "\n".join(lines)

    def _stage_body(self, run, stage_spec, outcome, event):
        lines = [self._run_line(run)]
        if stage_spec.get("environment"):
            lines.append(self.env._("Environment: %(environment)s", environment=stage_spec["environment"]))
        lines.append(self.env._("Stage %(stage)s %(outcome)s.", stage=stage_spec.get("name"), outcome=outcome))
        jobs = run.job_ids.filtered(lambda j: j.stage_key == stage_spec.get("key"))
        for job in jobs.filtered(lambda j: j.state == "failed"):
            reason = job.failure_reason or self.env._("exit code %(code)s", code=job.exit_code)
            lines.append(f"- {job.name}: {reason}")
        if event == "plan_ready":
            changes = jobs.finding_ids.filtered(lambda f: f.tool == "terraform")
            counts = {rule: len(changes.filtered(lambda f, r=rule: f.rule == r)) for rule in ("create", "update", "destroy")}
            lines.append(self.env._("Plan: %(create)s to create, %(update)s to update, %(destroy)s to destroy.", **counts))
            lines += [f"- {change.message}" for change in changes[:PLAN_LINES]]
            if len(changes) > PLAN_LINES:
                lines.append(self.env._("... and %(count)s more.", count=len(changes) - PLAN_LINES))
            lines += [artifact.plan for artifact in run.artifact_ids.filtered(lambda a: a.kind == "iac_plan" and a.job_id in jobs)]
        return "\n".join(lines)

    def _run_line(self, run):
        return self.env._(
            "%(pipeline)s on %(ref)s at %(sha)s, pushed by %(who)s.",
            pipeline=run.pipeline_id.display_name,
            ref=run.ref,
            sha=(run.commit_sha or "")[:12] or "-",
            who=run.pusher or run.triggered_by_id.name,
        )

    @api.model
    def _events_for_stage(self, stage_spec, outcome):
        """Events a finished stage of a run's spec gives (``engine.execution.stages.stage_events``)."""
        code = stage_spec.get("environment")
        Environment = self.env["release.environment"].with_context(active_test=False)
        environment = Environment.search([("code", "=", code)], limit=1) if code else Environment
        return stage_events(stage_spec, outcome, environment.kind)

    @api.model
    def _notify_failure(self, run, subject, body):
        """Tell the person who started the run and the groups the run's failure notification
        rules name, and queue the run's notifications (email, Slack) of the failed gate, named
        after the pipeline's kind (GATE_FAILURE_EVENT)."""
        rules = [
            rule for rule in run._spec().get("notifications", [])
            if "email" in rule.get("channels", []) and set(rule.get("events", [])) & FAILURE_EVENTS
        ]
        # Group members who read mail get the outbox's email, not a second one from here.
        users = self._rule_users(rules)
        emailed = users.filtered(lambda u: u.notification_type == "email" and u.email)
        partners = ((users | run.triggered_by_id) - emailed).partner_id
        run.message_post(
            body=body, subject=subject, message_type="comment", subtype_xmlid="mail.mt_comment", partner_ids=partners.ids
        )
        return self._enqueue(run, GATE_FAILURE_EVENT.get(run.pipeline_id.kind, "build_failed"), subject, body)

    @api.model
    def _notify_rollback(self, run, stage_spec, changed):
        """A deployment stage failed after ``changed`` jobs changed its environment: tell the
        run and give each Release Manager a to-do to roll back, with the run's rollback rule."""
        rollback = run._spec().get("rollback") or {}
        body = self.env._(
            "%(stage)s failed after %(jobs)s changed %(env)s: rollback required (%(strategy)s).",
            stage=stage_spec["name"],
            jobs=", ".join(changed.mapped("name")),
            env=stage_spec["environment"],
            strategy=rollback.get("strategy", "none"),
        )
        run.message_post(body=body)
        for user in self.env.ref(ROLE_GROUP % "release_manager").users.filtered("active"):
            run.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=self.env._("Roll back %(env)s", env=stage_spec["environment"]),
                note=body,
                user_id=user.id,
            )

    # -- delivery -----------------------------------------------------------------------------
    @api.model
    def _cron_deliver(self, limit=BATCH_SIZE):
        """Send the due notifications; one that fails is rescheduled, the others go on."""
        self.flush_model(["state", "next_attempt_at"])
        self.env.cr.execute(
            """
            SELECT id FROM release_notification
             WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
             ORDER BY next_attempt_at NULLS FIRST, id
             LIMIT %s
               FOR UPDATE SKIP LOCKED
            """,
            (fields.Datetime.now(), limit + 1),
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        batch = self.browse(ids[:limit])
        for notification in batch:
            notification._deliver()
        self.env["ir.cron"]._notify_progress(done=len(batch), remaining=max(len(ids) - limit, 0))
        return batch

    def _deliver(self):
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                error = self._send_email() if self.channel == "email" else self._send_slack()
        except Exception as exc:  # a sending failure is data: retried, never raised into a run
            error = f"{type(exc).__name__}: {exc}"
        if error:
            _logger.warning("notification %s (%s) not delivered: %s", self.id, self.channel, error)
        self._record_attempt(error)

    def _send_email(self):
        """Send through Odoo's mail servers; the error, or None once sent."""
        mail = self.mail_id
        if not mail:
            mail = self.env["mail.mail"].create(
                {
                    "model": "release.run",
                    "res_id": self.run_id.id,
                    "message_type": "email_outgoing",
                    "subject": self.subject,
                    "body_html": plaintext2html(self.body or ""),
                    "email_from": self._email_from(),
                    "email_to": ", ".join(self.partner_ids.mapped("email_formatted")),
                    "auto_delete": False,
                }
            )
            self.mail_id = mail
        elif mail.state != "outgoing":
            mail.mark_outgoing()
        mail.send(raise_exception=False)
        if mail.state == "sent":
            return None
        return mail.failure_reason or self.env._("The email was not sent (state %(state)s).", state=mail.state)

    def _email_from(self):
        return (
            self.env["ir.mail_server"]._get_default_from_address()
            or self.env.company.partner_id.email_formatted
            or self.env.user.email_formatted
        )

    def _send_slack(self):
        """POST {"text": ...} to the incoming webhook; the error (never the URL), or None."""
        try:
            url = self.env["release.settings"]._resolve(self.webhook_ref)
        except ValueError as exc:
            return str(exc)
        masker = Masker([url, urlsplit(url).path])
        if urlsplit(url).scheme not in ("http", "https"):
            return self.env._("%(ref)s does not hold an http(s) URL.", ref=self.webhook_ref)
        # Direct connection: a proxy from the server's environment must not see the webhook.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            request = urllib.request.Request(
                url,
                data=json.dumps({"text": self._slack_text()}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with opener.open(request, timeout=SLACK_TIMEOUT_S) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            return masker.mask(self.env._("Slack webhook answered HTTP %(code)s.", code=exc.code))
        except Exception as exc:  # unreachable, timeout, malformed URL: retried later
            reason = getattr(exc, "reason", exc)
            return masker.mask(self.env._("Slack webhook not reached: %(reason)s", reason=reason))
        if not 200 <= status < 300:
            return self.env._("Slack webhook answered HTTP %(code)s.", code=status)
        return None

    def _slack_text(self):
        # Slack reads &, < and > as markup: escaped, the text arrives as written.
        def escape(text):
            return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        return f"*{escape(self.subject)}*\n{escape(self.body)}"

    def _record_attempt(self, error):
        now = fields.Datetime.now()
        attempts = self.attempts + 1
        if not error:
            self.write({"state": "sent", "attempts": attempts, "sent_at": now, "last_error": False, "next_attempt_at": False})
        elif attempts >= MAX_ATTEMPTS:
            self.write({"state": "failed", "attempts": attempts, "last_error": error, "next_attempt_at": False})
            self.run_id.message_post(
                body=self.env._(
                    "Notification %(what)s for %(event)s failed after %(attempts)s attempts: %(error)s",
                    what=self._describe(),
                    event=self.event,
                    attempts=attempts,
                    error=error,
                ),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
        else:
            delay = BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1]
            self.write({"attempts": attempts, "last_error": error, "next_attempt_at": now + timedelta(minutes=delay)})

    def _describe(self):
        self.ensure_one()
        if self.channel == "email":
            return self.env._("email to %(who)s", who=", ".join(self.partner_ids.mapped("name")) or "-")
        return self.env._("Slack (%(ref)s)", ref=self.webhook_ref or "-")

    def _wake_delivery(self):
        # Waking the cron is the system's job whoever queues: it only creates a trigger row.
        self.env.ref("influencegen_release.ir_cron_release_notification").sudo()._trigger()
