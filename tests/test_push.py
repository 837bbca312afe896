"""What a push names, without Odoo: refs, commits, and hosted Git's webhook bodies."""

from influencegen_release.engine.source.push import (
    ZERO_SHA,
    commit_sha,
    full_ref,
    is_branch_or_tag,
    is_deleted,
    is_full_sha,
    webhook_push,
)

SHA = "ab" * 20


def test_full_ref():
    assert full_ref("main") == "refs/heads/main"
    assert full_ref("  release/1.2 ") == "refs/heads/release/1.2"
    assert full_ref("refs/tags/v1") == "refs/tags/v1"
    assert full_ref("refs/pull/3/head") == "refs/pull/3/head"
    assert full_ref("") == ""
    assert full_ref(None) == ""
    assert full_ref("   ") == ""


def test_is_branch_or_tag():
    assert is_branch_or_tag("refs/heads/main")
    assert is_branch_or_tag("refs/tags/v1.0.0")
    assert not is_branch_or_tag("refs/pull/3/head")
    assert not is_branch_or_tag("refs/heads/")
    assert not is_branch_or_tag("refs/heads/feature/")


def test_commit_sha():
    assert commit_sha(f"  {SHA.upper()}\n") == SHA
    assert commit_sha(None) == ""
    assert is_full_sha(SHA)
    assert not is_full_sha(SHA[:12])
    assert not is_full_sha(SHA + "0")
    assert not is_full_sha("g" * 40)
    assert not is_full_sha("")


def test_is_deleted():
    assert is_deleted(ZERO_SHA)
    assert not is_deleted(SHA)
    assert not is_deleted(""), "no commit at all is a bad payload, not a deletion"


def test_github_push():
    body = {"ref": "refs/heads/main", "before": "0" * 40, "after": SHA, "pusher": {"name": "octocat"}}
    assert webhook_push("github", body) == {"ref": "refs/heads/main", "after": SHA, "before": "", "pusher": "octocat"}
    body = {"ref": "refs/heads/main", "before": SHA, "after": SHA, "sender": {"login": "bot"}}
    assert webhook_push("github", body)["pusher"] == "bot"
    assert webhook_push("github", body)["before"] == SHA
    assert webhook_push("github", {"ref": "refs/heads/main", "after": SHA})["pusher"] == "github"


def test_gitlab_push():
    body = {"ref": "refs/tags/v1", "after": SHA, "user_name": "Jane Doe"}
    assert webhook_push("gitlab", body) == {"ref": "refs/tags/v1", "after": SHA, "before": "", "pusher": "Jane Doe"}
    assert webhook_push("gitlab", dict(body, user_username="jane"))["pusher"] == "jane"
    assert webhook_push("gitlab", {"ref": "refs/heads/x", "after": SHA})["pusher"] == "gitlab"


def test_not_a_push():
    assert webhook_push("github", ["ref", "after"]) is None
    assert webhook_push("github", {"ref": "refs/heads/main"}) is None
    assert webhook_push("gitlab", {"after": SHA}) is None
    assert webhook_push("gitlab", {"ref": "", "after": SHA}) is None
