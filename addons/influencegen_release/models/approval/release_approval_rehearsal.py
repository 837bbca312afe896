from odoo import api, fields, models


class ReleaseApproval(models.Model):
    """The upgrade rehearsal beside the plan: a request for a production Odoo environment asks
    its target to rehearse the planned upgrade (``release.rehearsal``); a failed rehearsal
    blocks approving until a Release Manager overrides it with a reason."""

    _inherit = "release.approval"  # pylint: disable=consider-merging-classes-inherited

    rehearsal_ids = fields.One2many("release.rehearsal", "approval_id", string="Rehearsals", readonly=True)

    @api.model
    def _request(self, run, stage_spec, stage, checksum):
        approval = super()._request(run, stage_spec, stage, checksum)
        self.env["release.rehearsal"]._request(approval)
        return approval

    def _rehearsal_refusal(self):
        """Why approving is refused because of the rehearsal, else None."""
        failed = self.rehearsal_ids.sorted("id")[-1:].filtered("blocks")
        if not failed:
            return None
        return self.env._(
            "The upgrade rehearsal of %(version)s failed (%(error)s): a Release Manager must override it with a reason before this can be approved.",
            version=failed.version or "-",
            error=failed.error or "-",
        )
