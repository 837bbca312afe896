from datetime import timedelta

import pytz

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..engine.spec import CREDENTIAL_REF, TIERS

TIER_SEQUENCE = {"development": 10, "staging": 20, "production": 30}
WINDOW_HORIZON_DAYS = 62  # how far ahead the next maintenance window is looked for


class ReleaseEnvironment(models.Model):
    _name = "release.environment"
    _description = "Release Environment (deployment target)"
    _inherit = ["mail.thread"]
    _order = "sequence, kind, name"

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(required=True, help="Identifier used by pipeline files, e.g. odoo-prod.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    tier = fields.Selection([(t, t.capitalize()) for t in TIERS], required=True, default="development", tracking=True)
    kind = fields.Selection(
        [
            ("odoo", "Odoo database"),
            ("n8n", "n8n instance"),
            ("docker", "Container registry"),
            ("iac", "Infrastructure"),
        ],
        required=True,
        default="odoo",
        tracking=True,
    )
    url = fields.Char(string="URL", tracking=True)
    database = fields.Char(tracking=True, help="Target database name (Odoo targets).")
    credentials_ref = fields.Char(
        string="Credentials reference",
        tracking=True,
        help="Where the deployer finds the secret: env:NAME, file:/path or param:key. Never the secret itself.",
    )
    calendar_id = fields.Many2one(
        "resource.calendar",
        string="Maintenance window",
        tracking=True,
        help="Working time of this calendar is the maintenance window; its leaves are freezes.",
    )
    block_on_drift = fields.Boolean(string="Block on drift", help="Refuse promotions to this environment while it drifts from its source.")
    description = fields.Text()
    stage_ids = fields.One2many("release.stage", "environment_id", string="Deploying stages")
    stage_count = fields.Integer(compute="_compute_stage_count")

    _sql_constraints = [("code_unique", "unique(code)", "An environment code must be unique.")]

    @api.depends("stage_ids")
    def _compute_stage_count(self):
        for environment in self:
            environment.stage_count = len(environment.stage_ids)

    @api.constrains("credentials_ref")
    def _check_credentials_ref(self):
        for environment in self.filtered("credentials_ref"):
            if not CREDENTIAL_REF.match(environment.credentials_ref):
                raise ValidationError(
                    self.env._(
                        "Environment %(name)s: the credentials field takes a reference "
                        "(env:NAME, file:/path or param:key), never the secret itself.",
                        name=environment.name,
                    )
                )

    @api.onchange("tier")
    def _onchange_tier(self):
        self.sequence = TIER_SEQUENCE.get(self.tier, 10)

    def _window_state(self, now):
        """``(open, when, why)`` for a deploy at ``now`` (naive UTC, like Odoo datetimes).

        Open: ``when`` is the window's end. Closed: ``when`` is the next opening (or None),
        ``why`` names the freeze (a leave of the calendar) when one is the reason."""
        self.ensure_one()
        calendar = self.calendar_id
        if not calendar:
            return True, None, ""
        start = pytz.utc.localize(now)
        intervals = calendar._work_intervals_batch(start, start + timedelta(days=WINDOW_HORIZON_DAYS))[False]
        freeze = self.env["resource.calendar.leaves"].search(
            [
                ("calendar_id", "in", [False, calendar.id]),
                ("resource_id", "=", False),
                ("date_from", "<=", now),
                ("date_to", ">", now),
            ],
            limit=1,
        )
        why = self.env._("change freeze '%(name)s'", name=freeze.name) if freeze else ""
        for begin, end, _records in intervals:
            if begin <= start < end:
                return True, end.astimezone(pytz.utc).replace(tzinfo=None), ""
            if begin > start:
                return False, begin.astimezone(pytz.utc).replace(tzinfo=None), why or self.env._("outside %(w)s", w=calendar.name)
        return False, None, why or self.env._("no window of %(w)s in the next %(d)s days", w=calendar.name, d=WINDOW_HORIZON_DAYS)
