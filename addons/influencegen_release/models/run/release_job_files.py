import hashlib
import logging
import os
import shutil
import tempfile

from odoo import fields, models

from ...engine.execution import job_files
from ...engine.execution.docker_runner import RunnerError
from ...engine.source.git_source import GitSourceError, read_file_at
from ...engine.vocabulary import RUN_TERMINAL

_logger = logging.getLogger(__name__)

CACHES_KEPT = 3  # per task: the newest caches stay, older keys are removed


class ReleaseJob(models.Model):
    """A job's files, carried through the Docker API only (``engine/execution/job_files.py``):
    the run's commit and the workspace go into the job's volume before its container starts;
    declared reports, artifacts, outputs and the cache come back after it ends. Outputs of a
    task are put into the workspace of the run's later tasks, on any runner (GitLab's
    ``artifacts``); a cache keyed by a file's checksum into the jobs of later runs."""

    _inherit = "release.job"  # pylint: disable=consider-merging-classes-inherited

    output_size = fields.Integer(
        string="Outputs (bytes)", readonly=True, copy=False, help="What the task's declared outputs weigh, kept for later tasks."
    )

    # -- into the job -----------------------------------------------------------------------
    def _job_inputs(self, stack, extra=()):
        """The tar to put into this job's volume (a temporary file, closed by ``stack``), as a
        list of one: the run's commit as ``src/``, then ``workspace/`` with the restored cache
        and the outputs of earlier tasks of the run (later ones overwrite earlier ones), then
        the members ``extra`` (a warm container's ``job/``)."""
        self.ensure_one()
        run = self.run_id
        source = None
        if run.repository_id.url and run.commit_sha:
            path = job_files.shared_source_archive(run.repository_id.url, run.commit_sha, self._mirrors(), self._sources())
            source = stack.enter_context(open(path, "rb"))  # noqa: SIM115 - closed by the stack
        trees = []
        cache = self._cache_file()
        if cache and os.path.isfile(cache):
            trees.append(stack.enter_context(open(cache, "rb")))  # noqa: SIM115 - closed by the stack
            self._append_log(f"[influencegen] cache restored: {os.path.basename(cache)}\n")
        for earlier in self._earlier_outputs():
            trees.append(stack.enter_context(open(earlier._output_file(), "rb")))  # noqa: SIM115
            self._append_log(f"[influencegen] outputs of '{earlier.name}' restored into /workspace\n")
        volume = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - closed by the stack
        job_files.workspace_archive(volume, trees, source=source, extra=extra)
        volume.seek(0)
        return [volume]

    def _earlier_outputs(self):
        """Succeeded jobs of the run with outputs, of earlier stages or named in ``needs``."""
        needs = set(self._spec().get("needs") or [])
        jobs = self.run_id.job_ids.filtered(
            lambda j: j.state == "succeeded"
            and j.output_size
            and (j.stage_sequence < self.stage_sequence or j.task_key in needs)
            and os.path.isfile(j._output_file())
        )
        return jobs.sorted(lambda j: (j.stage_sequence, j.sequence, j.id))

    # -- out of the job ---------------------------------------------------------------------
    def _collect_files(self, client, container_id, succeeded):
        """Read back what the ended container's task declares: reports and artifacts (always),
        outputs and the cache (after a success). Returns why the job fails despite its exit
        code (outputs that could not be kept), or None."""
        self.ensure_one()
        self._collect_reports(lambda path, limit: job_files.read_file(client, container_id, path, limit))
        if not succeeded:
            return None
        task = self._spec()
        try:
            if task.get("outputs"):
                self._save_outputs(client, container_id, task["outputs"])
            if task.get("cache"):
                self._save_cache(client, container_id, task["cache"]["paths"])
        except (job_files.JobFileError, RunnerError, OSError) as exc:
            return self.env._("outputs not kept: %(error)s", error=exc)
        return None

    def _save_outputs(self, client, container_id, paths):
        target = self._output_file()
        size, missing = self._save_tree(client, container_id, paths, target)
        if missing:
            raise job_files.JobFileError(f"declared outputs were not produced: {', '.join(missing)}")
        self.output_size = size
        self._append_log(f"\n[influencegen] outputs kept for later tasks: {', '.join(paths)} ({size} bytes)\n")
        self._prune_outputs()

    def _save_cache(self, client, container_id, paths):
        target = self._cache_file()
        if os.path.isfile(target):  # a cache is saved once per key, as GitLab's
            return
        size, missing = self._save_tree(client, container_id, paths, target)
        note = f" ({', '.join(missing)} absent)" if missing else ""
        self._append_log(f"\n[influencegen] cache saved: {os.path.basename(target)}, {size} bytes{note}\n")
        caches = sorted((os.path.join(os.path.dirname(target), n) for n in os.listdir(os.path.dirname(target))), key=os.path.getmtime)
        for old in caches[:-CACHES_KEPT]:
            os.remove(old)

    @staticmethod
    def _save_tree(client, container_id, paths, target):
        """Write the tree to ``target`` by way of a temporary name: a reader never sees half."""
        os.makedirs(os.path.dirname(target), exist_ok=True)
        partial = f"{target}.{os.getpid()}.partial"
        try:
            with open(partial, "wb") as handle:
                missing = job_files.save_tree(client, container_id, paths, handle)
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
        return os.path.getsize(target), missing

    def _drop_files(self, client):
        """Remove the job's volume on its runner (the container is removed first)."""
        try:
            client.remove_volume(self.container_name or self._container_name())
        except RunnerError as exc:  # the orphan sweep retries
            _logger.warning("job %s: %s", self.id, exc)

    def _remove_orphan_volumes(self, client):
        """Job volumes whose job is over, gone, or on a later attempt are removed."""
        Job = self.sudo().with_context(active_test=False)
        for name, labels in client.volumes({"influencegen.db": self.env.cr.dbname}).items():
            if "influencegen.warm" in labels:  # a warm container's: release.scheduler._sweep_warm judges it
                continue
            job = Job.browse(int(labels.get("influencegen.job") or 0)).exists()
            current = job and job.state in ("starting", "running") and str(job.attempt) == labels.get("influencegen.attempt")
            if not current:
                try:
                    client.remove_volume(name)
                except RunnerError as exc:
                    _logger.warning("orphan volume %s: %s", name, exc)

    def _prune_sources(self):
        """The housekeeping's part: shared source tars nobody used for an hour go."""
        try:
            job_files.prune_shared_sources(self._sources())
        except OSError as exc:  # another server pruned the same file first
            _logger.warning("pruning shared sources: %s", exc)

    # -- where files are kept ---------------------------------------------------------------
    def _mirrors(self):
        return self.env["release.settings"]._path("git-mirrors")

    def _sources(self):
        """Where the tar of each commit's ``src/`` is kept for the jobs that start from it."""
        return self.env["release.settings"]._path("work", "sources")

    def _output_file(self):
        return self.env["release.settings"]._path("outputs", f"run-{self.run_id.id}", f"job-{self.id}.tar")

    def _cache_file(self):
        """``<cache>/<pipeline>/<task>/<key>.tar``: the key is the sha256 of the key file at the
        run's commit (and of the cached paths), or None when the task declares no cache."""
        cache = self._spec().get("cache")
        if not cache:
            return None
        run = self.run_id
        try:
            content, _sha = read_file_at(run.repository_id.url, run.commit_sha, cache["key_file"], self._mirrors())
        except GitSourceError:
            content = ""  # no key file at this commit: one key for all such commits
        digest = hashlib.sha256("\0".join([cache["key_file"], content, *cache["paths"]]).encode()).hexdigest()[:32]
        return self.env["release.settings"]._path("cache", run.pipeline_id.code, self.task_key, f"{digest}.tar")

    def _prune_outputs(self):
        """Outputs of runs that have ended are no longer needed by any task."""
        root = os.path.dirname(os.path.dirname(self._output_file()))
        ids = [int(n[4:]) for n in os.listdir(root) if n.startswith("run-") and n[4:].isdigit()]
        ended = self.env["release.run"].sudo().search([("id", "in", ids), ("state", "in", RUN_TERMINAL)])
        for run in ended:
            shutil.rmtree(os.path.join(root, f"run-{run.id}"), ignore_errors=True)
        missing = set(ids) - set(self.env["release.run"].sudo().browse(ids).exists().ids)
        for run_id in missing:
            shutil.rmtree(os.path.join(root, f"run-{run_id}"), ignore_errors=True)

