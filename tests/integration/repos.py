"""What the integration tests share to reach the control plane as a team does: Git repositories
registered in Odoo, bare hubs carrying the real hooks of scripts/git-hooks that ``git push``
goes through, users of each role, and reading a run's jobs back."""

import os
import shutil
import subprocess

import pytest

from devstack import ROOT
from devstack.odoo_server import DB, PORT, Api
from devstack.odoo_target import Target
from devstack.repository import init_repository

HOOKS = os.path.join(ROOT, "scripts", "git-hooks")
POST_RECEIVE = os.path.join(HOOKS, "post-receive")
QUEUE = "influencegen-queue.jsonl"


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def commit(repo, files, message=None):
    """Write ``files`` ({path: text}) into ``repo``'s work tree and commit them; the new sha."""
    for path, text in files.items():
        target = os.path.join(repo.working_tree_dir, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
    repo.git.add(A=True)
    return repo.index.commit(message or f"change {', '.join(files)}").hexsha


def register(api, name, origin):
    """``origin`` as the release.repository ``name``, its pipeline file loaded; the record id."""
    repo_id = api("release.repository", "create", {"name": name, "url": origin.working_tree_dir})
    api("release.repository", "action_load_pipeline_file", [repo_id])
    return repo_id


def trigger(api, name, origin, ref="refs/heads/main", pusher="dev"):
    """The push of ``origin``'s head reported with one ``api_trigger`` call; the run's id."""
    payload = {"repository": name, "ref": ref, "after": origin.head.commit.hexsha, "pusher": pusher}
    [summary] = api("release.run", "api_trigger", payload)["runs"]
    return summary["id"]


def install_hook(git_dir, hook, repository, workdir, url=f"http://127.0.0.1:{PORT}"):
    """scripts/git-hooks/post-receive installed as ``hook`` of ``git_dir``, configured to
    trigger ``repository`` as admin (its key in a 0600 file)."""
    shutil.copy(POST_RECEIVE, os.path.join(git_dir, "hooks", hook))
    keyfile = os.path.join(workdir, f"igr-key-{repository}")
    with open(keyfile, "w", encoding="utf-8") as handle:
        handle.write("admin\n")
    os.chmod(keyfile, 0o600)
    settings = {"url": url, "db": DB, "user": "admin", "keyfile": keyfile, "repository": repository}
    for key, value in settings.items():
        git("config", f"influencegen.{key}", value, cwd=git_dir)


class Hub:
    """A developer's clone (``origin``, which the repository record reads) and the bare hub with
    the post-receive hook that the developer pushes to."""

    def __init__(self, workdir, name, files):
        self.name = name
        self.origin = init_repository(os.path.join(workdir, f"{name}-origin"))
        self.first = commit(self.origin, files, "first commit")
        self.api = Api()
        self.repo_id = register(self.api, name, self.origin)
        self.bare = os.path.join(workdir, f"{name}-hub.git")
        git("clone", "--bare", "-q", self.origin.working_tree_dir, self.bare, cwd=workdir)
        install_hook(self.bare, "post-receive", name, workdir)
        git("remote", "add", "hub", self.bare, cwd=self.origin.working_tree_dir)

    def commit(self, files, message=None):
        return commit(self.origin, files, message)

    def push(self, branch="main"):
        """``git push`` to the hub; what its hook printed. On a loaded machine the hook's 5 s may
        run out (the event is then queued, as documented): the hook run again delivers it."""
        output = git("push", "-q", "hub", branch, cwd=self.origin.working_tree_dir).stderr
        for _attempt in range(3):
            if not os.path.exists(os.path.join(self.bare, QUEUE)):
                break
            output += subprocess.run([POST_RECEIVE], cwd=self.bare, input="", capture_output=True, text=True, check=True).stderr
        return output

    def pushed_run(self, sha, code):
        """The one run of pipeline ``code`` that the push of ``sha`` started."""
        [run] = self.api("release.run", "search_read", [("commit_sha", "=", sha), ("pipeline_id.code", "=", code)], fields=["id"])
        return run["id"]


def target_fixture(folder, port, db, prepare=None):
    """A module's fixture: a target Odoo database (``igr target init``, its own server on
    ``port``) in ``workdir/folder``, made ready by ``prepare(target, workdir)`` when given,
    and dropped with every database it left after the module."""

    @pytest.fixture(scope="module")
    def target(workdir):
        target = Target(os.path.join(workdir, folder), port, db)
        target.start()
        try:
            if prepare:
                prepare(target, workdir)
            yield target
        finally:
            target.stop()

    return target


def make_user(api, login, role, email=None):
    """An internal user holding the Release role ``role``; an Api logged in as them."""
    [group] = api("ir.model.data", "search_read", [("module", "=", "influencegen_release"), ("name", "=", f"group_release_{role}")], ["res_id"])
    [base] = api("ir.model.data", "search_read", [("module", "=", "base"), ("name", "=", "group_user")], ["res_id"])
    api(
        "res.users",
        "create",
        {"name": login, "login": login, "password": f"{login}-pw", "email": email or f"{login}@example.org", "groups_id": [(6, 0, [base["res_id"], group["res_id"]])]},
    )
    return Api(login, f"{login}-pw")


def jobs(api, run_id, fields=("state", "started_at", "finished_at", "exit_code", "failure_reason")):
    """The run's jobs by task key (the latest attempt of each)."""
    rows = api("release.job", "search_read", [("run_id", "=", run_id)], ["task_key", *fields], order="id")
    return {row["task_key"]: row for row in rows}


def failures(api, run_id):
    """What went wrong in a run, for an assertion's message: its jobs that did not succeed."""
    found = jobs(api, run_id)
    return {key: (job["state"], job["failure_reason"]) for key, job in found.items() if job["state"] not in ("succeeded", "skipped", "pending")}


def log(api, job_id, tail=400):
    return api("release.job", "api_log", [job_id], tail=tail)["text"]
