from odoo import fields, models


class ReleaseRunnerWarm(models.Model):
    """A warm container on a runner host: started ahead with a task's image and limits, waiting
    for a job's files (``engine/execution/warm.py``). A row is a container free to take: the
    claim that gives it to a job deletes the row in the same transaction (under the runner's
    lock), so no container ever serves two jobs. Rows are written by the scheduler's refill
    (``release.scheduler._refill_warm``) and checked against Docker by its housekeeping."""

    _name = "release.runner.warm"
    _description = "Warm Container (started ahead, waiting for a job)"
    _order = "id"

    runner_id = fields.Many2one("release.runner", required=True, ondelete="cascade", index=True)
    key = fields.Char(required=True, help="Image and limits a task must share to run in this container.")
    container_id = fields.Char(required=True)
    name = fields.Char(required=True, help="The container's name, also its job volume's.")
