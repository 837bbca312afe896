"""Folders on the control plane's own machine: the exact commit exported read-only, and a
writable workspace, used by built-in actions on the control plane's side. No container mounts
them: what a tool container needs of them travels through the Docker API (``job_files.py``),
so a runner host needs no folder of ours.

``<root>/<job>/src`` holds ``git archive`` of the commit (mounted read-only at /src);
``<root>/<job>/workspace`` is the container's working directory, where reports land.
"""

import hashlib
import os
import shutil
import tarfile
import tempfile

from ..source.git_source import archive as git_archive

JOB_UID = 1000  # containers run as this non-root user


class WorkspaceError(Exception):
    pass


def job_dirs(root, name):
    base = os.path.join(root, name)
    return base, os.path.join(base, "src"), os.path.join(base, "workspace")


def prepare(root, name, url=None, sha=None, mirrors_dir=None):
    """Create the job's folders and export ``sha`` of ``url`` into ``src``; return (src, workspace)."""
    base, src, work = job_dirs(root, name)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(src)
    os.makedirs(work)
    if url and sha:
        export(url, sha, mirrors_dir, src)
    try:
        os.chown(work, JOB_UID, JOB_UID)
    except PermissionError:
        # Not root (a development server): the container's user (uid 1000) can only write
        # there if everybody can. The folder is per job and removed with it.
        os.chmod(work, 0o777)  # nosec B103
    return src, work


def export(url, sha, mirrors_dir, dest):
    """Write the files of commit ``sha`` of ``url`` (``git archive`` of the mirror) into ``dest``."""
    with tempfile.TemporaryFile() as archive:
        git_archive(url, sha, mirrors_dir, archive)
        archive.seek(0)
        _extract(archive, dest)
    return dest


def _extract(fileobj, target):
    """Unpack ``git archive`` output member by member, each checked first: no absolute path,
    no ``..``, no device, and links only to places inside the tree."""
    with tarfile.open(fileobj=fileobj) as archive:
        for member in archive.getmembers():
            path = os.path.normpath(member.name)
            if path.startswith(("/", "..")) or member.isdev() or not _link_stays_inside(member, path):
                raise WorkspaceError(f"refusing archive member {member.name!r}")
            archive.extract(member, target)


def _link_stays_inside(member, path):
    if not (member.issym() or member.islnk()):
        return True
    if member.linkname.startswith("/"):
        return False
    base = os.path.dirname(path) if member.issym() else ""
    return not os.path.normpath(os.path.join(base, member.linkname)).startswith("..")


def collect(workspace, relative_path, max_bytes):
    """Read a file the task declared, safely inside the workspace: (bytes, sha256) or raise."""
    root = os.path.realpath(workspace)
    path = os.path.realpath(os.path.join(root, relative_path))
    if not path.startswith(root + os.sep):
        raise WorkspaceError(f"'{relative_path}' points outside the workspace")
    if not os.path.isfile(path):
        raise WorkspaceError(f"'{relative_path}' was not produced")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise WorkspaceError(f"'{relative_path}' is {size} bytes, over the {max_bytes}-byte limit")
    with open(path, "rb") as handle:
        data = handle.read()
    return data, hashlib.sha256(data).hexdigest()


def remove(root, name):
    shutil.rmtree(job_dirs(root, name)[0], ignore_errors=True)
