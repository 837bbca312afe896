from odoo.tests import HttpCase, tagged

from .common import pipeline_yaml, role_user

TOUR_PIPELINE = pipeline_yaml(
    "PL-TOUR",
    "Tour approvals",
    """\
    - name: Staging
      key: staging
      trigger: manual
      environment: tour-staging
      tasks:
        - {name: Deploy, key: deploy, uses: git.checkout}
      approval:
        rules: [{group: qa_lead}]
      gates: [{name: UAT Sign-off, type: manual}]
""",
    [("tour-staging", "Tour Staging", "staging")],
)


@tagged("post_install", "-at_install", "services")  # services: needs Chromium
class TestReleaseUi(HttpCase):
    def test_runs_menu_and_pipeline_form(self):
        self.start_tour("/odoo", "influencegen_release_runs_and_pipeline", login="admin")

    def test_a_qa_lead_approves_in_the_backend(self):
        qa = role_user(self.env, "tour_qa", "qa_lead", email="qa@example.org")
        pipeline = self.env["release.pipeline.loader"]._load_text(TOUR_PIPELINE, "tour.yml")
        params = {"ref": "refs/heads/main", "sha": "1" * 40}
        run = pipeline._create_run(self.env["release.repository"], params, "tour-run")
        run._advance()
        approval = run.approval_ids
        self.assertIn(qa, approval.activity_ids.user_id)
        self.start_tour("/odoo", "influencegen_release_approve", login="tour_qa")
        self.assertEqual((approval.state, approval.decided_by_id), ("approved", qa))
        self.assertFalse(approval.activity_ids, "the approver's activity is done")
