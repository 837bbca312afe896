from odoo.tests.common import TransactionCase, new_test_user


class ReleaseCase(TransactionCase):
    """Users of each role, created the way an administrator would."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        prefix = "influencegen_release.group_release_"
        cls.viewer = new_test_user(cls.env, "t_viewer", groups=f"base.group_user,{prefix}user")
        cls.developer = new_test_user(cls.env, "t_developer", groups=f"base.group_user,{prefix}developer")
        cls.qa_lead = new_test_user(cls.env, "t_qa_lead", groups=f"base.group_user,{prefix}qa_lead")
        cls.cab_member = new_test_user(cls.env, "t_cab", groups=f"base.group_user,{prefix}cab_member")
        cls.manager = new_test_user(cls.env, "t_manager", groups=f"base.group_user,{prefix}release_manager")
        cls.Pipeline = cls.env["release.pipeline"]
        cls.Loader = cls.env["release.pipeline.loader"]

    def pipeline(self, code):
        return self.Pipeline.search([("code", "=", code)])
