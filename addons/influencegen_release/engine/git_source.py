"""Read files from Git repositories through a local bare mirror (GitPython).

A mirror per repository URL lives under ``mirrors_dir``; it is fetched only when the wanted
ref or commit is missing, so repeated reads cost no network round trip.
"""

import hashlib
import os
import re

import git

FULL_SHA_RE = re.compile(r"^[0-9a-f]{40}$")


class GitSourceError(Exception):
    """A repository, ref or file that cannot be read; the message says which."""


def mirror_path(url, mirrors_dir):
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", url.rstrip("/").rsplit("/", 1)[-1])[:40]
    return os.path.join(mirrors_dir, f"{name}-{digest}.git")


def open_mirror(url, mirrors_dir):
    """Return the bare mirror of ``url``, cloning it the first time."""
    path = mirror_path(url, mirrors_dir)
    if os.path.isdir(path):
        return git.Repo(path)
    os.makedirs(mirrors_dir, exist_ok=True)
    try:
        return git.Repo.clone_from(url, path, mirror=True)
    except git.GitCommandError as exc:
        raise GitSourceError(f"cannot clone {url}: {exc.stderr.strip() or exc}") from exc


def resolve(repo, url, ref):
    """The commit sha of ``ref`` (branch, tag, ``refs/...`` or sha).

    A full sha already in the mirror needs no network; a branch or tag name may have moved,
    so the mirror is fetched first.
    """
    if not (FULL_SHA_RE.match(ref) and _commit_or_none(repo, ref)):
        try:
            repo.git.fetch("--prune", "origin", "+refs/*:refs/*")
        except git.GitCommandError as exc:
            raise GitSourceError(f"cannot fetch {url}: {exc.stderr.strip() or exc}") from exc
    commit = _commit_or_none(repo, ref)
    if commit is None:
        raise GitSourceError(f"unknown ref '{ref}' in {url}")
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
    try:
        blob = repo.commit(sha).tree / path.strip("/")
    except KeyError as exc:
        raise GitSourceError(f"'{path}' does not exist at {ref} ({sha[:12]}) in {url}") from exc
    try:
        return blob.data_stream.read().decode("utf-8"), sha
    except UnicodeDecodeError as exc:
        raise GitSourceError(f"'{path}' at {ref} in {url} is not UTF-8 text") from exc
