"""A job's files, carried through the Docker API only: a runner host shares no folder with the
control plane (it may be another machine, or the control plane may run in a container).

Into the job, before its container starts (``DockerRunner.start(spec, inputs)``):
- ``source_archive``: the run's exact commit (``git archive``), members ``src/...``, owned by
  root; the container sees it at /src, mounted read-only;
- ``workspace_archive``: the ``workspace/`` folder, owned by the job's user, with the trees
  earlier tasks left as outputs and the restored cache in it; the commit's ``src/`` goes in
  the same tar, so that a job's files take one ``put_archive``.

Out of the job, after its container ended: ``read_file`` reads one declared report or
artifact, ``save_tree`` writes declared folders (outputs, cache) into a tar whose members are
relative to /workspace, the form ``workspace_archive`` takes back.
"""

import io
import os
import posixpath
import shutil
import tarfile
import time

from ..source.git_source import archive as git_archive
from ..source.git_source import mirror_lock

JOB_UID = 1000  # containers run as this non-root user
WORKSPACE = "/workspace"
SOURCE_KEPT_S = 3600  # a commit's shared src/ tar is removed this long after its last use
MAX_TREE_BYTES = 1024 * 1024 * 1024  # what outputs or a cache of one job may weigh
_GO_DIR_BIT = 1 << 31  # Docker's stat of a path gives Go's os.FileMode


class JobFileError(Exception):
    """A declared file or folder that cannot be read back; the message says which and why."""


def source_archive(url, sha, mirrors_dir, fileobj):
    """Write the tar of ``src/``: commit ``sha`` of ``url``; return the commit."""
    return git_archive(url, sha, mirrors_dir, fileobj, prefix="src/")


def shared_source_archive(url, sha, mirrors_dir, folder):
    """The path of the tar ``source_archive`` writes for commit ``sha``, made once in
    ``folder`` and shared by every job of that commit (the jobs of one stage start together:
    one ``git archive``, not one each). Written under a lock and a temporary name: a reader
    never sees half of it."""
    path = os.path.join(folder, f"{sha}.tar")
    if not os.path.isfile(path):
        os.makedirs(folder, exist_ok=True)
        with mirror_lock(path):
            if not os.path.isfile(path):
                partial = f"{path}.{os.getpid()}.partial"
                try:
                    with open(partial, "wb") as handle:
                        source_archive(url, sha, mirrors_dir, handle)
                    os.replace(partial, path)
                finally:
                    if os.path.exists(partial):
                        os.remove(partial)
    os.utime(path)  # in use: kept SOURCE_KEPT_S from now
    return path


def prune_shared_sources(folder, kept_s=SOURCE_KEPT_S):
    """Remove the shared source tars of ``folder`` unused for ``kept_s``; return their names."""
    if not os.path.isdir(folder):
        return []
    cutoff, removed = time.time() - kept_s, []
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.getmtime(path) < cutoff:
            os.remove(path)
            removed.append(name)
    return removed


def workspace_archive(fileobj, trees=(), source=None, extra=()):
    """Write the tar of ``workspace/`` (and its ``.home``), owned by the job's user, with the
    members of each tar of ``trees`` (paths relative to the workspace) under it; a later tree
    overwrites an earlier one. With ``source`` (a tar as ``source_archive`` writes it), its
    ``src/`` members come first, as they are: the job's whole volume is then one tar, put in
    with one ``put_archive`` (each call costs Docker a mount of the container's filesystems).
    ``extra``: ``[(TarInfo, fileobj)]`` written last, as they are (a warm container's ``job/``,
    whose last member releases its wait: ``engine/execution/warm.py``)."""
    with tarfile.open(fileobj=fileobj, mode="w") as out:
        if source is not None:
            with tarfile.open(fileobj=source, mode="r|") as commit:
                for member in commit:
                    out.addfile(member, commit.extractfile(member) if member.isfile() else None)
        for name in ("workspace", "workspace/.home"):
            out.addfile(_owned(tarfile.TarInfo(name), tarfile.DIRTYPE))
        for tree in trees:
            with tarfile.open(fileobj=tree, mode="r|") as archive:
                for member in archive:
                    _check_member(member)
                    data = archive.extractfile(member) if member.isfile() else None
                    member.name = f"workspace/{member.name}"
                    if member.islnk():
                        member.linkname = f"workspace/{member.linkname}"
                    out.addfile(_owned(member), data)
        for member, data in extra:
            out.addfile(member, data)


def relative(path):
    """``path`` as declared (relative to /workspace), normalised; refused when it leaves it."""
    clean = posixpath.normpath(path or ".")
    if clean.startswith(("/", "..")) or clean == ".":
        raise JobFileError(f"'{path}' points outside the workspace")
    return clean


