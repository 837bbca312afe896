from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ...engine.vocabulary import ROLE_GROUP


class ReleaseChecklistItem(models.Model):
    """One item of a checklist task (pre-cutover preparation, post-cutover validation),
    confirmed or failed by a named person holding one of the task's ``confirm_by`` roles.

    The job waits until every item is done; a failed item fails the job (and, after a
    deployment in the same stage, starts the rollback path)."""

    _name = "release.checklist.item"
    _description = "Checklist Item"
    _order = "job_id, sequence, id"

    job_id = fields.Many2one("release.job", required=True, ondelete="restrict", index=True, readonly=True)
    run_id = fields.Many2one(related="job_id.run_id", store=True, index=True)
    pipeline_id = fields.Many2one(related="job_id.pipeline_id", store=True)
    sequence = fields.Integer(default=10, readonly=True)
    name = fields.Char(string="Item", required=True, readonly=True)
    confirm_roles = fields.Char(readonly=True, help="Roles allowed to confirm, comma-separated.")
    state = fields.Selection(
        [("todo", "To do"), ("done", "Done"), ("failed", "Failed")], required=True, default="todo", readonly=True
    )
    note = fields.Text()
    checked_by_id = fields.Many2one("res.users", string="Confirmed by", readonly=True)
    checked_at = fields.Datetime(string="Confirmed at", readonly=True)

    def action_done(self):
        return self._check("done", "")

    def action_fail(self):
        return self._check("failed", self.note or "")

    def api_check(self, result, note=""):
        """XML-RPC: ``result`` is 'done' or 'failed' (a failure needs a note)."""
        self._check(result, note)
        return [{"id": item.id, "name": item.name, "state": item.state} for item in self]

    def write(self, vals):
        # Confirming is the only change anybody makes, and only as themselves (RPC included).
        if set(vals) & {"state", "checked_by_id", "checked_at"} and not self.env.su:
            self._validate_check(vals.get("state"), vals.get("note", ""), vals.get("checked_by_id"))
        return super().write(vals)

    @api.model
    def _settle(self, run):
        """A waiting checklist job of ``run`` ends when its items are all done, or fails on a failed one."""
        for job in run.job_ids.filtered(lambda j: j.state == "waiting" and j.mode == "checklist"):
            items = run.checklist_item_ids.filtered(lambda i, j=job: i.job_id == j)
            failed = items.filtered(lambda i: i.state == "failed")
            if failed:
                reason = "; ".join(f"{i.name}: {i.note} ({i.checked_by_id.name})" for i in failed)
                job._fail(reason[:250], exit_code=1)
            elif items and not items.filtered(lambda i: i.state == "todo"):
                job._finish("succeeded", exit_code=0)

    def _check(self, result, note):
        self.write({"state": result, "note": note or False, "checked_by_id": self.env.uid, "checked_at": fields.Datetime.now()})
        for item in self:
            item.run_id.message_post(
                body=self.env._(
                    "Checklist %(task)s: '%(item)s' %(result)s by %(user)s.%(note)s",
                    task=item.job_id.name,
                    item=item.name,
                    result=result,
                    user=self.env.user.name,
                    note=f" {note}" if note else "",
                )
            )
        self.run_id._wake_scheduler()
        return True

    def _status(self):
        """These items as a run's status lists them."""
        return [
            {"id": i.id, "task": i.job_id.task_key, "item": i.name, "state": i.state, "by": i.checked_by_id.login or False}
            for i in self
        ]

    def _validate_check(self, result, note, checked_by):
        if result not in ("done", "failed"):
            raise UserError(self.env._("A checklist result is 'done' or 'failed', got %(r)r.", r=result))
        if checked_by != self.env.uid:
            raise AccessError(self.env._("A checklist item is confirmed in the name of the person who confirms it."))
        for item in self:
            if item.state != "todo":
                raise UserError(self.env._("'%(item)s' was already confirmed by %(user)s.", item=item.name, user=item.checked_by_id.name))
            if item.job_id.state != "waiting":
                raise UserError(self.env._("'%(item)s' is not awaited now (job %(state)s).", item=item.name, state=item.job_id.state))
            roles = [r.strip() for r in (item.confirm_roles or "").split(",") if r.strip()]
            if not any(self.env.user.has_group(ROLE_GROUP % role) for role in roles):
                raise AccessError(
                    self.env._("Only these roles confirm '%(item)s': %(roles)s.", item=item.name, roles=", ".join(roles))
                )
            if result == "failed" and not (note or "").strip():
                raise UserError(self.env._("Say what failed: a note is required to fail '%(item)s'.", item=item.name))
