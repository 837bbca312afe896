from odoo import api, fields, models
from odoo.exceptions import UserError

from .release_approval import ACTIVITY_TYPE
from .release_approval_activity import CLOSING


class MailActivity(models.Model):
    """A release decision activity closes with the vote it asks for: Approve or Reject on the
    request. Marking it done or cancelling it would leave the request pending and unseen."""

    _inherit = "mail.activity"

    release_decision = fields.Boolean(
        compute="_compute_release_decision", help="Closed by approving or rejecting its release request only."
    )

    @api.depends("activity_type_id")
    def _compute_release_decision(self):
        decision_type = self.env.ref(ACTIVITY_TYPE, raise_if_not_found=False)
        for activity in self:
            activity.release_decision = bool(decision_type) and activity.activity_type_id == decision_type

    def unlink(self):
        self._check_release_decision(self.env._("cancelled"))
        return super().unlink()

    def _action_done(self, feedback=False, attachment_ids=None):
        self._check_release_decision(self.env._("marked as done"))
        return super()._action_done(feedback=feedback, attachment_ids=attachment_ids)

    def _check_release_decision(self, what):
        """Refuse ``what`` on a release decision, unless its request closes it (or the
        request itself is being deleted, which Odoo does as the superuser)."""
        if self.env.context.get(CLOSING) or self.env.su:
            return
        decision = self.filtered("release_decision")[:1]
        if decision:
            raise UserError(
                self.env._(
                    "“%(summary)s” cannot be %(what)s: it closes when you approve or reject the request. "
                    "Open the request (or My approvals) and decide there.",
                    summary=decision.summary or decision.res_name,
                    what=what,
                )
            )
