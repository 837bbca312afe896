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

    def _summary_extras(self):
        """The newest rehearsal, beside the plan on the card, the dialog and the form."""
        extras = super()._summary_extras()
        rehearsal = self.rehearsal_ids.sorted("id")[-1:]
        if not rehearsal:
            return extras
        states = dict(rehearsal._fields["state"]._description_selection(self.env))
        if rehearsal.state == "passed":
            text = self.env._(
                "passed in %(duration)s s (upgrade %(upgrade)s s, database %(size)s MB): installs %(installed)s, upgrades %(upgraded)s",
                duration=round(rehearsal.duration_s),
                upgrade=round(rehearsal.upgrade_s),
                size=round(rehearsal.database_mb, 1),
                installed=rehearsal.modules_installed or "-",
                upgraded=rehearsal.modules_upgraded or "-",
            )
        elif rehearsal.state == "failed":
            text = self.env._("failed: %(error)s", error=rehearsal.error or "-")
            if rehearsal.override_by_id:
                text += self.env._(" (overridden by %(who)s: %(why)s)", who=rehearsal.override_by_id.name, why=rehearsal.override_reason)
        else:
            text = states.get(rehearsal.state, rehearsal.state)
        return [*extras, {"label": self.env._("Upgrade rehearsal"), "text": text}]
