from odoo import api, models
from odoo.exceptions import UserError


class ReleaseEvidenceMixin(models.AbstractModel):
    """Records that are evidence of a decision (votes, escalation decisions, submitted UAT
    sessions and their scenarios): once sealed nobody changes or deletes them, nor adds parts
    to them, RPC included. Narrow on purpose, like OCA base_tier_validation's mixin: a model
    says what it is (``_evidence_label``) and, when it is not sealed from its creation, when it
    is (``_evidence_sealed``); a part of a whole (``_evidence_parent``, a field name) is sealed
    with it. Fields of ``_evidence_writable`` are bookkeeping that may still change."""

    _name = "release.evidence.mixin"
    _description = "Evidence that is never changed"
    _evidence_parent = None
    _evidence_writable = frozenset()

    def _evidence_label(self):
        """What one record is, in the refusals: "A decision"."""
        raise NotImplementedError

    def _evidence_sealed(self):
        """The records of ``self`` that are evidence: those of a sealed whole, else all of them."""
        if self._evidence_parent:
            return self.filtered(lambda record: record[self._evidence_parent]._evidence_sealed())
        return self

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if self._evidence_parent and records._evidence_sealed():
            whole = records[self._evidence_parent]
            raise UserError(self.env._("%(what)s is evidence: nothing can be added to it.", what=whole._evidence_label()))
        return records

    def write(self, vals):
        if set(vals) - self._evidence_writable and self._evidence_sealed():
            raise UserError(self.env._("%(what)s is evidence: it cannot be changed.", what=self._evidence_label()))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never_evidence(self):
        if self._evidence_sealed():
            raise UserError(self.env._("%(what)s is evidence: it cannot be deleted.", what=self._evidence_label()))
