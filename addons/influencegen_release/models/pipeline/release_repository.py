import datetime
import json
import logging

from markupsafe import escape

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ...engine.source.git_source import GitSourceError, branch_heads, read_file_at

_logger = logging.getLogger(__name__)


class ReleaseRepository(models.Model):
    _name = "release.repository"
    _description = "Git Repository"
    _inherit = ["mail.thread"]
    _order = "name"

    name = fields.Char(required=True, tracking=True)
    url = fields.Char(string="URL", required=True, tracking=True, help="Clone URL or local path of the repository.")
    default_branch = fields.Char(required=True, default="main", tracking=True)
    pipeline_file = fields.Char(
        required=True,
        default=".influencegen/pipeline.yml",
        tracking=True,
        help="Path, inside the repository, of the pipeline file it carries.",
    )
    active = fields.Boolean(default=True)
    pipeline_ids = fields.Many2many(
        "release.pipeline", string="Pipelines", help="Pipelines a push to this repository may start (by their triggers)."
    )
    defined_pipeline_ids = fields.One2many("release.pipeline", "repository_id", string="Defined here")
    last_loaded_sha = fields.Char(readonly=True)
    last_load_error = fields.Text(readonly=True)
    # Webhooks (hosted Git) and the technical user that triggers runs.
    webhook_secret_ref = fields.Char(
        string="Webhook secret reference",
        tracking=True,
        groups="influencegen_release.group_release_release_manager",
        help="Where the webhook's shared secret is: env:NAME, file:/path or param:key. Never the secret "
        "itself. GitHub signs each delivery with it (X-Hub-Signature-256), GitLab sends it (X-Gitlab-Token).",
    )
    trigger_user_id = fields.Many2one(
        "res.users",
        string="Trigger user",
        tracking=True,
        ondelete="restrict",
        domain=lambda self: [("groups_id", "in", self.env.ref("influencegen_release.group_release_developer").ids)],
        help="The technical user webhooks and Git hooks start runs as: a Release Developer (the right to "
        "trigger runs), nothing more.",
    )
    webhook_url = fields.Char(
        string="Webhook URL", compute="_compute_webhook_url", help="The payload URL to give GitHub or GitLab."
    )
    trigger_key_expiration = fields.Datetime(
        string="Key valid until",
        compute="_compute_trigger_key_expiration",
        groups="influencegen_release.group_release_release_manager",
        help="Expiry of the trigger user's latest API key for the Git hooks (keys named after this repository).",
    )
    # Polling, for repositories without hooks.
    poll_minutes = fields.Integer(
        string="Poll every (minutes)", default=0, tracking=True, help="0: no polling (hooks or webhooks start the runs)."
    )
    polled_at = fields.Datetime(string="Last polled", readonly=True)
    polled_heads = fields.Text(readonly=True, help="Branch heads seen at the last poll (JSON).")

    _sql_constraints = [("name_unique", "unique(name)", "A repository name must be unique.")]

    def action_load_pipeline_file(self):
        """Read the pipeline file at the head of the default branch and sync its pipelines."""
        for repository in self:
            repository._load_pipeline_file(repository.default_branch)
        return True

    @api.model
    def _cron_poll(self):
        """Fetch the repositories that poll and start runs for branch heads that moved."""
        now = fields.Datetime.now()
        for repository in self.search([("poll_minutes", ">", 0)]):
            if repository.polled_at and repository.polled_at + datetime.timedelta(minutes=repository.poll_minutes) > now:
                continue
            try:
                repository._poll()
            except GitSourceError as exc:
                repository.polled_at = now
                _logger.warning("polling %s failed: %s", repository.name, exc)

    def _poll(self):
        """One poll: the first only records the heads; later ones trigger each moved head once.
        A burst of pushes between two polls is one run per pipeline, at the newest commit."""
        self.ensure_one()
        heads = branch_heads(self.url, self.env["release.settings"]._path("git-mirrors"))
        seen = json.loads(self.polled_heads) if self.polled_heads else None
        self.write({"polled_at": fields.Datetime.now(), "polled_heads": json.dumps(heads, sort_keys=True)})
        runs = []
        for ref, sha in sorted(heads.items()) if seen is not None else []:
            if seen.get(ref) == sha:
                continue
            payload = {"repository": self.name, "ref": ref, "after": sha, "before": seen.get(ref) or False, "pusher": "poller"}
            try:
                runs += self.env["release.run"].api_trigger(payload)["runs"]
            except UserError as exc:  # no pipeline follows this branch
                _logger.info("poll of %s: %s", self.name, exc)
        if runs:
            self.message_post(body=self.env._("Poll started %(runs)s.", runs=", ".join(f"{r['pipeline']} #{r['id']}" for r in runs)))
        return runs

    @api.model
    def _from_payload(self, name):
        """The repository a push names, by name or by URL."""
        if not name:
            raise UserError(self.env._("The payload names no repository."))
        repository = self.search([("name", "=", name)], limit=1) or self.search([("url", "=", name)], limit=1)
        if not repository:
            raise UserError(
                self.env._(
                    "Unknown repository %(name)r: configure it under Release > Configuration > Repositories.", name=name
                )
            )
        return repository

    def _pipelines_for(self, ref, code=False):
        """The pipelines a push of ``ref`` starts here: pipeline ``code`` when the push names
        one, else every pipeline with a push or tag trigger matching the ref."""
        self.ensure_one()
        candidates = self.pipeline_ids
        if code:
            pipeline = candidates.filtered(lambda p: p.code == code)
            if not pipeline:
                raise UserError(
                    self.env._(
                        "Pipeline %(code)r does not run on repository %(repo)s (it runs: %(codes)s).",
                        code=code,
                        repo=self.name,
                        codes=", ".join(candidates.mapped("code")) or "-",
                    )
                )
            return pipeline
        matching = candidates.filtered(lambda p: any(t._matches_ref(ref) for t in p.trigger_ids))
        if not matching:
            patterns = {t.branch_patterns or t.tag_patterns for t in candidates.trigger_ids if t.event in ("push", "tag")}
            raise UserError(
                self.env._(
                    "%(ref)s matches no pipeline of repository %(repo)s (trigger patterns: %(patterns)s).",
                    ref=ref,
                    repo=self.name,
                    patterns="; ".join(sorted(p for p in patterns if p)) or "none",
                )
            )
        return matching

    def _load_pipeline_file(self, ref):
        self.ensure_one()
        try:
            text, sha = read_file_at(self.url, ref, self.pipeline_file, self.env["release.settings"]._path("git-mirrors"))
        except GitSourceError as exc:
            self.last_load_error = str(exc)
            self.message_post(body=self.env._("Pipeline file not loaded: %(error)s", error=exc))
            raise UserError(str(exc)) from exc
        filename = f"{self.name}@{sha[:12]}:{self.pipeline_file}"
        pipelines = self.env["release.pipeline.loader"]._load_text(text, filename, repository=self)
        self.write({"last_loaded_sha": sha, "last_load_error": False, "pipeline_ids": [Command.link(p.id) for p in pipelines]})
        self.message_post(
            body=self.env._(
                "Pipeline file %(file)s loaded at %(sha)s: %(codes)s",
                file=self.pipeline_file,
                sha=sha[:12],
                codes=", ".join(pipelines.mapped("code")),
            )
        )
        return pipelines

    @api.depends("name")
    def _compute_webhook_url(self):
        base = self.env["release.settings"]._base_url().rstrip("/")
        for repository in self:
            repository.webhook_url = f"{base}/influencegen_release/webhook/{repository.id}" if repository.id else False

    @api.depends("trigger_user_id")
    def _compute_trigger_key_expiration(self):
        for repository in self:
            keys = repository._trigger_keys()
            repository.trigger_key_expiration = max(keys.mapped("expiration_date"), default=False) if keys else False

    @api.constrains("webhook_secret_ref")
    def _check_webhook_secret_ref(self):
        for repository in self:
            what = self.env._("The webhook secret of %(repo)s", repo=repository.name)
            self.env["release.settings"]._check_reference(repository.webhook_secret_ref, what)

    @api.constrains("trigger_user_id")
    def _check_trigger_user(self):
        for repository in self.filtered("trigger_user_id"):
            user = repository.trigger_user_id
            if not user.has_group("influencegen_release.group_release_developer"):
                raise ValidationError(
                    self.env._("The trigger user %(user)s must be a Release Developer.", user=user.name)
                )
            if user._is_system() or user.has_group("influencegen_release.group_release_release_manager"):
                raise ValidationError(
                    self.env._(
                        "The trigger user %(user)s has more rights than a Release Developer: choose a technical "
                        "user that may only trigger runs.",
                        user=user.name,
                    )
                )

    def _webhook_secret(self):
        """The webhook's shared secret, resolved now and never stored; False when none is configured."""
        self.ensure_one()
        if not self.webhook_secret_ref:
            return False
        return self.env["release.settings"]._resolve(self.webhook_secret_ref)

    def _webhook_note(self, body, throttle_minutes=10):
        """Post a webhook refusal on the repository, once per ``throttle_minutes`` for the same text:
        anonymous callers must not be able to flood the chatter (every refusal is still logged)."""
        self.ensure_one()
        since = fields.Datetime.now() - datetime.timedelta(minutes=throttle_minutes)
        text = str(escape(body))
        recent = self.message_ids.filtered(lambda m: m.date >= since and m.body and text in str(m.body))
        if not recent:
            self.message_post(body=body, message_type="notification", subtype_xmlid="mail.mt_note")

    # -- API keys of the trigger user (Git hooks) -------------------------------------------------
    TRIGGER_KEY_DAYS = 90

    def _trigger_key_name(self):
        return f"influencegen hooks: {self.name}"

    def _trigger_keys(self):
        self.ensure_one()
        if not self.trigger_user_id or not self.env.user.has_group("influencegen_release.group_release_release_manager"):
            return self.env["res.users.apikeys"]
        # API keys are private to their owner; a Release Manager manages those of the repository's
        # technical user only, named after the repository.
        return (
            self.env["res.users.apikeys"]
            .with_user(self.trigger_user_id)
            .search([("user_id", "=", self.trigger_user_id.id), ("name", "=", self._trigger_key_name())])
        )

    def _check_key_manager(self):
        if not self.env.user.has_group("influencegen_release.group_release_release_manager"):
            raise AccessError(self.env._("Only a Release Manager manages the keys of a repository's trigger user."))
        if not self.trigger_user_id:
            raise UserError(self.env._("Choose the trigger user of %(repo)s first.", repo=self.name))

    def action_generate_trigger_key(self):
        """A new RPC key for the trigger user, valid 90 days, shown once (it is not stored readable)."""
        self.ensure_one()
        self._check_key_manager()
        expiration = fields.Datetime.now() + datetime.timedelta(days=self.TRIGGER_KEY_DAYS)
        # ``_generate`` makes a key for the current user: run it as the trigger user. Its group
        # (Developer) allows keys of TRIGGER_KEY_DAYS days (api_key_duration, security xml).
        key = self.env["res.users.apikeys"].with_user(self.trigger_user_id)._generate("rpc", self._trigger_key_name(), expiration)
        self.message_post(
            body=self.env._(
                "API key generated for the trigger user %(user)s, valid until %(date)s (%(by)s).",
                user=self.trigger_user_id.name,
                date=fields.Datetime.to_string(expiration),
                by=self.env.user.name,
            )
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("API key for %(user)s (shown once)", user=self.trigger_user_id.login),
                "message": self.env._(
                    "%(key)s\nPut it in the file influencegen.keyfile names; it expires on %(date)s.",
                    key=key,
                    date=fields.Date.to_string(expiration.date()),
                ),
                "sticky": True,
                "type": "warning",
            },
        }

    def action_revoke_trigger_keys(self):
        """Revoke the trigger user's hook keys for this repository."""
        self.ensure_one()
        self._check_key_manager()
        keys = self._trigger_keys()
        count = len(keys)
        keys._remove()
        self.message_post(
            body=self.env._(
                "%(count)s API key(s) of the trigger user %(user)s revoked (%(by)s).",
                count=count,
                user=self.trigger_user_id.name,
                by=self.env.user.name,
            )
        )
        return True
