from odoo import api, models
from odoo.exceptions import UserError

from ...engine.vocabulary import DEPLOYMENT_SUCCESSFUL as SUCCESSFUL


class ReleaseDeployer(models.AbstractModel):
    """What every environment kind answers, behind one narrow interface.

    ``release.environment._deployer()`` picks ``release.deployer.<kind>`` by the environment's
    kind, the way ``delivery.carrier`` dispatches on ``delivery_type``; nothing else branches
    on the kind. Each method takes the environment it acts on as its first argument:

    - ``_plan(environment, run)``: what deploying the run's artifact would change, for approvers;
    - ``_deploy(environment, deployment, artifact, rollback_of, approved_digest)``: do it;
    - ``_rollback(environment)``: put the previous good state back (one answer for every kind);
    - ``_drift(environment)``: what changed on the target since the last deploy recorded here;
    - ``_live_state(environment)``: the components the target runs, for the parity report.

    The environment keeps what is the same for every kind: the history (``release.deployment``),
    the access rules, maintenance windows and the board."""

    _name = "release.deployer"
    _description = "Deployer (one per environment kind)"

    # The release.artifact kind this deployer deploys; the environment refuses any other.
    _artifact_kind = None
    # One deploy at a time per environment: its row is locked before the deployment is
    # recorded, so another run or a rollback waits (n8n instances, services).
    _exclusive = False

    def _plan(self, environment, run):
        """``(text, digest)``: what deploying ``run``'s artifact to ``environment`` would change,
        shown to approvers; the deploy refuses another plan than ``digest``. ``(False, False)``
        when the kind plans nothing; ``(text saying why, False)`` when the plan is unavailable."""
        return False, False

    def _deploy(self, environment, deployment, artifact, rollback_of=None, approved_digest=None):
        """Deploy ``artifact`` to ``environment`` and finish ``deployment`` (recorded by the
        environment, still running) with the outcome; never raises for a failed deploy.
        ``rollback_of``: the deployment this one undoes; ``approved_digest``: the plan the
        approvers saw (a kind that plans refuses to carry out another one)."""
        deployment._finish("error", error=self.env._("%(env)s deploys nothing.", env=environment.code))

    def _rollback(self, environment):
        """Put back the artifact of the latest earlier successful deployment with other content
        (deployments a rollback already undid are passed over, so rolling back twice walks further
        back in the history). Returns the one answer of every kind (``_rollback_answer``)."""
        current, previous = self._rollback_target(environment)
        return self._rollback_answer(environment, deployment=self._roll_back_to(environment, current, previous))

    def _drift(self, environment):
        """The differences (texts) between the live target and the last deployment recorded
        here, ``[]`` when there is none; raises one of ``_target_errors()`` when it cannot be read."""
        raise ValueError(self.env._("Drift is read from Odoo and n8n targets only."))

    def _live_state(self, environment):
        """``{component: {attribute: value}}`` the target runs now (``engine.delivery.parity``);
        raises one of ``_target_errors()`` when it cannot be read."""
        raise ValueError(self.env._("Parity is read from Odoo and n8n targets, not from %(kind)s.", kind=environment.kind))

    # -- shared by the kinds ------------------------------------------------------------------
    @api.model
    def _target_errors(self):
        """The exceptions that mean the target could not be read (reported, not raised)."""
        return (ValueError,)

    def _rollback_target(self, environment):
        """``(current, previous)``: the running deployment and the one to go back to."""
        current = environment.current_deployment_id
        successful = environment.deployment_ids.filtered(lambda d: d.outcome in SUCCESSFUL)
        undone = successful.filtered("is_rollback").rollback_of_id
        previous = (successful - undone).filtered(
            lambda d: d.id < current.id and d.artifact_id.sha256 != current.artifact_id.sha256
        ).sorted("id")[-1:]
        if not previous:
            raise UserError(self.env._("%(env)s has no earlier successful deployment to roll back to.", env=environment.name))
        return current, previous

    def _roll_back_to(self, environment, current, previous):
        """The deployment that puts ``previous`` back in place of ``current``: a redeploy."""
        return environment._deploy(previous.artifact_id, rollback_of=current)

    @api.model
    def _rollback_answer(self, environment, deployment=None, run=None, back_to=None):
        """What ``api_rollback`` answers for every kind, one shape:

        ``{id, environment, kind, rollback, rollback_of, deployment, run, version, sha, ref, state,
        url, outcome, plan, backup, duration_s, error}``. A rollback is either done at once, as a
        deployment (``deployment`` its id; ``outcome``, ``plan``, ``backup``, ``duration_s``,
        ``error`` say how it went), or started as a revert run that plans, is approved and applies
        like any run (``run`` its id; ``state``, ``ref``, ``url`` are the run's; ``outcome`` is
        False until its apply is recorded). ``id`` is the deployment's, else the run's.
        ``rollback_of`` is the deployment undone; ``version`` and ``sha`` what the environment
        goes back to (``back_to``: default the rollback's deployment). Absent values are False."""
        deployment = deployment or self.env["release.deployment"]
        run = run or self.env["release.run"]
        back_to = back_to or deployment
        return {
            "id": deployment.id or run.id,
            "environment": environment.code,
            "kind": environment.kind,
            "rollback": True,
            "rollback_of": (deployment.rollback_of_id or run.rollback_of_deployment_id).id or False,
            "deployment": deployment.id or False,
            "run": run.id or False,
            "version": back_to.version or False,
            "sha": back_to.commit_sha or False,
            "ref": run.ref or False,
            "state": run.state or False,
            "url": run._url() if run else False,
            "outcome": deployment.outcome or False,
            "plan": deployment.plan or False,
            "backup": deployment.backup_ref or False,
            "duration_s": round(deployment.duration_s, 2),
            "error": deployment.error or False,
        }
