import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from markupsafe import Markup

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tests.common import new_test_user

from .common import ReleaseCase

PARAM = "influencegen_release.test_slack_webhook"
LOGGER = "odoo.addons.influencegen_release.models.notification.release_notification"

PIPELINE = """\
version: 1
pipeline:
  code: PL-NOTIFY
  name: Notification test
  kind: odoo
  triggers:
    - {event: push, branches: [main]}
  defaults: {image: influencegen/runner-base:bookworm}
  stages:
    - name: Build
      tasks:
        - {name: Build, key: build, run: "true"}
  notifications:
    - events: [build_failed, validation_failed]
      channels: [email, slack]
      groups: [qa_lead]
      slack_webhook: param:influencegen_release.test_slack_webhook
    - events: [deploy_succeeded, plan_ready, run_failed]
      channels: [email]
      groups: [cab_member]
"""


class Receiver:
    """A Slack incoming webhook on 127.0.0.1: answers the queued status codes (then 200)."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                receiver.received.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/services/T0/B0/s3cr3t-token"):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@tagged("post_install", "-at_install")
class TestNotifications(ReleaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        prefix = "influencegen_release.group_release_"
        cls.qa_mail = new_test_user(cls.env, "n_qa_mail", groups=f"base.group_user,{prefix}qa_lead", email="qa@example.com")
        cls.qa_nomail = new_test_user(cls.env, "n_qa_nomail", groups=f"base.group_user,{prefix}qa_lead", email=False)
        cls.cab = new_test_user(cls.env, "n_cab", groups=f"base.group_user,{prefix}cab_member", email="cab@example.com")
        cls.watcher = cls.env["res.partner"].create({"name": "Watcher", "email": "watcher@example.com"})
        cls.silent = cls.env["res.partner"].create({"name": "No email follower"})
        cls.pipeline_rec = cls.Loader._load_text(PIPELINE, "PL-NOTIFY.yml")
        cls.pipeline_rec.message_subscribe(partner_ids=(cls.watcher | cls.silent).ids)
        cls.run_rec = cls.env["release.run"].create(
            {
                "pipeline_id": cls.pipeline_rec.id,
                "ref": "refs/heads/main",
                "commit_sha": "a" * 40,
                "params_json": json.dumps({"spec": cls.pipeline_rec._spec()}),
            }
        )
        cls.Outbox = cls.env["release.notification"]
        cls.cron = cls.env.ref("influencegen_release.ir_cron_release_notification")

    def queue(self, event="build_failed", subject="Build broke", body="unit tests failed"):
        return self.Outbox._enqueue(self.run_rec, event, subject, body)

    def set_webhook(self, url):
        self.env["ir.config_parameter"].set_param(PARAM, url)

    def receiver(self, statuses=()):
        receiver = Receiver(statuses)
        self.addCleanup(receiver.close)
        return receiver

    def make_due(self, notifications):
        notifications.sudo().write({"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)})

    def test_enqueue_addresses_followers_and_group_members_per_channel(self):
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron.id)])
        notifications = self.queue()
        self.assertEqual(sorted(notifications.mapped("channel")), ["email", "slack"])
        email = notifications.filtered(lambda n: n.channel == "email")
        slack = notifications - email
        qa_leads = self.env.ref("influencegen_release.group_release_qa_lead").users
        expected = (self.pipeline_rec.message_partner_ids | qa_leads.partner_id).filtered("email")
        self.assertIn(self.qa_mail.partner_id, expected)
        self.assertEqual(email.partner_ids, expected)
        self.assertIn(self.watcher, email.partner_ids)
        self.assertNotIn(self.silent, email.partner_ids, "a follower without email")
        self.assertNotIn(self.qa_nomail.partner_id, email.partner_ids, "a group member without email")
        self.assertNotIn(self.cab.partner_id, email.partner_ids, "a group of a rule that does not listen to the event")
        self.assertEqual(slack.webhook_ref, f"param:{PARAM}")
        self.assertFalse(slack.partner_ids)
        for notification in notifications:
            self.assertEqual(
                (notification.state, notification.attempts, notification.event, notification.run_id, notification.pipeline_id),
                ("pending", 0, "build_failed", self.run_rec, self.pipeline_rec),
            )
            self.assertEqual(notification.subject, "Build broke")
            self.assertTrue(notification.body.startswith("unit tests failed"))
            self.assertIn(f"/action-influencegen_release.action_release_run/{self.run_rec.id}", notification.body)
        # One audit note on the run, notifying nobody.
        note = self.run_rec.message_ids.filtered(lambda m: "Notifications queued for build_failed" in (m.body or ""))
        self.assertEqual(len(note), 1)
        self.assertEqual(note.subtype_id, self.env.ref("mail.mt_note"))
        self.assertFalse(note.partner_ids)
        self.assertFalse(note.notification_ids)
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron.id)]), triggers + 1)
        # Only the rules that listen to an event, only their channels.
        deploy = self.queue("deploy_succeeded", "Deployed", "ok")
        self.assertEqual(deploy.mapped("channel"), ["email"])
        self.assertIn(self.cab.partner_id, deploy.partner_ids)
        self.assertNotIn(self.qa_mail.partner_id, deploy.partner_ids)
        self.assertFalse(self.queue("apply_failed"))

    def test_the_rules_are_read_from_the_runs_snapshot(self):
        # The rule records only show the pipeline file: edited or removed, they change nothing
        # for a run that started with them.
        self.pipeline_rec.notification_ids.filtered(lambda r: r.channel_slack).write({"channel_slack": False})
        self.pipeline_rec.notification_ids.filtered(lambda r: "deploy_succeeded" in r.events).unlink()
        self.assertEqual(sorted(self.queue().mapped("channel")), ["email", "slack"])
        self.assertIn(self.cab.partner_id, self.queue("deploy_succeeded", "Deployed", "ok").partner_ids)

    def test_a_failed_gate_queues_build_or_validation_failed(self):
        body = Markup("<p>Gate Tests Pass failed.</p><pre>1 test failed</pre>")
        # A failed quality gate is named after the pipeline's kind, as the seed's rules expect.
        self.Outbox._notify_failure(self.run_rec, "gate failed", body)
        self.run_rec.pipeline_id.kind = "n8n"
        self.Outbox._notify_failure(self.run_rec, "gate failed", body)
        notifications = self.Outbox.search([("run_id", "=", self.run_rec.id)])
        self.assertEqual(sorted(set(notifications.mapped("event"))), ["build_failed", "validation_failed"])
        self.assertEqual(len(notifications), 4)
        for notification in notifications:
            self.assertIn("1 test failed", notification.body)
            self.assertNotIn("<pre>", notification.body)

    def test_slack_down_is_retried_later_and_never_shows_the_url(self):
        url = f"http://127.0.0.1:{closed_port()}/services/T0/B0/s3cr3t-token"
        self.set_webhook(url)
        notifications = self.queue()
        slack = notifications.filtered(lambda n: n.channel == "slack")
        email = notifications - slack
        with self.assertLogs(LOGGER, "WARNING") as logs:
            self.Outbox._cron_deliver()
        self.assertEqual((slack.state, slack.attempts), ("pending", 1))
        self.assertGreater(slack.next_attempt_at, fields.Datetime.now())
        self.assertLessEqual(slack.next_attempt_at, fields.Datetime.now() + timedelta(minutes=1, seconds=5))
        self.assertIn("not reached", slack.last_error)
        for text in (slack.last_error, slack.webhook_ref, slack.body, *logs.output):
            self.assertNotIn("s3cr3t-token", text)
            self.assertNotIn(url, text)
        # The email did not wait for Slack (test mode: Odoo accepts it without a server).
        self.assertEqual((email.state, email.attempts), ("sent", 1))
        self.assertEqual(email.mail_id.state, "sent")
        self.assertEqual((email.mail_id.model, email.mail_id.res_id), ("release.run", self.run_rec.id))
        self.assertIn("qa@example.com", email.mail_id.email_to)
        # Not due yet: the next cron run leaves it alone.
        self.Outbox._cron_deliver()
        self.assertEqual(slack.attempts, 1)
        # The receiver is up: "Retry now" delivers at once.
        receiver = self.receiver()
        self.set_webhook(receiver.url())
        slack.action_retry()
        self.Outbox._cron_deliver()
        self.assertEqual((slack.state, slack.attempts, slack.last_error), ("sent", 2, False))
        self.assertTrue(slack.sent_at)
        [(path, payload)] = receiver.received
        self.assertEqual(path, "/services/T0/B0/s3cr3t-token")
        self.assertEqual(set(payload), {"text"})
        self.assertIn("*Build broke*", payload["text"])
        self.assertIn("unit tests failed", payload["text"])
        self.assertEqual(email.attempts, 1, "a sent notification is not sent again")

    def test_backoff_then_failed_with_a_note_on_the_run(self):
        receiver = self.receiver(statuses=[500] * 6)
        self.set_webhook(receiver.url())
        slack = self.queue().filtered(lambda n: n.channel == "slack")
        delays = []
        for attempt in range(1, 7):
            before = fields.Datetime.now()
            with self.assertLogs(LOGGER, "WARNING"):
                self.Outbox._cron_deliver()
            self.assertEqual(slack.attempts, attempt)
            self.assertIn("HTTP 500", slack.last_error)
            if attempt < 6:
                self.assertEqual(slack.state, "pending")
                delays.append(round((slack.next_attempt_at - before).total_seconds() / 60))
                self.make_due(slack)
        self.assertEqual(delays, [1, 2, 4, 8, 16])
        self.assertEqual((slack.state, slack.next_attempt_at), ("failed", False))
        self.assertEqual(len(receiver.received), 6)
        note = self.run_rec.message_ids.filtered(lambda m: "failed after 6 attempts" in (m.body or ""))
        self.assertEqual(len(note), 1)
        self.assertEqual(note.subtype_id, self.env.ref("mail.mt_note"))
        # A failed notification is not picked up again, until a manager retries it.
        self.Outbox._cron_deliver()
        self.assertEqual(len(receiver.received), 6)
        slack.with_user(self.manager).action_retry()
        self.Outbox._cron_deliver()
        self.assertEqual((slack.state, slack.attempts), ("sent", 7))

    def test_one_failure_does_not_stop_the_others(self):
        receiver = self.receiver()
        broken = self.queue().filtered(lambda n: n.channel == "slack")
        self.set_webhook(receiver.url())
        working = self.queue(subject="Second").filtered(lambda n: n.channel == "slack")
        broken.sudo().write({"webhook_ref": "env:IGR_TEST_NO_SUCH_VARIABLE"})
        with self.assertLogs(LOGGER, "WARNING"):
            self.Outbox._cron_deliver()
        self.assertEqual((broken.state, broken.attempts), ("pending", 1))
        self.assertIn("env:IGR_TEST_NO_SUCH_VARIABLE is not set", broken.last_error)
        self.assertEqual(working.state, "sent")
        self.assertEqual(len(receiver.received), 1)

    def test_webhook_must_be_an_http_url(self):
        self.set_webhook("file:///etc/passwd")
        slack = self.queue().filtered(lambda n: n.channel == "slack")
        with self.assertLogs(LOGGER, "WARNING"):
            self.Outbox._cron_deliver()
        self.assertEqual(slack.attempts, 1)
        self.assertIn("does not hold an http(s) URL", slack.last_error)
        self.assertNotIn("/etc/passwd", slack.last_error)

    def test_a_stage_notifies_each_event_once(self):
        deploy = {"key": "build", "name": "Deploy", "environment": "odoo-dev", "tasks": [{"uses": "odoo.deploy"}]}
        first = self.Outbox._notify_stage(self.run_rec, deploy, "succeeded")
        self.assertEqual((first.event, first.channel, first.stage_key), ("deploy_succeeded", "email", "build"))
        self.assertIn("Deploy succeeded", first.subject)
        self.assertIn("Environment: odoo-dev", first.body)
        # The scheduler sees a succeeded stage on every tick: nothing more is queued.
        self.assertFalse(self.Outbox._notify_stage(self.run_rec, deploy, "succeeded"))
        self.assertEqual(self.Outbox.search_count([("run_id", "=", self.run_rec.id)]), 1)
        # A stage event no rule listens to queues nothing.
        self.assertFalse(self.Outbox._notify_stage(self.run_rec, deploy, "failed"))

    def test_plan_ready_lists_the_changes(self):
        stage = self.pipeline_rec.stage_ids[:1]
        job = self.env["release.job"].create(
            {
                "run_id": self.run_rec.id,
                "stage_id": stage.id,
                "stage_key": stage.key,
                "task_id": stage.task_ids[:1].id,
                "task_key": "build",
                "name": "Terraform plan",
                "state": "succeeded",
            }
        )
        self.env["release.finding"].create(
            [
                {"job_id": job.id, "tool": "terraform", "rule": rule, "severity": severity, "file": address,
                 "message": f"{address} will be {verb}", "fingerprint": address}
                for rule, severity, address, verb in (
                    ("create", "info", "aws_s3_bucket.logs", "created"),
                    ("destroy", "high", "aws_instance.old", "destroyed"),
                )
            ]
        )
        spec = {"key": stage.key, "name": "Plan", "environment": False,
                "tasks": [{"uses": None, "reports": [{"format": "terraform-plan-json", "path": "plan.json"}]}]}
        plan = self.Outbox._notify_stage(self.run_rec, spec, "succeeded")
        self.assertEqual(plan.event, "plan_ready")
        self.assertIn("Plan: 1 to create, 0 to update, 1 to destroy.", plan.body)
        self.assertIn("- aws_instance.old will be destroyed", plan.body)

    def test_a_finished_run_notifies_its_outcome(self):
        self.assertFalse(self.Outbox._notify_run(self.run_rec), "a queued run has no outcome yet")
        self.run_rec.state = "failed"
        [notification] = self.Outbox._notify_run(self.run_rec)
        self.assertEqual((notification.event, notification.channel), ("run_failed", "email"))
        self.assertIn("failed", notification.subject)
        self.assertIn("- Build: skipped", notification.body, "no job")
        self.assertIn("at aaaaaaaaaaaa", notification.body)

    def test_stage_events(self):
        events = self.Outbox._events_for_stage

        def stage(environment=False, *uses):
            return {"key": "s", "name": "S", "environment": environment, "tasks": [{"uses": u} for u in uses]}

        self.assertEqual(events(stage(False, "git.checkout", None), "failed"), ["build_failed"])
        self.assertEqual(events(stage(False, None), "succeeded"), [])
        self.assertEqual(events(stage("odoo-dev", "odoo.deploy", "odoo.migrate"), "succeeded"), ["deploy_succeeded"])
        self.assertEqual(events(stage("n8n-prod", "n8n.deploy"), "failed"), ["deploy_failed"])
        self.assertEqual(events(stage("odoo-dev", "image.deploy"), "failed"), ["deploy_failed"])
        self.assertEqual(events(stage("odoo-dev", "iac.apply"), "succeeded"), ["apply_succeeded"])
        self.assertEqual(events(stage("infra-dev", None), "failed"), ["apply_failed"], "a stage on an infrastructure environment")
        self.assertEqual(events(stage("odoo-staging", "odoo.smoke"), "failed"), ["validation_failed"])
        self.assertEqual(events(stage("odoo-staging", "odoo.smoke"), "succeeded"), [])
        self.assertEqual(
            events(stage("container-registry", "image.tag", "image.push"), "succeeded"), ["push_succeeded"]
        )
        plan = {"key": "plan", "environment": False, "tasks": [{"uses": None, "reports": [{"format": "terraform-plan-json"}]}]}
        self.assertEqual(events(plan, "succeeded"), ["plan_ready"])
        self.assertEqual(events(plan, "failed"), ["build_failed"])

    def test_access(self):
        notifications = self.queue()
        self.assertEqual(notifications.with_user(self.viewer).read(["state"])[0]["state"], "pending")
        with self.assertRaises(AccessError):
            notifications.with_user(self.viewer).action_retry()
        with self.assertRaises(AccessError):
            notifications.with_user(self.manager).unlink()
        with self.assertRaises(AccessError):
            self.Outbox.with_user(self.manager).create(
                {"run_id": self.run_rec.id, "pipeline_id": self.pipeline_rec.id, "event": "build_failed", "channel": "email", "subject": "x"}
            )
        self.assertTrue(notifications.with_user(self.manager).action_retry())
        # A pipeline restricted to a team: its notifications too.
        self.pipeline_rec.group_ids = self.env.ref("influencegen_release.group_release_cab_member")
        self.assertFalse(self.Outbox.with_user(self.viewer).search([("id", "in", notifications.ids)]))
        self.assertEqual(self.Outbox.with_user(self.cab).search([("id", "in", notifications.ids)]), notifications)