def read_file(runner, container_id, path, max_bytes):
    """The bytes of the file ``path`` of the job's workspace, or raise ``JobFileError``."""
    found = runner.get_archive(container_id, f"{WORKSPACE}/{relative(path)}")
    if found is None:
        raise JobFileError(f"'{path}' was not produced")
    chunks, stat = found
    if stat.get("linkTarget"):
        _drain(chunks)
        raise JobFileError(f"'{path}' is a symbolic link: declare the file itself")
    if stat.get("mode", 0) & _GO_DIR_BIT:
        _drain(chunks)
        raise JobFileError(f"'{path}' is a folder: declare its files (or list it under 'outputs')")
    size = int(stat.get("size") or 0)
    if size > max_bytes:
        _drain(chunks)
        raise JobFileError(f"'{path}' is {size} bytes, over the {max_bytes}-byte limit")
    with tarfile.open(fileobj=_ChunkReader(chunks), mode="r|") as archive:
        for member in archive:
            if member.isfile():
                data = archive.extractfile(member).read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise JobFileError(f"'{path}' is over the {max_bytes}-byte limit")
                return data
    raise JobFileError(f"'{path}' was not produced")


def save_tree(runner, container_id, paths, fileobj, max_bytes=MAX_TREE_BYTES):
    """Write the folders or files ``paths`` of the job's workspace into the tar ``fileobj``,
    members relative to the workspace; return the paths that were missing. Raises
    ``JobFileError`` when they weigh more than ``max_bytes``."""
    missing, total = [], 0
    with tarfile.open(fileobj=fileobj, mode="w") as out:
        for path in paths:
            clean = relative(path)
            found = runner.get_archive(container_id, f"{WORKSPACE}/{clean}")
            if found is None:
                missing.append(path)
                continue
            parent = posixpath.dirname(clean)
            with tarfile.open(fileobj=_ChunkReader(found[0]), mode="r|") as archive:
                for member in archive:
                    total += member.size
                    if total > max_bytes:
                        raise JobFileError(f"'{path}' is over the {max_bytes}-byte limit of outputs and caches")
                    _check_member(member)
                    data = archive.extractfile(member) if member.isfile() else None
                    member.name = posixpath.join(parent, member.name) if parent else member.name
                    if member.islnk():
                        member.linkname = posixpath.join(parent, member.linkname) if parent else member.linkname
                    out.addfile(member, data)
    return missing


def folder_archive(path, prefix, fileobj, uid=0):
    """Write the tar of the local folder ``path`` as ``prefix/...`` (for ``DockerRunner.start``'s
    inputs), every member owned by ``uid`` and readable by all (the job's user reads a
    root-owned ``src/``): built-in actions send their folders this way."""

    def owned(member):
        member.uid = member.gid = uid
        member.uname = member.gname = ""
        member.mode |= 0o555 if member.isdir() else 0o444
        return member

    with tarfile.open(fileobj=fileobj, mode="w") as out:
        out.add(path, arcname=prefix, filter=owned)


def fetch_folder(runner, container_id, path, dest):
    """Replace the local folder ``dest`` by the folder ``path`` of the ended container (read
    with ``get_archive``), owners and modes kept; members are checked as ``save_tree`` checks
    them. Returns False when ``path`` does not exist in the container."""
    found = runner.get_archive(container_id, path)
    if found is None:
        return False
    fresh, old = f"{dest}.igr-new", f"{dest}.igr-old"
    for leftover in (fresh, old):
        shutil.rmtree(leftover, ignore_errors=True)
    os.makedirs(fresh)
    top = posixpath.basename(path.rstrip("/"))
    with tarfile.open(fileobj=_ChunkReader(found[0]), mode="r|") as archive:
        for member in archive:
            _check_member(member)
            name = posixpath.normpath(member.name)
            if name != top and not name.startswith(f"{top}/"):
                raise JobFileError(f"refusing archive member {member.name!r} of {path}")
            member.name = "." if name == top else name[len(top) + 1 :]
            if member.islnk():
                member.linkname = posixpath.normpath(member.linkname)[len(top) + 1 :]
            archive.extract(member, fresh, numeric_owner=True)
    if os.path.lexists(dest):
        os.rename(dest, old)
    os.rename(fresh, dest)
    shutil.rmtree(old, ignore_errors=True)
    return True


def _owned(member, kind=None):
    if kind:
        member.type, member.mode = kind, 0o755
    member.uid = member.gid = JOB_UID
    member.uname = member.gname = ""
    return member


def _check_member(member):
    """No absolute path, no ``..``, no device, and hard links only inside the tree (symbolic
    links may point anywhere: they are resolved inside the job's container)."""
    path = posixpath.normpath(member.name)
    if path.startswith(("/", "..")) or member.isdev():
        raise JobFileError(f"refusing archive member {member.name!r}")
    if member.islnk() and posixpath.normpath(member.linkname).startswith(("/", "..")):
        raise JobFileError(f"refusing archive member {member.name!r}")


def _drain(chunks):
    for _chunk in chunks:
        pass


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (Docker's archive responses)."""

    def __init__(self, chunks):
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size

