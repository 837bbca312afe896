from odoo import api, models
from odoo.exceptions import UserError

from ...engine.approval.policy import APPROVE


class ReleaseApprovalVote(models.Model):
    """A failed upgrade rehearsal that nobody overrode refuses every approving vote."""

    _inherit = "release.approval.vote"

    @api.model
    def _refusal(self, approval, user, decision, comment=None):
        refusal = super()._refusal(approval, user, decision, comment)
        if refusal or decision != APPROVE:
            return refusal
        blocked = approval._rehearsal_refusal()
        return (UserError, blocked) if blocked else None
