"""What a push names, checked before any run is created: its ref and its commit.

A push reaches ``release.run.api_trigger`` from Git hooks, the CLI, the backend's wizard,
the poller and hosted Git's webhooks; all of them name refs and commits the same way here.
"""

from .git_source import FULL_SHA_RE
from .paths import matching_paths

ZERO_SHA = "0" * 40  # what Git sends as the new commit of a deleted ref


def full_ref(ref):
    """``refs/...`` for a ref or a bare branch name (``main`` is ``refs/heads/main``); '' for none."""
    ref = (ref or "").strip()
    return ref if not ref or ref.startswith("refs/") else f"refs/heads/{ref}"


def is_branch_or_tag(ref):
    """True for a full ref that names one branch or one tag."""
    return ref.startswith(("refs/heads/", "refs/tags/")) and not ref.endswith("/")


def commit_sha(value):
    """The commit a push names, as Git writes it (lower case, no blanks)."""
    return (value or "").strip().lower()


def is_deleted(sha):
    """True when the push deleted its ref: there is nothing to run."""
    return sha == ZERO_SHA


def is_full_sha(sha):
    return bool(FULL_SHA_RE.match(sha))


def webhook_push(provider, data):
    """The ``api_trigger`` fields of a GitHub or GitLab push webhook body (a parsed JSON
    mapping), or None when it names no ref or no commit. A ``before`` of zeros (a new
    branch) is no previous commit."""
    if not isinstance(data, dict) or not data.get("ref") or not data.get("after"):
        return None
    if provider == "github":
        pusher = (data.get("pusher") or {}).get("name") or (data.get("sender") or {}).get("login")
    else:
        pusher = data.get("user_username") or data.get("user_name")
    before = data.get("before") or ""
    return {
        "ref": str(data["ref"]),
        "after": str(data["after"]),
        "before": "" if set(str(before)) <= {"0"} else str(before),
        "pusher": str(pusher or provider),
    }


def compared_with(comparison):
    """How a comparison was made, for people: ``between a1b2c3 and the push``..."""
    base = comparison.base[:12]
    if comparison.how == "new-branch":
        return f"since the merge-base {base} with {comparison.branch}"
    if comparison.how == "force-push":
        return f"since the old head {base} (force-push)"
    return f"since {base}"


def paths_decision(patterns, comparison):
    """``(start, reason)``: whether a push trigger limited to ``patterns`` starts on a push
    whose changes are ``comparison`` (a ``git_source.Comparison``). A push that could not be
    compared starts (skipping a wanted run is worse than an extra one), and says why."""
    if comparison.files is None:
        return True, f"paths not checked ({comparison.reason})"
    files = comparison.files
    chosen = matching_paths(patterns, files)
    where = compared_with(comparison)
    if chosen:
        more = f" and {len(chosen) - 1} more" if len(chosen) > 1 else ""
        return True, f"{chosen[0]}{more} of {len(files)} changed file(s) {where} match paths {', '.join(patterns)}"
    shown = ", ".join(files[:5]) + (f" (+{len(files) - 5})" if len(files) > 5 else "")
    return False, f"paths {', '.join(patterns)} match none of the {len(files)} changed file(s) {where}" + (
        f": {shown}" if files else ""
    )
