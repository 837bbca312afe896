"""Read files from Git repositories through a local bare mirror (GitPython).

A mirror per repository URL lives under ``mirrors_dir``; it is fetched only when the wanted
ref or commit is missing, so repeated reads cost no network round trip. Whatever changes a
mirror (its clone, a fetch) holds an exclusive lock on a file beside it (``flock``), so jobs
of one stage that need the same missing commit at once never race on Git's ref locks: the
first fetches, the others wait and then find the commit there. Reads need no lock.
"""

import contextlib
import fcntl
import hashlib
import os
import posixpath
import re
import shutil
from dataclasses import dataclass

import git

FULL_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
SYMLINK_MODE = 0o120000


class GitSourceError(Exception):
    """A repository, ref or file that cannot be read; the message says which."""


def mirror_path(url, mirrors_dir):
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", url.rstrip("/").rsplit("/", 1)[-1])[:40]
    return os.path.join(mirrors_dir, f"{name}-{digest}.git")


@contextlib.contextmanager
def mirror_lock(path):
    """Hold the exclusive lock of the mirror at ``path`` (across threads and processes)."""
    with open(f"{path}.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_mirror(url, mirrors_dir):
    """Return the bare mirror of ``url``, cloning it the first time."""
    path = mirror_path(url, mirrors_dir)
    if os.path.isdir(path):
        return git.Repo(path)
    os.makedirs(mirrors_dir, exist_ok=True)
    with mirror_lock(path):
        if os.path.isdir(path):  # cloned by another job while this one waited
            return git.Repo(path)
        # Cloned aside and renamed: a reader never sees a half-made mirror.
        partial = f"{path}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            git.Repo.clone_from(url, partial, mirror=True)
        except git.GitCommandError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise GitSourceError(f"cannot clone {url}: {exc.stderr.strip() or exc}") from exc
        os.rename(partial, path)
    return git.Repo(path)


def fetch(repo, url, wanted=None):
    """Bring the mirror up to date with ``url``, one fetch at a time per mirror; none when
    the commit ``wanted`` arrived with another job's fetch while this one waited."""
    with mirror_lock(repo.git_dir.rstrip("/")):
        if wanted and FULL_SHA_RE.match(wanted) and _commit_or_none(repo, wanted):
            return
        try:
            # Always one pack (its index renamed in last): a small fetch would otherwise write
            # loose objects one by one, and a job that sees the commit without the lock would
            # archive it before its trees and blobs are there ("invalid object").
            repo.git(c="fetch.unpackLimit=1").fetch("--prune", "origin", "+refs/*:refs/*")
        except git.GitCommandError as exc:
            raise GitSourceError(f"cannot fetch {url}: {exc.stderr.strip() or exc}") from exc


def resolve(repo, url, ref):
    """The commit sha of ``ref`` (branch, tag, ``refs/...`` or sha).

    A full sha already in the mirror needs no network; a branch or tag name may have moved,
    so the mirror is fetched first.
    """
    if not (FULL_SHA_RE.match(ref) and _commit_or_none(repo, ref)):
        fetch(repo, url, wanted=ref)
    commit = _commit_or_none(repo, ref)
    if commit is None:
        raise GitSourceError(f"unknown ref '{ref}' in {url}")
    return commit


def archive(url, sha, mirrors_dir, fileobj, prefix=None):
    """Write ``git archive`` (tar) of commit ``sha`` of ``url`` into ``fileobj``, its members
    under ``prefix`` when given; return the commit."""
    repo = open_mirror(url, mirrors_dir)
    commit = resolve(repo, url, sha)
    options = {"prefix": prefix} if prefix else {}
    start = fileobj.tell()
    try:
        repo.archive(fileobj, treeish=commit, format="tar", **options)
    except Exception:  # GitPython raises several types here
        # A mirror written by an older fetch mid-way: once that fetch ended (its lock), again.
        with mirror_lock(repo.git_dir.rstrip("/")):
            pass
        fileobj.seek(start)
        fileobj.truncate()
        try:
            repo.archive(fileobj, treeish=commit, format="tar", **options)
        except Exception as exc:
            raise GitSourceError(f"cannot export {commit[:12]} of {url}: {exc}") from exc
    return commit


def _commit_or_none(repo, ref):
    try:
        return repo.commit(ref).hexsha
    except (git.BadName, ValueError, git.GitCommandError):
        return None


def read_file_at(url, ref, path, mirrors_dir):
    """Return ``(text, commit_sha)`` of ``path`` at ``ref`` in the repository at ``url``."""
    repo = open_mirror(url, mirrors_dir)
    sha = resolve(repo, url, ref)
    where = f"at {ref} ({sha[:12]}) in {url}"
    blob = _blob_at(repo.commit(sha).tree, path, where)
    try:
        return blob.data_stream.read().decode("utf-8"), sha
    except UnicodeDecodeError as exc:
        raise GitSourceError(f"'{path}' {where} is not UTF-8 text") from exc


def _blob_at(tree, path, where, hops=0):
    """The blob at ``path``, following symbolic links that stay inside the repository."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    node = tree
    for index, part in enumerate(parts):
        if part == ".." or node.type != "tree":
            raise GitSourceError(f"'{path}' does not exist {where}")
        try:
            node = node / part
        except KeyError as exc:
            raise GitSourceError(f"'{path}' does not exist {where}") from exc
        if node.type == "blob" and node.mode == SYMLINK_MODE:
            target = node.data_stream.read().decode("utf-8", "replace")
            resolved = posixpath.normpath(posixpath.join(*parts[:index], target, *parts[index + 1 :]))
            if hops >= 8 or target.startswith("/") or resolved.split("/")[0] == "..":
                raise GitSourceError(f"'{path}' is a symbolic link leaving the repository {where}")
            return _blob_at(tree, resolved, where, hops + 1)
    if node.type != "blob":
        raise GitSourceError(f"'{path}' is a directory {where}")
    return node


def commit_author(url, sha, mirrors_dir):
    """``(name, email)`` of the author of commit ``sha``, read from the local mirror."""
    repo = open_mirror(url, mirrors_dir)
    commit = repo.commit(resolve(repo, url, sha))
    return commit.author.name or "", (commit.author.email or "").strip().lower()


def commits_between(url, old, new, mirrors_dir, limit=50):
    """``[(sha, subject, author name)]`` of the commits reachable from ``new`` and not from
    ``old``, newest first, at most ``limit`` (``old`` falsy: the history of ``new``)."""
    repo = open_mirror(url, mirrors_dir)
    new = resolve(repo, url, new)
    span = f"{resolve(repo, url, old)}..{new}" if old else new
    return [(c.hexsha, c.summary, c.author.name or "") for c in repo.iter_commits(span, max_count=limit)]


def branch_heads(url, mirrors_dir):
    """``{refs/heads/<branch>: sha}`` of the repository at ``url``, after fetching its mirror."""
    repo = open_mirror(url, mirrors_dir)
    fetch(repo, url)
    return {ref.path: ref.commit.hexsha for ref in repo.references if ref.path.startswith("refs/heads/")}


def branch_head(url, branch, mirrors_dir):
    """The commit at the head of ``branch`` now (the mirror is fetched first)."""
    return resolve(open_mirror(url, mirrors_dir), url, f"refs/heads/{branch}")


@dataclass(frozen=True)
class Comparison:
    """What a push changed. ``files`` is None when nothing could be compared (then ``reason``
    says why); ``how`` is ``push``, ``force-push`` or ``new-branch``; ``base`` the commit the
    push was compared with; ``branch`` the default branch a new branch was compared with."""

    files: tuple | None
    base: str = ""
    how: str = ""
    reason: str = ""
    branch: str = ""


def compare_push(url, ref, after, before, default_branch, mirrors_dir):
    """The files a push of ``after`` to ``ref`` changed, by the mirror: against ``before``
    when given (a force-push too, when the mirror still has the old head), else (a new branch)
    against its merge-base with ``default_branch``. Raises GitSourceError when the mirror
    cannot be fetched or lacks ``after``."""
    repo = open_mirror(url, mirrors_dir)
    default_ref = f"refs/heads/{default_branch}"
    resolve(repo, url, after)  # fetches when the mirror lacks it; then ``before`` came too if it still exists
    if before:
        if _commit_or_none(repo, before) is None:
            return Comparison(None, before, "force-push", f"the previous head {before[:12]} is no longer in the mirror")
        how = "push" if repo.is_ancestor(before, after) else "force-push"
        return Comparison(_changed(repo, before, after), before, how)
    head = _commit_or_none(repo, default_ref)
    if ref == default_ref or head is None:
        return Comparison(None, "", "new-branch", f"{ref} has no previous commit to compare with")
    bases = repo.merge_base(head, after)
    if not bases:
        return Comparison(None, "", "new-branch", f"{ref} shares no history with {default_branch}", default_branch)
    base = bases[0].hexsha
    return Comparison(_changed(repo, base, after), base, "new-branch", branch=default_branch)


def _changed(repo, base, after):
    """Paths that differ between two commits; a rename counts as both of its paths."""
    out = repo.git.diff_tree("-r", "--name-only", "--no-commit-id", "--no-renames", "-z", base, after)
    return tuple(path for path in out.split("\0") if path)

