"""The Git hooks of scripts/git-hooks against a real Odoo server: a real ``git push`` starts a run,
an unreachable Odoo never holds or refuses the push, and queued events are delivered later."""

import os
import socket
import time

from devstack.odoo_server import PORT, Api
from devstack.repository import commit_pipeline

from .repos import QUEUE, git, install_hook


def runs_of(api, sha):
    return api("release.run", "search_read", [("commit_sha", "=", sha)], fields=["ref", "pusher", "state"])


def timed_push(origin_dir, *args):
    started = time.monotonic()
    result = git("push", *args, cwd=origin_dir)
    return time.monotonic() - started, result.stderr


def test_post_receive_triggers_queues_and_redelivers(server, repository, origin, workdir):
    api = Api()
    url = f"http://127.0.0.1:{PORT}"
    bare = os.path.join(workdir, "hub.git")
    git("clone", "--bare", "-q", origin.working_tree_dir, bare, cwd=workdir)
    install_hook(bare, "post-receive", "it-repo", workdir, url)
    here = origin.working_tree_dir
    git("remote", "add", "hub", bare, cwd=here)

    # A real push starts a run and says so on the pusher's terminal.
    sha1 = commit_pipeline(origin, "echo hook one")
    elapsed, output = timed_push(here, "hub", "main")
    [run] = runs_of(api, sha1)
    assert (run["ref"], run["pusher"]) == ("refs/heads/main", os.environ.get("USER") or run["pusher"])
    assert f"PL-IT run #{run['id']}" in output and "/odoo/" in output, output
    assert "admin" not in output.replace("/odoo/", ""), "the key is never printed"
    assert elapsed < 5

    # Odoo unreachable (a closed port): the push succeeds at once and the event is queued.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    git("config", "influencegen.url", f"http://127.0.0.1:{closed}", cwd=bare)
    sha2 = commit_pipeline(origin, "echo hook two")
    elapsed, output = timed_push(here, "hub", "main")
    assert elapsed < 5, elapsed
    assert "kept in influencegen-queue.jsonl" in output, output
    assert not runs_of(api, sha2)
    with open(os.path.join(bare, QUEUE), encoding="utf-8") as handle:
        assert [sha2] == [line.split('"after": "')[1][:40] for line in handle]

    # Odoo that accepts the connection but never answers: the push waits the timeout, no more.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        git("config", "influencegen.url", f"http://127.0.0.1:{silent.getsockname()[1]}", cwd=bare)
        git("config", "influencegen.timeout", "2", cwd=bare)
        sha3 = commit_pipeline(origin, "echo hook three")
        elapsed, output = timed_push(here, "hub", "main")
    assert 1.5 < elapsed < 5, elapsed
    assert "2 event(s) kept" in output, output

    # Fixed: the next push delivers the queued events first, then its own.
    git("config", "influencegen.url", url, cwd=bare)
    git("config", "--unset", "influencegen.timeout", cwd=bare)
    sha4 = commit_pipeline(origin, "echo hook four")
    elapsed, output = timed_push(here, "hub", "main")
    assert "delivering 2 queued event(s) first" in output, output
    for sha in (sha2, sha3, sha4):
        assert len(runs_of(api, sha)) == 1, sha
    assert output.index(str(runs_of(api, sha2)[0]["id"])) < output.index(str(runs_of(api, sha4)[0]["id"]))
    assert not os.path.exists(os.path.join(bare, QUEUE))

    # A deleted ref starts nothing and is not queued.
    git("push", "hub", "main:refs/heads/gone", cwd=here)
    _elapsed, output = timed_push(here, "hub", ":refs/heads/gone")
    assert "influencegen" not in output and not os.path.exists(os.path.join(bare, QUEUE))


def test_pre_push_reports_from_the_client_side(server, repository, origin, workdir):
    api = Api()
    bare = os.path.join(workdir, "plain.git")
    git("init", "--bare", "-q", bare, cwd=workdir)
    here = origin.working_tree_dir
    git("remote", "add", "plain", bare, cwd=here)
    install_hook(os.path.join(here, ".git"), "pre-push", "it-repo", workdir)
    try:
        sha = commit_pipeline(origin, "echo pre-push")
        _elapsed, output = timed_push(here, "plain", "main")
        [run] = runs_of(api, sha)
        assert run["pusher"] == "dev@example.com"
        assert f"PL-IT run #{run['id']}" in output, output
    finally:
        os.unlink(os.path.join(here, ".git", "hooks", "pre-push"))
