import logging
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from odoo import api, fields, models

from ...engine.execution import workspace
from ...engine.execution.docker_runner import ContainerSpec, LogCursor, RunnerError, task_limits
from ...engine.execution.log_store import LogStore
from ...engine.execution.masking import Masker
from ...engine.quality.reports import ReportError, parse_report
from ...engine.source.git_source import GitSourceError
from ..approval.release_approval import ROLE_GROUP
from .release_action import ActionError

_logger = logging.getLogger(__name__)

TICK_BUDGET_S = 25  # one cron run loops this long while work exists, then re-triggers itself
POLL_S = 0.1
START_THREADS = 8  # containers of one tick are started side by side (Docker calls wait on I/O)
STALE_START_S = 60  # a claimed job nobody started for this long goes back to the queue
REPORT_MAX_BYTES = 50 * 1024 * 1024
LOCK_NAMESPACE = 7_471_001  # pg advisory locks: (namespace, job id) held while starting a job


class ReleaseScheduler(models.AbstractModel):
    """The worker loop: reconcile with Docker, advance runs, claim and start jobs.

    Each step runs in its own transaction (a new cursor), so what a step decided is committed
    before the next one acts on Docker: a claim is committed before its container starts, and
    a worker killed at any point leaves a state the next tick of any worker can finish.
    """

    _name = "release.scheduler"
    _description = "Release Job Scheduler"

    @api.model
    def _cron_tick(self, budget=TICK_BUDGET_S):
        deadline = time.monotonic() + budget
        busy = True
        while busy and time.monotonic() < deadline:
            busy = self._tick_once()
            if busy:
                time.sleep(POLL_S)
        if busy:
            self.env.ref("influencegen_release.ir_cron_release_scheduler")._trigger()

    @api.model
    def _tick_once(self):
        self._step("_reconcile")
        self._step("_advance_runs")
        for job_id in self._step("_builtin_job_ids"):
            self._step("_run_builtin", job_id)
        claimed = [claim for runner_id in self._step("_runner_ids") for claim in self._step("_claim", runner_id)]
        if len(claimed) > 1 and getattr(self.env.registry, "test_cr", None) is None:
            with ThreadPoolExecutor(max_workers=min(START_THREADS, len(claimed))) as pool:
                for future in [pool.submit(self._start_step, *claim) for claim in claimed]:
                    future.result()
        else:
            for claim in claimed:
                self._start_step(*claim)
        self._step("_advance_runs")
        return self._step("_has_work")

    def _start_step(self, job_id, token):
        try:
            self._step("_start", job_id, token)
        except Exception:  # one job's start must not stop the others; the reconcile recovers it
            _logger.exception("starting job %s failed", job_id)

    def _step(self, method, *args):
        with self.env.registry.cursor() as cr:
            scheduler = self.with_env(self.env(cr=cr))
            result = getattr(scheduler, method)(*args)
            # Flush while the environment is alive: the cursor's transaction only keeps weak
            # references to environments, and a temporary one may be gone by commit time.
            scheduler.env.flush_all()
            return result

    # -- steps ------------------------------------------------------------------------------
    def _runner_ids(self):
        return self.env["release.runner"].search([("active", "=", True)]).ids

    def _has_work(self):
        Job = self.env["release.job"]
        return bool(
            Job.search_count([("state", "in", ("queued", "starting", "running"))], limit=1)
            or self.env["release.run"].search_count(
                [("state", "in", ("queued", "running")), ("job_ids.state", "in", ("pending", "queued"))], limit=1
            )
            or self.env["release.run"].search_count([("cancel_requested", "=", True), ("state", "not in", ("succeeded", "failed", "cancelled"))], limit=1)
        )

    def _advance_runs(self):
        self.env.cr.execute(
            """SELECT id FROM release_run WHERE state NOT IN ('succeeded', 'failed', 'cancelled')
               ORDER BY id FOR UPDATE SKIP LOCKED"""
        )
        for run in self.env["release.run"].browse([row[0] for row in self.env.cr.fetchall()]):
            run._advance()

    def _claim(self, runner_id):
        """Lock the runner (one claimer per host at a time), then claim jobs up to its free slots."""
        cr = self.env.cr
        cr.execute("SELECT id FROM release_runner WHERE id = %s AND active FOR UPDATE SKIP LOCKED", [runner_id])
        if not cr.fetchone():
            return []
        runner = self.env["release.runner"].browse(runner_id)
        cr.execute("SELECT count(*) FROM release_job WHERE runner_id = %s AND state IN ('starting', 'running')", [runner_id])
        busy = cr.fetchone()[0]
        free = runner.capacity - busy
        if free <= 0:
            return []
        cr.execute(
            """SELECT id, required_labels FROM release_job WHERE state = 'queued' AND mode = 'run'
               ORDER BY run_id, stage_sequence, sequence, id"""
        )
        queued = cr.fetchall()
        labels = runner._label_set()
        eligible = [
            job_id
            for job_id, required in queued
            if {x.strip() for x in (required or "").split(",") if x.strip()} <= labels
        ]
        if not eligible:
            return []
        cr.execute(
            """SELECT id FROM release_job WHERE id = ANY(%s) AND state = 'queued'
               ORDER BY run_id, stage_sequence, sequence, id LIMIT %s FOR UPDATE SKIP LOCKED""",
            [eligible, free],
        )
        claimed = []
        for (job_id,) in cr.fetchall():
            token = uuid.uuid4().hex
            cr.execute(
                """UPDATE release_job SET state = 'starting', runner_id = %s, claim_token = %s,
                   claimed_at = now() at time zone 'UTC', write_date = now() at time zone 'UTC' WHERE id = %s""",
                [runner_id, token, job_id],
            )
            claimed.append((job_id, token))
        return claimed

    def _start(self, job_id, token):
        cr = self.env.cr
        cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, job_id])
        if not cr.fetchone()[0]:
            return
        cr.execute("SELECT state, claim_token FROM release_job WHERE id = %s FOR UPDATE", [job_id])
        if cr.fetchone() != ("starting", token):
            return
        job = self.env["release.job"].browse(job_id)
        run, task = job.run_id, job._spec()
        name = self._container_name(job)
        root = self._work_root()
        try:
            secrets = self._secrets(task)
            source, work = workspace.prepare(
                root, name, run.repository_id.url, run.commit_sha, self.env["release.settings"]._path("git-mirrors")
            )
            env = dict(task["env"], **secrets, **self._job_env(job))
            spec = ContainerSpec(
                name=name,
                image=task["image"],
                command=task["run"],
                labels=self._labels(job),
                source_dir=source,
                workspace_dir=work,
                env=env,
                **task_limits(task),
            )
            container_id = job.runner_id._client().start(spec)
        except RunnerError as exc:
            if exc.conflict:  # started before, by a start that died: the reconcile adopts it
                return
            workspace.remove(root, name)
            self._finish_job(job, "failed", reason=self._reason(exc))
            return
        except (GitSourceError, workspace.WorkspaceError, KeyError) as exc:
            workspace.remove(root, name)
            self._finish_job(job, "failed", reason=self._reason(exc))
            return
        now = fields.Datetime.now()
        job.write(
            {
                "state": "running",
                "container_id": container_id,
                "container_name": name,
                "started_at": now,
                "deadline_at": now + timedelta(seconds=task["timeout"]),
                "log_dir": self._log_dir(job),
            }
        )

    def _reconcile(self):
        """Compare running jobs with the containers Docker has, by label, on every runner."""
        # Archived hosts too: their running jobs must still be followed to the end.
        for runner in self.env["release.runner"].search([("active", "in", (True, False))]):
            try:
                client = runner._client()
                containers = client.find({"influencegen.db": self.env.cr.dbname})
            except RunnerError as exc:
                if runner.last_error != str(exc):
                    runner.last_error = str(exc)
                continue
            self._mark_seen(runner)
            self.env.cr.execute(
                """SELECT id FROM release_job WHERE runner_id = %s AND state IN ('starting', 'running')
                   ORDER BY id FOR UPDATE SKIP LOCKED""",
                [runner.id],
            )
            jobs = self.env["release.job"].browse([row[0] for row in self.env.cr.fetchall()])
            by_name = {labels.get("influencegen.name"): cid for cid, labels in containers.items()}
            for job in jobs:
                container_id = job.container_id or by_name.get(self._container_name(job))
                if job.state == "starting":
                    self._recover_start(job, container_id)
                    continue
                try:
                    self._follow(job, client, container_id)
                except RunnerError as exc:
                    _logger.warning("job %s: %s", job.id, exc)
            self._remove_orphans(client, containers)

    def _recover_start(self, job, container_id):
        if container_id:  # started, then the worker died before recording it: adopt it
            now = fields.Datetime.now()
            job.write(
                {
                    "state": "running",
                    "container_id": container_id,
                    "container_name": self._container_name(job),
                    "started_at": job.started_at or now,
                    "deadline_at": job.deadline_at or now + timedelta(seconds=job._spec()["timeout"]),
                    "log_dir": self._log_dir(job),
                }
            )
            return
        stale = fields.Datetime.now() - timedelta(seconds=STALE_START_S)
        if job.claimed_at and job.claimed_at < stale:
            self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, job.id])
            if self.env.cr.fetchone()[0]:  # nobody is starting it: it goes back to the queue
                job.write({"state": "queued", "runner_id": False, "claim_token": False, "claimed_at": False})

    def _follow(self, job, client, container_id):
        """Copy new log lines; finish the job when its container ended, timed out or was cancelled."""
        state = client.state(container_id) if container_id else None
        if state is None:
            self._finish_job(job, "failed", reason="the container vanished (removed outside the scheduler)")
            return
        self._copy_logs(job, client, container_id)
        if state.running:
            if job.run_id.cancel_requested:
                client.kill(container_id)
                self._close(job, client, container_id, "cancelled", reason="cancelled")
            elif job.deadline_at and fields.Datetime.now() > job.deadline_at:
                client.kill(container_id)
                timeout = job._spec()["timeout"]
                self._close(job, client, container_id, "failed", reason=f"timed out after {timeout} s")
            return
        self._collect_reports(job)
        if state.oom_killed:
            memory = job._spec()["memory"]
            job.oom_killed = True
            self._close(job, client, container_id, "failed", state.exit_code, f"killed: out of memory (limit {memory} MiB)")
        elif state.exit_code == 0:
            self._close(job, client, container_id, "succeeded", 0)
        else:
            self._close(job, client, container_id, "failed", state.exit_code, f"exit code {state.exit_code}")

    def _close(self, job, client, container_id, state, exit_code=None, reason=None):
        self._copy_logs(job, client, container_id)
        client.remove(container_id)
        workspace.remove(self._work_root(), job.container_name or self._container_name(job))
        retry = job._spec()["retry"]
        if state == "failed" and exit_code in retry["exit_codes"] and job.attempt <= retry["max"]:
            self._append_log(job, f"\n[influencegen] exit code {exit_code} is retryable: attempt {job.attempt + 1}\n")
            job.write(
                {
                    "state": "queued",
                    "attempt": job.attempt + 1,
                    "runner_id": False,
                    "container_id": False,
                    "claim_token": False,
                    "log_cursor_ns": False,
                    "log_cursor_seen": 0,
                    "exit_code": exit_code,
                }
            )
            return
        self._finish_job(job, state, exit_code=exit_code, reason=reason)

    def _finish_job(self, job, state, exit_code=None, reason=None):
        vals = {"state": state, "finished_at": fields.Datetime.now(), "failure_reason": reason or False}
        if exit_code is not None:
            vals["exit_code"] = exit_code
        if reason and state != "succeeded":
            self._append_log(job, f"\n[influencegen] {reason}\n")
        job.write(vals)

    def _remove_orphans(self, client, containers):
        """Containers whose job is over, gone, or on a later attempt are removed."""
        Job = self.env["release.job"].sudo().with_context(active_test=False)
        for container_id, labels in containers.items():
            job = Job.browse(int(labels.get("influencegen.job") or 0)).exists()
            current = job and job.state in ("starting", "running") and str(job.attempt) == labels.get("influencegen.attempt")
            if not current:
                try:
                    client.remove(container_id)
                except RunnerError as exc:
                    _logger.warning("orphan container %s: %s", container_id[:12], exc)

    def _builtin_job_ids(self):
        self.env.cr.execute("SELECT id FROM release_job WHERE state = 'queued' AND mode IN ('uses', 'checklist') ORDER BY id")
        return [row[0] for row in self.env.cr.fetchall()]

    def _run_builtin(self, job_id):
        """One job carried out by the product itself (built-in action) or by people
        (checklist), in its own transaction: a deploy's outcome is committed on its own."""
        self.env.cr.execute(
            "SELECT id FROM release_job WHERE id = %s AND state = 'queued' FOR UPDATE SKIP LOCKED", [job_id]
        )
        if not self.env.cr.fetchone():
            return
        job = self.env["release.job"].browse(job_id)
        task = job._spec()
        job.write({"started_at": fields.Datetime.now(), "log_dir": self._log_dir(job)})
        if job.mode == "checklist":
            self._open_checklist(job, task)
            return
        try:
            message = self.env["release.action"]._run(job, task)
        except (ActionError, RunnerError) as exc:
            self._finish_job(job, "failed", reason=self._reason(exc))
            return
        self._append_log(job, message + "\n")
        self._finish_job(job, "succeeded", exit_code=0)

    def _open_checklist(self, job, task):
        """People confirm the items (``release.checklist.item``); the run settles the job."""
        roles = task.get("confirm_by") or []
        self.env["release.checklist.item"].create(
            [
                {"job_id": job.id, "sequence": index, "name": item, "confirm_roles": ",".join(roles)}
                for index, item in enumerate(task["checklist"], 1)
            ]
        )
        items = "\n".join(f"[ ] {item}" for item in task["checklist"])
        self._append_log(job, f"Waiting for {', '.join(roles)} to confirm:\n{items}\n")
        job.state = "waiting"
        groups = [self.env.ref(ROLE_GROUP % role) for role in roles]
        partners = self.env["res.users"].browse().union(*(g.users for g in groups)).partner_id
        job.run_id.message_post(
            body=self.env._("Checklist %(task)s waits for confirmation:\n%(items)s", task=job.name, items=items),
            partner_ids=partners.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )

    # -- helpers ----------------------------------------------------------------------------
    def _copy_logs(self, job, client, container_id):
        cursor = LogCursor(int(job.log_cursor_ns or 0), job.log_cursor_seen)
        store = LogStore(job.log_dir or self._log_dir(job))
        written = client.copy_logs(container_id, cursor, store.append, Masker(self._secrets(job._spec(), strict=False).values()))
        if written:
            job.write(
                {
                    "log_dir": store.directory,
                    "log_size": store.size(),
                    "log_cursor_ns": str(cursor.ns),
                    "log_cursor_seen": cursor.seen,
                }
            )

    def _append_log(self, job, text):
        store = LogStore(job.log_dir or self._log_dir(job))
        store.append(text.encode())
        job.write({"log_dir": store.directory, "log_size": store.size()})

    def _collect_reports(self, job):
        """Keep declared reports and artifacts; turn reports into findings and test counts."""
        task = job._spec()
        work = workspace.job_dirs(self._work_root(), job.container_name or self._container_name(job))[2]
        formats = {r["path"]: r["format"] for r in task["reports"]}
        paths = [(r["path"], "report") for r in task["reports"]] + [(p, "other") for p in task["artifacts"]]
        problems, unknown, failing = [], [], []
        totals = {"tests_total": 0, "tests_failed": 0, "tests_errors": 0, "tests_skipped": 0}
        for path, kind in paths:
            try:
                data, digest = workspace.collect(work, path, REPORT_MAX_BYTES)
            except workspace.WorkspaceError as exc:
                self._append_log(job, f"\n[influencegen] {exc}\n")
                problems.append(str(exc))
                continue
            if path in formats:
                try:
                    parsed = parse_report(formats[path], data, path)
                except ReportError as exc:
                    problems.append(str(exc))
                else:
                    self.env["release.finding"]._record(job, parsed.findings, report=path)
                    unknown += parsed.unknown
                    if parsed.tests:
                        for name in totals:
                            totals[name] += getattr(parsed.tests, name.removeprefix("tests_"))
                        failing += parsed.tests.failing
            self.env["release.artifact"]._store(path, data, job.run_id, job, kind=kind, attach_to=job, sha256=digest)
        job.write(
            dict(
                totals,
                tests_failing="\n".join(failing) or False,
                report_problems="\n".join(problems) or False,
                report_unknown="\n".join(unknown) or False,
            )
        )

    def _secrets(self, task, strict=True):
        """Secret values by name, from the server's environment: never stored, masked in logs."""
        values = {}
        for name in task.get("secrets", []):
            if name in os.environ:
                values[name] = os.environ[name]
            elif strict:
                raise KeyError(f"secret {name} is not set in the Odoo server's environment")
        return values

    def _job_env(self, job):
        run = job.run_id
        return {
            "IGR_RUN_ID": str(run.id),
            "IGR_JOB_ID": str(job.id),
            "IGR_PIPELINE": run.pipeline_id.code,
            "IGR_REF": run.ref,
            "IGR_SHA": run.commit_sha or "",
            "IGR_ATTEMPT": str(job.attempt),
            "HOME": "/workspace/.home",
        }

    def _labels(self, job):
        return {
            "influencegen.db": self.env.cr.dbname,
            "influencegen.run": str(job.run_id.id),
            "influencegen.job": str(job.id),
            "influencegen.attempt": str(job.attempt),
            "influencegen.name": self._container_name(job),
        }

    def _container_name(self, job):
        database = re.sub(r"[^a-zA-Z0-9_.-]", "-", self.env.cr.dbname)
        return f"igr-{database}-j{job.id}-a{job.attempt}"

    def _work_root(self):
        return self.env["release.settings"]._path("work")

    def _log_dir(self, job):
        return self.env["release.settings"]._path("logs", f"run-{job.run_id.id}", f"job-{job.id}", f"attempt-{job.attempt}")

    def _mark_seen(self, runner):
        now = fields.Datetime.now()
        if runner.last_error or not runner.last_seen_at or now - runner.last_seen_at > timedelta(seconds=30):
            runner.write({"last_seen_at": now, "last_error": False})

    @staticmethod
    def _reason(exc):
        return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
