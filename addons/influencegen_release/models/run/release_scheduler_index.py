from odoo import models
from odoo.tools.sql import create_index

from ...engine.vocabulary import RUN_TERMINAL

# The scheduler's queries read live work only; these partial indexes hold only live rows, so a
# tick costs the same with ten or ten million finished runs. Each predicate is written exactly as
# the scheduler's queries write it (PostgreSQL uses a partial index when the query's WHERE
# implies the index's), so change both together.
LIVE_RUNS = f"state NOT IN ({', '.join(repr(state) for state in RUN_TERMINAL)})"
LIVE_JOBS_ON_RUNNER = "state IN ('starting', 'running')"
LIVE_JOBS = "state IN ('queued', 'starting', 'running')"


class ReleaseScheduler(models.AbstractModel):
    _inherit = "release.scheduler"

    def init(self):
        result = super().init()
        create_index(self.env.cr, "release_run_live_index", "release_run", ["id"], where=LIVE_RUNS)
        create_index(self.env.cr, "release_job_live_runner_index", "release_job", ["runner_id"], where=LIVE_JOBS_ON_RUNNER)
        create_index(self.env.cr, "release_job_live_index", "release_job", ["mode"], where=LIVE_JOBS)
        return result

    def _live_work(self):
        """What is live, in one query of index probes that stop at the first live row:
        ``{"runs": live runs, "on_runner": container jobs starting or running, "builtins":
        built-in jobs running}``, or ``{}`` when nothing is (the tick then does nothing but
        the housekeeping when due). Jobs are read apart from runs: a failed run's containers
        still run until the reconcile has stopped them."""
        self.env.cr.execute(
            """SELECT EXISTS(SELECT 1 FROM release_run WHERE state NOT IN %s),
                      EXISTS(SELECT 1 FROM release_job WHERE state IN ('starting', 'running') AND runner_id IS NOT NULL),
                      EXISTS(SELECT 1 FROM release_job WHERE state IN ('queued', 'starting', 'running')
                                                         AND state = 'running' AND mode = 'uses'),
                      EXISTS(SELECT 1 FROM release_job WHERE state IN ('queued', 'starting', 'running'))""",
            [RUN_TERMINAL],
        )
        runs, on_runner, builtins, jobs = self.env.cr.fetchone()
        if not (runs or jobs):
            return {}
        return {"runs": runs, "on_runner": on_runner, "builtins": builtins}

    def _has_work(self):
        """Whether the loop should tick again soon: jobs queued or live, runs with jobs still to
        queue, or cancels asked; one query on the live indexes."""
        self.env.cr.execute(
            """SELECT EXISTS(SELECT 1 FROM release_job WHERE state IN ('queued', 'starting', 'running'))
                   OR EXISTS(SELECT 1 FROM release_run r WHERE state NOT IN %s AND r.state IN ('queued', 'running')
                                AND EXISTS(SELECT 1 FROM release_job j WHERE j.run_id = r.id AND j.state IN ('pending', 'queued')))
                   OR EXISTS(SELECT 1 FROM release_run WHERE state NOT IN %s AND cancel_requested)""",
            [RUN_TERMINAL, RUN_TERMINAL],
        )
        return self.env.cr.fetchone()[0]

