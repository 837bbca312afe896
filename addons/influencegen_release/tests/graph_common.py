from datetime import timedelta

from odoo import fields

from ..engine.quality.reports import Finding
from .common import pipeline_yaml

# Two runs of one pipeline on main: a baseline that succeeded, then a run whose tests job
# exited 0 with 8 of its 72 tests failed, so that its gate failed and the deploy after it
# never ran. The lint job's findings differ between them: one fixed, one new, one kept.
GRAPH_PIPELINE = pipeline_yaml(
    "PL-GRAPH",
    "Graph pipeline",
    """\
    - name: Build and test
      key: build
      tasks:
        - {name: Lint, key: lint, run: make lint}
        - {name: Unit tests, key: unit, run: make test}
      gates:
        - name: Tests pass
          criteria: [{tests: {from: [unit], max_failed: 0}}, {findings: {from: [lint], severity: critical, max: 0}}]
    - name: Deploy to Graph Staging
      key: staging
      environment: graph-staging
      tasks:
        - {name: Deploy, key: deploy, uses: git.checkout}
      gates:
        - name: Deployed
          criteria: [{succeeded: [deploy]}]
""",
    [("graph-staging", "Graph Staging", "staging")],
)


def lint_finding(rule, file, line):
    return Finding("pylint", rule, "medium", file, line, f"{rule} in {file}", f"fp-{rule}-{file}")


class GraphData:
    """A baseline run and a run whose gate failed on 8 failed tests (``graph_run``)."""

    @classmethod
    def setup_graph_data(cls):
        cls.graph_pipeline = cls.env["release.pipeline.loader"]._load_text(GRAPH_PIPELINE, "graph.yml")
        now = fields.Datetime.now()
        cls.baseline_run = cls._graph_run(
            "graph-baseline", now - timedelta(hours=2), [lint_finding("W0611", "models/a.py", 3), lint_finding("C0301", "models/b.py", 9)], 0
        )
        cls.baseline_run.job_ids.filtered(lambda j: j.state == "pending")._skip()
        cls.baseline_run.write({"state": "succeeded", "finished_at": now - timedelta(hours=1)})
        cls.graph_run = cls._graph_run(
            "graph-run", now - timedelta(minutes=10), [lint_finding("C0301", "models/b.py", 12), lint_finding("E1101", "models/c.py", 40)], 8
        )
        cls.graph_run._advance()  # the gate is judged: 8 failed tests, the run fails

    @classmethod
    def _graph_run(cls, fingerprint, start, findings, failed_tests):
        """A run whose build stage's jobs waited 30 s in the queue, ran and exited 0."""
        params = {"ref": "refs/heads/main", "sha": "3" * 40}
        run = cls.graph_pipeline._create_run(cls.env["release.repository"], params, fingerprint)
        run._advance()  # queues the build stage's jobs
        for offset, job in enumerate(run.job_ids.filtered(lambda j: j.stage_key == "build")):
            job.write(
                {
                    "queued_at": start,
                    "state": "running",
                    "started_at": start + timedelta(seconds=30),
                    "finished_at": start + timedelta(seconds=95 + 60 * offset),
                }
            )
            if job.task_key == "lint":
                cls.env["release.finding"]._record(job, findings, report="pylint.json")
            else:
                job.write({"tests_total": 72, "tests_failed": failed_tests})
            job.write({"state": "succeeded", "exit_code": 0})
        run.started_at = start
        return run
