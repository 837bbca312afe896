from odoo import api, models

from ....engine.delivery.odoo.target import OdooTarget, TargetError, deploy_package, restore, verify

DRIFT_TIMEOUT = 10  # seconds: the board's drift check gives up on a target that does not answer


class ReleaseDeployerOdoo(models.AbstractModel):
    """Odoo databases: module packages pushed to the target's deploy agent (backup, selective
    upgrade, restart, smoke), rollback by the target's own backup or a redeploy."""

    _name = "release.deployer.odoo"
    _inherit = "release.deployer"
    _description = "Deployer: Odoo database"

    _artifact_kind = "odoo_modules"

    def _plan(self, environment, run):
        """The target's own upgrade plan for the run's package: modules to install, upgrade, keep."""
        artifact = run.artifact_ids.filtered(lambda a: a.kind == "odoo_modules").sorted("id")[-1:]
        if not artifact:
            return False, False
        try:
            planned = self._target(environment).plan(artifact._local_path(), artifact.sha256, artifact.version, artifact.commit_sha)
        except (TargetError, ValueError) as exc:
            return self.env._("Plan unavailable: %(error)s", error=exc), False
        plan = planned["plan"]
        text = "\n".join(f"{key}: {', '.join(plan.get(key) or []) or '-'}" for key in ("install", "upgrade", "unchanged"))
        return text, planned["plan_digest"]

    def _deploy(self, environment, deployment, artifact, rollback_of=None, approved_digest=None):
        """Push the package to the target's agent, which backs up, upgrades what changed,
        restarts and checks; it restores its backup itself when the upgrade fails. With
        ``block_on_drift``, a target changed by hand since the last deploy is refused (not for
        a rollback, which is what puts it right)."""
        try:
            target = self._target(environment)
            drift = self._verify(environment, target) if environment.block_on_drift and not rollback_of else []
            if drift:
                error = self.env._("Blocked: %(env)s drifted from its last deploy: %(drift)s", env=environment.code, drift="; ".join(drift))
                deployment._finish("error", error=error)
                return
            result = deploy_package(target, artifact._local_path(), artifact.sha256, artifact._manifest(), approved_digest)
        except (TargetError, ValueError) as exc:
            restored = "restored" in str(exc)
            deployment._finish("failed" if restored else "error", error=str(exc), downtime_s=getattr(exc, "downtime_s", None) or 0.0)
            return
        deployment._finish(
            result.outcome,
            downtime_s=result.downtime_s,
            plan=result.plan_text(),
            backup_ref=result.backup_path,
            target_receipt=result.receipt,
            timeline="\n".join(f"{t:8.2f}s {step}" for t, step in result.timeline),
        )

    def _drift(self, environment):
        target = self._target(environment)
        target.timeout = DRIFT_TIMEOUT
        return self._verify(environment, target)

    def _live_state(self, environment):
        """Installed modules with their version and code checksum."""
        modules = self._target(environment).state()["modules"]
        return {name: {"version": info["version"], "checksum": info["checksum"]} for name, info in modules.items() if info["state"] == "installed"}

    # -- helpers ------------------------------------------------------------------------------
    @api.model
    def _target_errors(self):
        return (*super()._target_errors(), TargetError)

    @api.model
    def _target(self, environment):
        """The target's deploy agent; the API key is resolved now and kept nowhere else."""
        if not (environment.url and environment.database and environment.credentials_ref):
            raise ValueError(self.env._("%(env)s needs a URL, a database and a credentials reference.", env=environment.name))
        key = self.env["release.settings"]._resolve(environment.credentials_ref)
        return OdooTarget(environment.url, environment.database, environment.login or "deployer", key)

    @api.model
    def _verify(self, environment, target):
        """What changed on the target since the last deploy recorded here (a hotfix installed by
        hand, a module upgraded outside the pipeline): the promotion refuses to run over it."""
        current = environment.current_deployment_id
        return verify(target, current.artifact_id._manifest()) if current.artifact_id.kind == "odoo_modules" else []

    def _roll_back_to(self, environment, current, previous):
        if self._rollback_restores(current):
            return self._restore(environment, current, previous)
        return super()._roll_back_to(environment, current, previous)

    @api.model
    def _rollback_restores(self, current):
        """``rollback.restore_database`` in the snapshot of the run that deployed ``current``: a
        deploy that upgraded something is undone by the target's own backup (code and data)
        rather than by a redeploy of older code over newer data."""
        if current.outcome != "deployed" or current.is_rollback or not (current.target_receipt and current.backup_ref):
            return False
        rollback = (current.run_id._spec() if current.run_id else {}).get("rollback") or {}
        return bool(rollback.get("restore_database"))

    def _restore(self, environment, current, previous):
        """The target puts back the code and the database its last deploy replaced (the backup
        taken just before it). What was written since is not in the live database any more:
        the target keeps the replaced database, renamed ``<db>_failed_<time>``."""
        deployment = environment._new_deployment(previous.artifact_id, rollback_of=current)
        reason = self.env._("rollback of %(version)s by %(user)s", version=current.version, user=self.env.user.name)
        try:
            target = self._target(environment)
            summary = restore(target, current.target_receipt, reason)
            if summary["state"] != "restored":
                raise TargetError(self.env._("the target could not restore: %(error)s", error=summary.get("error") or summary["state"]))
            problems = verify(target, previous.artifact_id._manifest())
            if problems:
                raise TargetError(self.env._("after the restore: %(problems)s", problems="; ".join(problems)))
        except (TargetError, ValueError) as exc:
            deployment._finish("error", error=str(exc))
            return deployment
        deployment._finish(
            "deployed",
            downtime_s=summary.get("downtime_s") or 0.0,
            plan=self.env._(
                "restored: the code of %(version)s and the database backup %(backup)s taken before %(undone)s; "
                "the replaced database is kept as %(kept)s",
                version=previous.version,
                backup=current.backup_ref,
                undone=current.version,
                kept=summary.get("failed_database") or "-",
            ),
            backup_ref=current.backup_ref,
            target_receipt=current.target_receipt,
        )
        return deployment
