"""Notifications through a real Odoo server and its cron worker: a run whose quality gate fails
mails a real SMTP server (aiosmtpd) and posts to a Slack incoming webhook (a local HTTP
receiver); failed deliveries are retried."""

import email
import json
import os
import socket
import threading
import time
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from devstack.odoo_server import Api
from devstack.repository import commit_pipeline_text, init_repository, pipeline_text

PARAM = "influencegen_release.it_slack_webhook"
WATCHER = "watcher@notify.example.com"
ADMIN = "admin@example.com"

# One stage without environment whose test report has a failure: its gate fails, which is a
# failed build.
PIPELINE = pipeline_text("PL-IT-NOTIFY", "Integration notifications", f"""\
  stages:
    - name: Tests
      key: tests
      tasks:
        - name: Unit tests
          key: unit
          run: >-
            mkdir -p reports &&
            printf '<testsuite name="s" tests="1" failures="1"><testcase classname="c" name="t">
            <failure message="boom">boom</failure></testcase></testsuite>' > reports/unit.xml
          reports:
            - {{format: junit-xml, path: reports/unit.xml}}
      gates:
        - name: Tests Pass
          criteria:
            - tests: {{from: [unit], max_failed: 0, min_total: 1}}
  notifications:
    - events: [build_failed]
      channels: [email, slack]
      groups: [release_manager]
      slack_webhook: param:{PARAM}
""")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """aiosmtpd handler: keeps accepted mail; ``refusals`` lists (match, reply): the next mail
    for which ``match(recipients, message)`` holds gets that reply to DATA instead of 250.
    Refusals aim at the outbox's mail alone: Odoo also mails people their chatter
    notifications, one recipient each, under the same subject."""

    def __init__(self):
        self.refusals = []
        self.accepted = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        for index, (match, reply) in enumerate(self.refusals):
            if match(envelope.rcpt_tos, message):
                del self.refusals[index]
                return reply
        self.accepted.append((envelope.rcpt_tos, message))
        return "250 OK"


