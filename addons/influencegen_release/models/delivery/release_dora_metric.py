from datetime import timedelta

from odoo import api, fields, models, tools
from odoo.tools import SQL

from ...engine.vocabulary import TIERS
from .release_deployment import OUTCOMES

# DORA's four keys, read from the deployment history (release.deployment) and the runs.
# One row per deployment that tried to change an environment (rollbacks are how failures
# end, not deployments of their own; "nothing to change" changed nothing):
# - deployment frequency: successful deployments per day of the period;
# - lead time for changes: from the commit's push (the first run of that commit) to the
#   end of its successful deployment;
# - change failure rate: deployments that failed, or were rolled back later, over all;
# - time to restore: from the start of a failing deployment to the service restored, that is
#   the end of that deployment when the deployer restored the target itself ("failed,
#   restored"), else of the next successful deployment (a rollback or a fix) of the
#   environment. A failure nothing restored yet has no time to restore: it is "open".
DORA_QUERY = """
SELECT d.id AS id,
       d.id AS deployment_id,
       d.pipeline_id AS pipeline_id,
       d.environment_id AS environment_id,
       e.tier AS tier,
       d.finished_at AS date,
       d.version AS version,
       d.commit_sha AS commit_sha,
       d.outcome AS outcome,
       CASE WHEN d.outcome = 'deployed' THEN 1 ELSE 0 END AS deployments,
       f.is_failure::int AS failures,
       CASE WHEN f.is_failure THEN 100.0 ELSE 0.0 END AS change_failure_rate,
       CASE WHEN d.outcome = 'deployed' THEN
           EXTRACT(EPOCH FROM d.finished_at - COALESCE(push.pushed_at, r.create_date)) / 3600.0
       END AS lead_time_h,
       CASE WHEN f.is_failure THEN EXTRACT(EPOCH FROM restore.restored_at - d.started_at) / 3600.0 END AS restore_time_h,
       CASE WHEN f.is_failure AND restore.restored_at IS NULL THEN 1 ELSE 0 END AS open_failures
  FROM release_deployment d
  JOIN release_environment e ON e.id = d.environment_id
  LEFT JOIN release_run r ON r.id = d.run_id
  LEFT JOIN LATERAL (
        SELECT MIN(first_run.create_date) AS pushed_at
          FROM release_run first_run
         WHERE first_run.commit_sha = d.commit_sha
       ) push ON d.commit_sha IS NOT NULL
 CROSS JOIN LATERAL (
        SELECT d.outcome IN ('failed', 'error')
               OR EXISTS (SELECT 1 FROM release_deployment rollback WHERE rollback.rollback_of_id = d.id)
               AS is_failure
       ) f
  LEFT JOIN LATERAL (
        SELECT CASE WHEN d.outcome = 'failed' THEN d.finished_at ELSE (
                   SELECT MIN(later.finished_at)
                     FROM release_deployment later
                    WHERE later.environment_id = d.environment_id
                      AND later.id > d.id
                      AND later.outcome IN ('deployed', 'unchanged')
                      AND later.finished_at IS NOT NULL
               ) END AS restored_at
       ) restore ON f.is_failure
 WHERE NOT COALESCE(d.is_rollback, FALSE)
   AND d.outcome IN ('deployed', 'failed', 'error')
   AND d.finished_at IS NOT NULL
"""


class ReleaseDoraMetric(models.Model):
    """DORA's four keys per deployment, to group by pipeline, environment and date in the
    pivot and graph views; ``api_dora`` sums them up per pipeline and environment for the
    dashboard. A SQL view: always current, nothing to recompute."""

    _name = "release.dora.metric"
    _description = "DORA metrics (per deployment)"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "deployment_id"

    deployment_id = fields.Many2one("release.deployment", readonly=True)
    pipeline_id = fields.Many2one("release.pipeline", readonly=True)
    environment_id = fields.Many2one("release.environment", readonly=True)
    tier = fields.Selection([(t, t.capitalize()) for t in TIERS], readonly=True)
    date = fields.Datetime(string="Finished", readonly=True)
    version = fields.Char(readonly=True)
    commit_sha = fields.Char(string="Commit", readonly=True)
    outcome = fields.Selection(OUTCOMES, readonly=True)
    deployments = fields.Integer(string="Successful deployments", readonly=True, aggregator="sum")
    failures = fields.Integer(string="Failed changes", readonly=True, aggregator="sum")
    change_failure_rate = fields.Float(
        string="Change failure rate (%)", readonly=True, aggregator="avg", help="Failed or rolled back, over all deployments."
    )
    lead_time_h = fields.Float(
        string="Lead time (h)", readonly=True, aggregator="avg", help="From the commit's push to its successful deployment."
    )
    restore_time_h = fields.Float(
        string="Time to restore (h)",
        readonly=True,
        aggregator="avg",
        help="From the start of a failing deployment to the environment restored (by the deployer, a rollback or a fix).",
    )
    open_failures = fields.Integer(string="Not restored yet", readonly=True, aggregator="sum")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), SQL(DORA_QUERY)))

    @api.model
    def api_dora(self, days=30):
        """The four keys per pipeline and environment over the last ``days`` days, most
        critical tier first, for the dashboard: ``{days, rows: [...]}``, times in hours."""
        days = max(1, int(days))
        since = fields.Datetime.now() - timedelta(days=days)
        groups = self._read_group(
            [("date", ">=", since)],
            ["pipeline_id", "environment_id"],
            ["__count", "deployments:sum", "failures:sum", "lead_time_h:avg", "restore_time_h:avg", "open_failures:sum"],
        )
        rank = {tier: index for index, tier in enumerate(reversed(TIERS))}
        rows = []
        for pipeline, environment, count, deployments, failures, lead_time, restore_time, open_failures in groups:
            rows.append(
                {
                    "pipeline": {"id": pipeline.id, "name": pipeline.display_name} if pipeline else False,
                    "environment": {"id": environment.id, "name": environment.display_name, "tier": environment.tier},
                    "attempts": count,
                    "deployments": deployments,
                    "deployments_per_day": deployments / days,
                    "lead_time_h": False if lead_time is None else lead_time,
                    "change_failure_rate": 100.0 * failures / count if count else 0.0,
                    "failures": failures,
                    "restore_time_h": False if restore_time is None else restore_time,
                    "open_failures": open_failures,
                }
            )
        rows.sort(key=lambda r: (rank.get(r["environment"]["tier"], 99), r["pipeline"] and r["pipeline"]["name"] or "", r["environment"]["name"]))
        return {"days": days, "rows": rows}
