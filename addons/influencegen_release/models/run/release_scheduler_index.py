from odoo import models
from odoo.tools.sql import create_index

# The scheduler's queries read live work only; these partial indexes hold only live rows, so a
# tick costs the same with ten or ten million finished runs. Each predicate is written exactly as
# the scheduler's queries write it (PostgreSQL uses a partial index when the query's WHERE
# implies the index's), so change both together.
LIVE_RUNS = "state NOT IN ('succeeded', 'failed', 'cancelled')"
LIVE_JOBS_ON_RUNNER = "state IN ('starting', 'running')"


class ReleaseScheduler(models.AbstractModel):
    _inherit = "release.scheduler"

    def init(self):
        result = super().init()
        create_index(self.env.cr, "release_run_live_index", "release_run", ["id"], where=LIVE_RUNS)
        create_index(self.env.cr, "release_job_live_runner_index", "release_job", ["runner_id"], where=LIVE_JOBS_ON_RUNNER)
        return result