class SlackReceiver:
    def __init__(self):
        self.statuses = []
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((self.path, self.headers.get("Content-Type"), json.loads(body)))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/it-s3cr3t"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def smtp(server):
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    api = Api()
    mail_server = api(
        "ir.mail_server",
        "create",
        {"name": "IT SMTP", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_encryption": "none", "sequence": 1},
    )
    yield sink
    api("ir.mail_server", "write", [mail_server], {"active": False})
    controller.stop()


@pytest.fixture(scope="module")
def slack(server):
    receiver = SlackReceiver()
    Api()("ir.config_parameter", "set_param", PARAM, receiver.url)
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def notify_origin(workdir):
    return init_repository(os.path.join(workdir, "notify-origin"))


@pytest.fixture(scope="module")
def notify_repository(server, notify_origin):
    api = Api()
    push_commit(notify_origin)
    repo_id = api("release.repository", "create", {"name": "it-notify-repo", "url": notify_origin.working_tree_dir})
    api("release.repository", "action_load_pipeline_file", [repo_id])
    [pipeline] = api("release.pipeline", "search", [("code", "=", "PL-IT-NOTIFY")])
    watcher = api("res.partner", "create", {"name": "Pipeline watcher", "email": WATCHER})
    api("release.pipeline", "message_subscribe", [pipeline], partner_ids=[watcher])
    return repo_id


def push_commit(repo):
    return commit_pipeline_text(repo, PIPELINE, "notify")


def failing_run(api, origin):
    sha = push_commit(origin)
    payload = {"repository": "it-notify-repo", "ref": "refs/heads/main", "after": sha, "pusher": "dev"}
    [summary] = api("release.run", "api_trigger", payload)["runs"]
    status = api.wait_run(summary["id"], timeout=120)
    assert status["state"] == "failed", status
    return summary["id"]


GATE_FAILED = "gate Tests Pass failed"  # in the subject of the outbox's mail of a failing run
FIELDS = ["channel", "state", "attempts", "last_error", "next_attempt_at", "subject", "event", "webhook_ref", "mail_id"]


def outbox_mail_of_a_failed_gate(recipients, message):
    """The outbox's mail of a failing run: one message to the followers and the rule's group."""
    return GATE_FAILED in (message["Subject"] or "") and {WATCHER, ADMIN} <= set(recipients)


def outbox_mails(api, row, accepted):
    """The mails the SMTP server accepted for the outbox's email ``row`` (by Message-Id): the
    run's chatter also notifies people, by email when that is their preference."""
    [mail] = api("mail.mail", "read", [row["mail_id"][0]], ["message_id"])
    return [(rcpt, message) for rcpt, message in accepted if message["Message-ID"] == mail["message_id"]]


def notifications(api, run_id, until, timeout=90):
    """The run's notifications by channel, once ``until(by_channel)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        rows = api("release.notification", "search_read", [("run_id", "=", run_id)], fields=FIELDS)
        by_channel = {row["channel"]: row for row in rows}
        if set(by_channel) == {"email", "slack"} and until(by_channel):
            return by_channel
        assert time.monotonic() < deadline, f"notifications of run {run_id} still {rows}"
        time.sleep(0.3)


def test_a_failed_gate_is_mailed_and_posted_to_slack(server, notify_repository, notify_origin, smtp, slack):
    api = Api()
    accepted, received = len(smtp.accepted), len(slack.received)
    run_id = failing_run(api, notify_origin)
    rows = notifications(api, run_id, lambda n: all(row["state"] != "pending" for row in n.values()))
    assert {c: (r["state"], r["attempts"], r["event"]) for c, r in rows.items()} == {
        "email": ("sent", 1, "build_failed"),
        "slack": ("sent", 1, "build_failed"),
    }, rows
    subject = rows["email"]["subject"]
    assert GATE_FAILED in subject
    # The SMTP server got the mail, addressed to the pipeline's followers and the rule's group.
    [(recipients, message)] = outbox_mails(api, rows["email"], smtp.accepted[accepted:])
    assert {WATCHER, ADMIN} <= set(recipients), recipients
    assert message["Subject"] == subject
    text = message.get_body(("plain",)).get_content()
    assert "Gate Tests Pass failed" in text, text
    assert f"/action-influencegen_release.action_release_run/{run_id}" in text
    # The webhook got Slack's JSON.
    [(path, content_type, payload)] = slack.received[received:]
    assert (path, content_type) == ("/services/T0/B0/it-s3cr3t", "application/json")
    assert list(payload) == ["text"] and payload["text"].startswith(f"*{subject}*")
    assert rows["slack"]["webhook_ref"] == f"param:{PARAM}"
    # The run's chatter says what was queued.
    bodies = api("mail.message", "search_read", [("model", "=", "release.run"), ("res_id", "=", run_id)], fields=["body"])
    assert any("Notifications queued for build_failed" in m["body"] for m in bodies)


def test_failed_deliveries_are_retried_and_delivered_later(server, notify_repository, notify_origin, smtp, slack):
    api = Api()
    smtp.refusals.append((outbox_mail_of_a_failed_gate, "451 4.3.0 Try again later"))
    slack.statuses.append(500)
    accepted, received = len(smtp.accepted), len(slack.received)
    run_id = failing_run(api, notify_origin)
    rows = notifications(api, run_id, lambda n: all(row["attempts"] >= 1 for row in n.values()))
    for channel, row in rows.items():
        assert (row["state"], row["attempts"]) == ("pending", 1), (channel, row)
        assert row["next_attempt_at"], row
        assert "it-s3cr3t" not in row["last_error"] and slack.url not in row["last_error"]
    assert "451" in rows["email"]["last_error"], rows["email"]
    assert "HTTP 500" in rows["slack"]["last_error"], rows["slack"]
    assert not [m for to, m in smtp.accepted[accepted:] if outbox_mail_of_a_failed_gate(to, m)] and len(slack.received) == received + 1
    # The run is not held by the failures: it finished (failed by its gate) before delivery.
    assert api("release.run", "read", [run_id], ["state"])[0]["state"] == "failed"
    # Retry now (instead of waiting for the backoff): the second attempt delivers both.
    ids = api("release.notification", "search", [("run_id", "=", run_id)])
    assert api("release.notification", "action_retry", ids) is True
    rows = notifications(api, run_id, lambda n: all(row["state"] == "sent" for row in n.values()))
    assert {c: r["attempts"] for c, r in rows.items()} == {"email": 2, "slack": 2}
    [(recipients, message)] = outbox_mails(api, rows["email"], smtp.accepted[accepted:])
    assert WATCHER in recipients and message["Subject"] == rows["email"]["subject"]
    assert len(slack.received) == received + 2
    assert slack.received[-1][2]["text"].startswith(f"*{rows['slack']['subject']}*")
