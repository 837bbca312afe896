from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

APPROVER_GROUPS = ("influencegen_release.group_release_release_manager", "influencegen_release.group_release_devops_lead")


class ReleaseWaiver(models.Model):
    _name = "release.waiver"
    _description = "Accepted Finding (waiver)"
    _inherit = ["mail.thread"]
    _order = "expires_on desc, id desc"

    fingerprint = fields.Char(required=True, index=True, tracking=True, help="The finding accepted, as its fingerprint.")
    finding_id = fields.Many2one("release.finding", string="Example finding", ondelete="set null")
    rule = fields.Char(related="finding_id.rule")
    file = fields.Char(related="finding_id.file")
    pipeline_id = fields.Many2one(
        "release.pipeline", tracking=True, ondelete="restrict", help="Empty: the waiver applies to every pipeline."
    )
    reason = fields.Text(required=True, tracking=True)
    approved_by_id = fields.Many2one(
        "res.users", string="Approved by", required=True, readonly=True, default=lambda self: self.env.user, tracking=True
    )
    expires_on = fields.Date(required=True, tracking=True)
    active = fields.Boolean(default=True, tracking=True, help="Archive to revoke; waivers are never deleted.")
    expired = fields.Boolean(compute="_compute_expired", search="_search_expired")

    @api.depends("expires_on")
    def _compute_expired(self):
        today = fields.Date.context_today(self)
        for waiver in self:
            waiver.expired = bool(waiver.expires_on and waiver.expires_on < today)

    def _search_expired(self, operator, value):
        today = fields.Date.context_today(self)
        expired = (operator == "=") == bool(value)
        return [("expires_on", "<" if expired else ">=", today)]

    @api.constrains("approved_by_id")
    def _check_approver(self):
        for waiver in self:
            if not any(waiver.approved_by_id.has_group(group) for group in APPROVER_GROUPS):
                raise ValidationError(
                    self.env._("Only a Release Manager or a DevOps Lead may accept a finding (%(user)s may not).", user=waiver.approved_by_id.name)
                )

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("Waivers are evidence: archive one to revoke it."))

    @api.model
    def _waived(self, pipeline, fingerprints):
        """Fingerprints, among these, covered by a waiver in force today for this pipeline."""
        waivers = self.search(
            [
                ("fingerprint", "in", list(fingerprints)),
                ("expired", "=", False),
                "|",
                ("pipeline_id", "=", False),
                ("pipeline_id", "=", pipeline.id),
            ]
        )
        return set(waivers.mapped("fingerprint"))
