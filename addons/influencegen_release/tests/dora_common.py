from datetime import timedelta

from odoo import fields

from .common import pipeline_yaml, role_user

# A pipeline that deploys to a staging and a production environment; the tests give its
# deployments known dates (tests/test_dora_metrics.py computes what DORA's keys must be).
DORA_PIPELINE = pipeline_yaml(
    "PL-DORA",
    "DORA pipeline",
    """\
    - name: Production
      key: production
      environment: dora-prod
      tasks:
        - {name: Deploy, key: deploy, uses: git.checkout}
""",
    [("dora-staging", "DORA Staging", "staging"), ("dora-prod", "DORA Production", "production")],
)


class DoraData:
    """Deployments to DORA Production over the last 30 days (days before now: hours after
    that day's push):

    ====  ======  =====================================  =================================
    push  commit  deployment (start -> end, outcome)     DORA
    ====  ======  =====================================  =================================
    10 d  A       D1 +1 h -> +2 h deployed               lead 2 h
     9 d  B       D2 +3 h -> +4 h error                  failure, restored by D3: 3 h
                  D3 +5 h -> +6 h deployed               lead 6 h
     8 d  C       D4 +1 h -> +2 h deployed, rolled back  lead 2 h, failure, restored by R1: 4 h
                  R1 +4 h -> +5 h deployed (rollback)    not a deployment of its own
     7 d  D       D5 +1 h -> +1.5 h failed, restored     failure, restored: 0.5 h
     6 d  D       D6 +2 h -> +3 h unchanged              not a change
    40 d  Z       D0 +1 h -> +2 h deployed               before the period
    ====  ======  =====================================  =================================

    So over 30 days: 3 successful deployments (0.1 a day), lead time 10/3 h, 3 failed
    changes of 5 (60 %), time to restore 7.5/3 = 2.5 h. DORA Staging has one deployment of
    A, 1 h after its push."""

    @classmethod
    def setup_dora_data(cls):
        cls.dora_viewer = role_user(cls.env, "dora_viewer", "user")
        cls.dora_pipeline = cls.env["release.pipeline.loader"]._load_text(DORA_PIPELINE, "dora.yml")
        Environment = cls.env["release.environment"]
        cls.dora_prod = Environment.search([("code", "=", "dora-prod")])
        cls.dora_staging = Environment.search([("code", "=", "dora-staging")])
        now = fields.Datetime.now().replace(microsecond=0)
        cls.dora_now = now
        pushes = {"A": 10, "B": 9, "C": 8, "D": 7, "Z": 40}
        runs = {}
        for commit, days in pushes.items():
            run = cls.env["release.run"].create(
                {"pipeline_id": cls.dora_pipeline.id, "ref": "refs/heads/main", "commit_sha": commit.lower() * 40}
            )
            runs[commit] = run
            cls._dora_sql("UPDATE release_run SET create_date = %s WHERE id = %s", now - timedelta(days=days), run.id)

        def deploy(environment, commit, start_h, end_h, outcome, push_days, rollback_of=None):
            run = runs[commit]
            artifact = cls.env["release.artifact"].create(
                {"name": f"dora-{commit}.zip", "kind": "odoo_modules", "version": f"1.0.{ord(commit)}", "commit_sha": run.commit_sha, "run_id": run.id}
            )
            deployment = cls.env["release.deployment"].create(
                {
                    "environment_id": environment.id,
                    "artifact_id": artifact.id,
                    "run_id": run.id,
                    "is_rollback": bool(rollback_of),
                    "rollback_of_id": rollback_of.id if rollback_of else False,
                }
            )
            pushed = now - timedelta(days=push_days)
            cls._dora_sql(
                "UPDATE release_deployment SET outcome = %s, started_at = %s, finished_at = %s WHERE id = %s",
                outcome,
                pushed + timedelta(hours=start_h),
                pushed + timedelta(hours=end_h),
                deployment.id,
            )
            return deployment

        prod = cls.dora_prod
        cls.dora_d0 = deploy(prod, "Z", 1, 2, "deployed", 40)
        cls.dora_d1 = deploy(prod, "A", 1, 2, "deployed", 10)
        cls.dora_d2 = deploy(prod, "B", 3, 4, "error", 9)
        cls.dora_d3 = deploy(prod, "B", 5, 6, "deployed", 9)
        cls.dora_d4 = deploy(prod, "C", 1, 2, "deployed", 8)
        cls.dora_r1 = deploy(prod, "A", 4, 5, "deployed", 8, rollback_of=cls.dora_d4)
        cls.dora_d5 = deploy(prod, "D", 1, 1.5, "failed", 7)
        cls.dora_d6 = deploy(prod, "D", 2, 3, "unchanged", 6)
        cls.dora_staging_d1 = deploy(cls.dora_staging, "A", 0.5, 1, "deployed", 10)
        cls.env.invalidate_all()

    @classmethod
    def _dora_sql(cls, query, *params):
        cls.env.flush_all()
        cls.env.cr.execute(query, params)
