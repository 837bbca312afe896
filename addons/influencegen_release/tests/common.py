from odoo.tests.common import TransactionCase, new_test_user

ROLE_GROUP = "influencegen_release.group_release_"

# A build stage whose job the tests finish by hand (no container) and whose gate needs it.
BUILD_STAGE = """\
    - name: Build
      key: build
      tasks:
        - {name: Compile, key: compile, run: make build}
      gates:
        - name: Build passes
          criteria: [{succeeded: [compile]}]
"""


def pipeline_yaml(code, name, stages, environments=(), extra=""):
    """The text of a pipeline file of the tests: ``code``, an Odoo pipeline started by hand on
    the runner's base image, whose ``stages`` are YAML items of ``stages:`` (indented by 4);
    ``environments``: ``(code, name, tier)`` of Odoo environments; ``extra``: more keys of
    ``pipeline:`` (indented by 2)."""
    envs = "".join(f"  - {{code: {c}, name: {n}, tier: {t}, kind: odoo}}\n" for c, n, t in environments)
    return (
        "version: 1\n"
        + (f"environments:\n{envs}" if envs else "")
        + f"pipeline:\n  code: {code}\n  name: {name}\n  kind: odoo\n  triggers:\n    - {{event: manual}}\n"
        + "  defaults: {image: influencegen/runner-base:bookworm}\n"
        + extra
        + "  stages:\n"
        + stages
    )


def role_user(env, login, *roles, **values):
    """A user with the groups of ``roles`` (``qa_lead``, ``cab_member``...), created the way an
    administrator would; ``values`` (``name``, ``tz``, ``email``) are given to it."""
    groups = ",".join(["base.group_user", *(ROLE_GROUP + role for role in roles)])
    return new_test_user(env, login, groups=groups, **values)


class ReleaseCase(TransactionCase):
    """Users of each role, created the way an administrator would."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.viewer = role_user(cls.env, "t_viewer", "user")
        cls.developer = role_user(cls.env, "t_developer", "developer")
        cls.qa_lead = role_user(cls.env, "t_qa_lead", "qa_lead")
        cls.cab_member = role_user(cls.env, "t_cab", "cab_member")
        cls.manager = role_user(cls.env, "t_manager", "release_manager")
        cls.Pipeline = cls.env["release.pipeline"]
        cls.Loader = cls.env["release.pipeline.loader"]

    def pipeline(self, code):
        return self.Pipeline.search([("code", "=", code)])
