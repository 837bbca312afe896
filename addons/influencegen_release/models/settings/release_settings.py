import os

from odoo import api, models
from odoo.exceptions import AccessError, ValidationError

from ...engine.execution.masking import Masker
from ...engine.pipeline.spec import CREDENTIAL_REF

# What lives under the data folder: Git mirrors, job workspaces, job logs, Ansible runs, and
# (on a deploy target) the managed addons folder with its releases, packages and deploy jobs.
DATA_AREAS = ("git-mirrors", "work", "logs", "iac", "managed", "outputs", "cache")

# Every setting of the addon, with its default. Read only through ``release.settings``.
DEFAULTS = {
    "influencegen_release.data_dir": os.environ.get("IGR_DATA_DIR", "/var/lib/influencegen-release"),
    "influencegen_release.default_image": "influencegen/runner-base:bookworm",
    "influencegen_release.docker_url": "unix:///var/run/docker.sock",
}


class ReleaseSettings(models.AbstractModel):
    _name = "release.settings"
    _description = "Release Settings Reader"

    @api.model
    def _get(self, key):
        """The value of one ``influencegen_release.*`` setting, falling back to its default."""
        full_key = f"influencegen_release.{key}"
        # System parameters are readable by administrators only; the value (never a secret,
        # secrets are references) is needed by every user who loads a pipeline or runs a job.
        value = self.env["ir.config_parameter"].sudo().get_param(full_key)
        return value or DEFAULTS[full_key]

    @api.model
    def _base_url(self):
        """Odoo's public URL, for links in API answers and notifications."""
        return self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")  # a URL, not a secret

    @api.model
    def _path(self, area, *parts):
        """The one place a path under the data folder is built: ``<data_dir>/<area>/<database>/<parts>``.

        Each database has its own subtree, so several databases on one server never share a
        mirror, a workspace or a log."""
        if area not in DATA_AREAS:
            raise ValueError(f"unknown data area {area!r} (known: {', '.join(DATA_AREAS)})")
        return os.path.join(self._get("data_dir"), area, self.env.cr.dbname, *(str(p) for p in parts))

    @api.model
    def _check_reference(self, ref, what):
        """Refuse a value stored where a credential reference belongs: ``what`` names the field."""
        if ref and not CREDENTIAL_REF.match(ref):
            raise ValidationError(
                self.env._("%(what)s must be a reference (env:NAME, file:/path or param:key), never the secret itself.", what=what)
            )

    @api.model
    def _resolve(self, ref):
        """The value a credential reference names: ``env:NAME`` (the Odoo server's environment),
        ``file:/path`` (the file's content, stripped) or ``param:key`` (a system parameter).

        The one resolver of the addon: environments' and repositories' credentials, webhooks,
        and the secrets a task names (``NAME`` is ``env:NAME``, see ``release.job._secret_refs``).
        Resolved when needed and never stored. Errors name the reference, never its value; text
        that could carry a value on its way to a log goes through ``_masker``.
        """
        if not ref or not CREDENTIAL_REF.match(ref):
            raise ValueError(self.env._("%(ref)s is not a reference (env:NAME, file:/path or param:key)", ref=ref or "''"))
        kind, name = ref.split(":", 1)
        if kind == "env":
            value = os.environ.get(name)
        elif kind == "file":
            try:
                with open(name, encoding="utf-8") as handle:
                    value = handle.read()
            except OSError as exc:
                raise ValueError(self.env._("%(ref)s cannot be read: %(error)s", ref=ref, error=exc.strerror)) from exc
        else:
            value = self.env["ir.config_parameter"].get_param(name)
        value = (value or "").strip()
        if not value:
            raise ValueError(self.env._("%(ref)s is not set or empty", ref=ref))
        return value

    @api.model
    def _masker(self, refs):
        """A ``Masker`` hiding what these references hold now, for text on its way to a log.

        A reference that does not resolve, or that this user may not read, hides nothing: the
        code running here cannot have obtained its value either."""
        values = []
        for ref in filter(None, refs):
            try:
                values.append(self._resolve(ref))
            except (ValueError, AccessError):
                continue
        return Masker(values)
