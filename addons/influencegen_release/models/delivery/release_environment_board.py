from odoo import api, models

from ...engine.vocabulary import TIER_SEQUENCE, role_group

RELEASE_MANAGER = role_group("release_manager")


class ReleaseEnvironment(models.Model):
    """What the environment board adds to each environment: where its version can be promoted
    (the environments of the next tier of its kind that run something else)."""

    _inherit = "release.environment"

    @api.model
    def api_board(self):
        rows = super().api_board()
        may_promote = self.env.user.has_group(RELEASE_MANAGER)
        for row in rows:
            for entry in row["environments"]:
                entry["promote_to"] = self._promotions(row["environments"], entry) if may_promote else []
        return rows

    @api.model
    def _promotions(self, environments, entry):
        """The environments of the next tier above ``entry`` (board entries of one kind) that
        do not run its version: a Release Manager promotes it there (``api_deploy``)."""
        version = entry["current"] and entry["current"]["version"]
        above = [e for e in environments if TIER_SEQUENCE[e["tier"]] > TIER_SEQUENCE[entry["tier"]]]
        if not version or not above:
            return []
        next_tier = min(TIER_SEQUENCE[e["tier"]] for e in above)
        return [
            {"code": e["code"], "name": e["name"], "version": version}
            for e in above
            if TIER_SEQUENCE[e["tier"]] == next_tier and (e["current"] or {}).get("version") != version
        ]
