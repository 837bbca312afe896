"""Push webhooks of hosted Git (GitHub, GitLab): ``POST /influencegen_release/webhook/<repository id>``.

The caller is anonymous: it authenticates with the repository's shared secret (an HMAC of the raw
body for GitHub, the token itself for GitLab). A verified push is handed to
``release.run.api_trigger`` as the repository's trigger user, with that user's rights only.
"""

import hashlib
import hmac
import json
import logging

from odoo import http
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.http import request

from ..engine.source.push import webhook_push

_logger = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024  # GitHub caps payloads at 25 MB, but a push payload is a few kB


class WebhookError(Exception):
    def __init__(self, status, message, note=False):
        super().__init__(message)
        self.status, self.message, self.note = status, message, note


class ReleaseWebhookController(http.Controller):
    @http.route(
        "/influencegen_release/webhook/<int:repository_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def webhook(self, repository_id, **_kwargs):
        # The caller has no session: reading the repository's webhook settings (the secret's
        # *reference* and the trigger user) is what authenticates it. Only those are read in sudo;
        # the run is started as the trigger user, with its own rights.
        repository = request.env["release.repository"].sudo().browse(repository_id).exists()
        if not repository or not repository.active:
            return self._answer(404, request.env._("There is no repository %(id)s.", id=repository_id))
        try:
            return self._handle(repository)
        except WebhookError as error:
            self._refuse(repository, error)
            return self._answer(error.status, error.message)

    def _handle(self, repository):
        headers = request.httprequest.headers
        body = request.httprequest.get_data(cache=False)
        if len(body) > MAX_BODY:
            raise WebhookError(413, request.env._("The payload is larger than %(size)s bytes.", size=MAX_BODY))
        if headers.get("X-GitHub-Event"):
            provider, event = "github", headers["X-GitHub-Event"]
        elif headers.get("X-Gitlab-Event"):
            provider, event = "gitlab", headers["X-Gitlab-Event"]
        else:
            raise WebhookError(
                400, request.env._("Neither an X-GitHub-Event nor an X-Gitlab-Event header: not a push webhook.")
            )
        self._verify(repository, provider, headers, body)
        if event not in ("push", "Push Hook", "Tag Push Hook"):
            return self._answer(202, request.env._("%(event)s event ignored: only pushes start runs.", event=event))
        if not repository.trigger_user_id:
            raise WebhookError(
                503,
                request.env._(
                    "Repository %(repo)s has no trigger user: a Release Manager sets one on the repository "
                    "before webhooks can start runs.",
                    repo=repository.name,
                ),
                note=True,
            )
        payload = self._payload(repository, provider, body)
        Run = request.env["release.run"].with_user(repository.trigger_user_id)
        try:
            result = Run.api_trigger(payload)
        except (UserError, ValidationError) as exc:
            # Not a refusal of the caller: the push reached us, it just starts nothing.
            return self._answer(422, str(exc.args[0] if exc.args else exc))
        except AccessError as exc:
            raise WebhookError(
                503,
                request.env._(
                    "The trigger user %(user)s may not start runs: %(error)s",
                    user=repository.trigger_user_id.login,
                    error=exc.args[0] if exc.args else exc,
                ),
                note=True,
            ) from None
        _logger.info(
            "Webhook (%s) for repository %s: %s %s started %s run(s)",
            provider,
            repository.name,
            payload["ref"],
            payload["after"][:12],
            len(result.get("runs", [])),
        )
        return request.make_json_response(result, status=200)

    def _verify(self, repository, provider, headers, body):
        try:
            secret = repository._webhook_secret()
        except ValueError as exc:  # the reference does not resolve: names the reference, not a value
            raise WebhookError(
                503, request.env._("The webhook secret cannot be read: %(error)s", error=exc), note=True
            ) from None
        if not secret:
            raise WebhookError(
                503,
                request.env._(
                    "Repository %(repo)s has no webhook secret reference: webhooks are off.", repo=repository.name
                ),
            )
        if provider == "github":
            signature = headers.get("X-Hub-Signature-256", "")
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            header = "X-Hub-Signature-256"
        else:
            signature = headers.get("X-Gitlab-Token", "")
            expected = secret
            header = "X-Gitlab-Token"
        if not signature:
            raise WebhookError(403, request.env._("Missing %(header)s header.", header=header), note=True)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise WebhookError(
                403, request.env._("Bad %(header)s: the webhook secret does not match.", header=header), note=True
            )

    def _payload(self, repository, provider, body):
        try:
            data = json.loads(body)
        except ValueError:
            raise WebhookError(400, request.env._("The body is not JSON.")) from None
        payload = webhook_push(provider, data)
        if not payload:
            raise WebhookError(400, request.env._("The push payload has no ref or after."))
        return dict(payload, repository=repository.name)

    def _refuse(self, repository, error):
        """Log a refusal, and post it on the repository when someone has to act on it."""
        address = request.httprequest.remote_addr
        _logger.warning(
            "Webhook for repository %s refused (%s) from %s: %s", repository.name, error.status, address, error.message
        )
        if error.note:
            repository._webhook_note(
                request.env._(
                    "Webhook call refused (HTTP %(status)s) from %(address)s: %(reason)s",
                    status=error.status,
                    address=address,
                    reason=error.message,
                )
            )

    def _answer(self, status, message):
        return request.make_json_response({"message": message}, status=status)
