import hashlib
import hmac
import json
import shutil
import tempfile

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

SECRET = "s3cret-for-the-webhook-test"
SHA = "a" * 40
PIPELINE = """\
version: 1
pipeline:
  code: PL-HOOK
  name: Webhook test
  kind: odoo
  triggers:
    - {event: push, branches: ["main"]}
  defaults: {image: influencegen/runner-base:bookworm}
  stages:
    - name: Work
      tasks:
        - {name: Echo, key: echo, run: echo hi}
"""


@tagged("post_install", "-at_install")
class TestWebhook(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        data_dir = tempfile.mkdtemp(prefix="igr-hook-")
        cls.addClassCleanup(shutil.rmtree, data_dir, ignore_errors=True)
        cls.env["ir.config_parameter"].set_param("influencegen_release.data_dir", data_dir)
        cls.env["ir.config_parameter"].set_param("influencegen_release.test_webhook_secret", SECRET)
        cls.bot = new_test_user(
            cls.env, "w_trigger_bot", groups="base.group_user,influencegen_release.group_release_developer"
        )
        pipeline = cls.env["release.pipeline.loader"]._load_text(PIPELINE, "PL-HOOK.yml")
        cls.repository = cls.env["release.repository"].create(
            {
                "name": "hook-repo",
                "url": "/nonexistent/hook-repo",
                "pipeline_ids": [(6, 0, pipeline.ids)],
                "webhook_secret_ref": "param:influencegen_release.test_webhook_secret",
                "trigger_user_id": cls.bot.id,
            }
        )
        cls.url = f"/influencegen_release/webhook/{cls.repository.id}"

    def github(self, body, event="push", secret=SECRET):
        data = json.dumps(body).encode()
        signature = "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-GitHub-Event": event, "X-Hub-Signature-256": signature}
        return self.url_open(self.url, data=data, headers=headers)

    def push_body(self, sha=SHA):
        return {"ref": "refs/heads/main", "before": "0" * 40, "after": sha, "pusher": {"name": "octocat"}}

    def runs(self, sha):
        self.env.invalidate_all()
        return self.env["release.run"].search([("commit_sha", "=", sha)])

    def test_github_signed_push_starts_a_run(self):
        response = self.github(self.push_body())
        self.assertEqual(response.status_code, 200, response.text)
        [summary] = response.json()["runs"]
        run = self.runs(SHA)
        self.assertEqual(run.id, summary["id"])
        self.assertEqual((run.ref, run.pusher, run.repository_id), ("refs/heads/main", "octocat", self.repository))
        self.assertEqual(run.create_uid, self.bot, "the run is started as the trigger user")
        # Redelivery (GitHub's "Redeliver") is the same run.
        self.assertEqual(self.github(self.push_body()).json()["runs"][0]["id"], run.id)

    def test_wrong_signature_is_refused_and_noted(self):
        sha = "b" * 40
        response = self.github(self.push_body(sha), secret="not-the-secret")
        self.assertEqual(response.status_code, 403)
        self.assertNotIn(SECRET, response.text)
        self.assertFalse(self.runs(sha))
        self.repository.invalidate_recordset()
        note = self.repository.message_ids.filtered(lambda m: "refused" in (m.body or ""))[:1]
        self.assertIn("X-Hub-Signature-256", note.body)
        self.assertNotIn(SECRET, note.body)
        # The same refusal again is logged, not posted again (no chatter flooding).
        self.assertEqual(self.github(self.push_body(sha), secret="again-wrong").status_code, 403)
        self.repository.invalidate_recordset()
        notes = self.repository.message_ids.filtered(lambda m: "X-Hub-Signature-256: the" in (m.body or ""))
        self.assertEqual(len(notes), 1)
        # No signature at all is refused too.
        data = json.dumps(self.push_body(sha)).encode()
        response = self.url_open(self.url, data=data, headers={"X-GitHub-Event": "push"})
        self.assertEqual(response.status_code, 403)
        self.assertFalse(self.runs(sha))

    def test_gitlab_token_works(self):
        sha = "c" * 40
        body = {
            "object_kind": "push",
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": sha,
            "user_username": "tanuki",
        }
        headers = {"Content-Type": "application/json", "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET}
        response = self.url_open(self.url, data=json.dumps(body).encode(), headers=headers)
        self.assertEqual(response.status_code, 200, response.text)
        run = self.runs(sha)
        self.assertEqual((run.ref, run.pusher), ("refs/heads/main", "tanuki"))
        headers["X-Gitlab-Token"] = "wrong"
        self.assertEqual(self.url_open(self.url, data=json.dumps(body).encode(), headers=headers).status_code, 403)

    def test_ping_is_accepted_and_ignored(self):
        response = self.github({"zen": "Keep it logically awesome.", "hook_id": 1}, event="ping")
        self.assertEqual(response.status_code, 202, response.text)

    def test_no_trigger_user_is_refused_with_503(self):
        self.repository.trigger_user_id = False
        sha = "d" * 40
        response = self.github(self.push_body(sha))
        self.assertEqual(response.status_code, 503)
        self.assertIn("trigger user", response.json()["message"])
        self.assertFalse(self.runs(sha))

    def test_trigger_user_keys_are_generated_and_revoked(self):
        manager = new_test_user(
            self.env, "w_manager", groups="base.group_user,influencegen_release.group_release_release_manager"
        )
        repository = self.repository.with_user(manager)
        action = repository.action_generate_trigger_key()
        key = action["params"]["message"].split()[0]
        Keys = self.env["res.users.apikeys"]
        self.assertEqual(Keys._check_credentials(scope="rpc", key=key), self.bot.id)
        self.assertTrue(repository.trigger_key_expiration)
        self.assertIn("valid until", repository.message_ids[0].body)
        self.assertNotIn(key, "".join(self.repository.message_ids.mapped("body")), "the key is shown once, never kept")
        repository.action_revoke_trigger_keys()
        self.assertFalse(Keys._check_credentials(scope="rpc", key=key))
        with self.assertRaises(AccessError):
            self.repository.with_user(self.bot).action_generate_trigger_key()

    def test_trigger_user_must_be_a_developer_only(self):
        with self.assertRaises(ValidationError):
            self.repository.trigger_user_id = self.env.ref("base.user_admin")
        with self.assertRaises(ValidationError):
            self.repository.webhook_secret_ref = "the-secret-itself"
