import logging

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError

from ...engine.vocabulary import DEPLOYMENT_SUCCESSFUL, ROLE_GROUP

_logger = logging.getLogger(__name__)

AUTOMATIC_CRON = "influencegen_release.ir_cron_release_automatic_rollback"


class ReleaseRun(models.Model):
    """``rollback.automatic``: a production deployment stage that fails after its deploy (a
    smoke check, a post-cutover validation item) rolls its environment back by itself, through
    the deployer's ``_rollback`` (code, and the database where ``restore_database`` says so).

    The rollback is long work on a target: it runs in its own cron job, never inside the
    scheduler's tick; a rollback that cannot be done falls back to the manual path (the Release
    Managers' to-dos)."""

    _inherit = "release.run"  # pylint: disable=consider-merging-classes-inherited

    rollback_state = fields.Selection(
        selection_add=[
            ("automatic_queued", "Rolling back automatically"),
            ("automatic", "Rolled back automatically"),
        ],
        ondelete={"automatic_queued": "set null", "automatic": "set null"},
    )
    rollback_environment_id = fields.Many2one("release.environment", string="Rolled back environment", readonly=True)
    rollback_deployment_id = fields.Many2one(
        "release.deployment", string="Automatic rollback", readonly=True, help="The deployment that rolled the environment back by itself."
    )

    @api.model
    def _cron_automatic_rollbacks(self, limit=5):
        """Carry out the queued automatic rollbacks, each in its own transaction."""
        for _i in range(limit):
            with self.env.registry.cursor() as cr:
                run = self.with_env(self.env(cr=cr))._claim_automatic_rollback()
                if not run:
                    return
                run._roll_back_automatically()
                run.env.flush_all()

    # -- the rollback path ------------------------------------------------------------------
    def _rollback_path(self, stage, jobs):
        deployment = self._automatic_rollback_of(stage, jobs)
        if not deployment:
            return super()._rollback_path(stage, jobs)
        environment = deployment.environment_id
        self.write({"rollback_state": "automatic_queued", "rollback_environment_id": environment.id})
        failed = jobs.filtered(lambda j: j.state == "failed")
        self.message_post(
            body=self.env._(
                "%(stage)s failed after deploying %(version)s to %(env)s (%(jobs)s): rolling back automatically (rollback.automatic).",
                stage=stage["name"],
                version=deployment.version or "-",
                env=environment.code,
                jobs=", ".join(failed.mapped("name")) or "-",
            )
        )
        self.env.ref(AUTOMATIC_CRON).sudo()._trigger()

    def _automatic_rollback_of(self, stage, jobs):
        """The deployment of this run that an automatic rollback undoes, if the pipeline asks
        for one: a production environment whose running deployment is this run's."""
        if not (self._spec().get("rollback") or {}).get("automatic") or not stage.get("environment"):
            return self.env["release.deployment"]
        if not jobs.filtered(lambda j: j.state == "succeeded" and j.mode != "checklist"):
            return self.env["release.deployment"]
        environment = jobs.environment_id[:1]
        current = environment.current_deployment_id
        if environment.tier != "production" or current.run_id != self or current.outcome not in DEPLOYMENT_SUCCESSFUL:
            return self.env["release.deployment"]
        return current

    def _claim_automatic_rollback(self):
        self.env.cr.execute(
            "SELECT id FROM release_run WHERE rollback_state = 'automatic_queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        row = self.env.cr.fetchone()
        return self.browse(row[0]) if row else self.browse()

    def _roll_back_automatically(self):
        """Roll the environment back with its deployer's ``_rollback`` and say how it went.
        Done once: the run's deployment must still be the one running there."""
        self.ensure_one()
        environment = self.rollback_environment_id
        current = environment.current_deployment_id
        if current.run_id != self or current.is_rollback:
            self.rollback_state = "required"
            self._automatic_rollback_failed(
                environment, self.env._("%(env)s no longer runs this run's deployment", env=environment.code)
            )
            return
        deployer = environment._deployer()
        try:
            answer = deployer._rollback(environment)
        except (*deployer._target_errors(), UserError) as exc:
            answer = {"deployment": False, "run": False, "outcome": False, "error": str(exc)}
        except Exception as exc:  # a rollback that crashed must still reach the Release Managers
            _logger.exception("automatic rollback of run %s", self.id)
            answer = {"deployment": False, "run": False, "outcome": False, "error": str(exc)}
        deployment = self.env["release.deployment"].browse(answer["deployment"] or [])
        revert = self.env["release.run"].browse(answer["run"] or [])
        if deployment:
            deployment.automatic_rollback = True
            deployment.message_post(
                body=self.env._("Automatic rollback (rollback.automatic) after run %(run)s failed.", run=self.display_name)
            )
        done = (deployment and deployment.outcome in DEPLOYMENT_SUCCESSFUL) or (revert and not deployment)
        self.write({"rollback_state": "automatic" if done else "required", "rollback_deployment_id": deployment.id})
        if done:
            body = self.env._(
                "Rolled back automatically: %(env)s runs %(version)s again (%(how)s).",
                env=environment.code,
                version=answer.get("version") or "-",
                how=deployment.plan or (revert and self.env._("revert run %(run)s", run=revert.display_name)) or "-",
            )
            self.message_post(body=body, partner_ids=self._release_managers().partner_id.ids, subtype_xmlid="mail.mt_comment")
            self.env["release.notification"]._enqueue(self, "deploy_failed", self.env._("%(env)s rolled back automatically", env=environment.code), body)
        else:
            self._automatic_rollback_failed(environment, answer.get("error") or deployment.outcome)

    def _automatic_rollback_failed(self, environment, error):
        """The automatic rollback could not be done: the manual path takes over."""
        body = self.env._("The automatic rollback of %(env)s failed: %(error)s. Roll it back by hand.", env=environment.code, error=error)
        self.message_post(body=Markup("<b>%s</b>") % body, partner_ids=self._release_managers().partner_id.ids, subtype_xmlid="mail.mt_comment")
        stage = next((s for s in self._spec()["stages"] if s.get("environment") == environment.code), None)
        if stage:
            changed = self.job_ids.filtered(lambda j: j.stage_key == stage["key"] and j.state == "succeeded" and j.mode != "checklist")
            self.env["release.notification"]._notify_rollback(self, stage, changed)
        self.env["release.notification"]._enqueue(self, "deploy_failed", self.env._("Automatic rollback of %(env)s failed", env=environment.code), body)

    def _release_managers(self):
        return self.env.ref(ROLE_GROUP % "release_manager").users.filtered("active")

