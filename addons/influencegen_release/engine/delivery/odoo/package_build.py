"""Building release packages of Odoo modules, and the module checksum a target upgrades by.

A package is a zip with the module folders at its root and ``release-manifest.json``
(version, commit, per-module version and checksum, sha256 and size of every file). The same
tree always gives the same bytes, so the zip's sha256 identifies what was approved.

The module checksum is OCA ``module_auto_update``'s ``addon_hash``: a target upgrades a module
only when its checksum differs from the one it recorded at the last deploy.
"""

import fnmatch
import hashlib
import json
import os
import re
import stat
import tempfile
import zipfile

from ...source.versioning import manifest_version, semver_key

MANIFEST_NAME = "release-manifest.json"
FORMAT = 1
# module_auto_update's DEFAULT_EXCLUDE_PATTERNS (16.0+): what cannot change the database.
DEFAULT_EXCLUDES = ("*.pyc", "*.pyo", "i18n/*.pot", "i18n_extra/*.pot", "static/*", "tests/*")
# Left out of packages: compiled files are rebuilt by the target's own Python.
PACKAGE_EXCLUDES = ("*.pyc", "*.pyo")
# The zip epoch: a fixed timestamp keeps two builds of one tree byte-identical.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_ATTR = (stat.S_IFREG | 0o644) << 16
MODULE_NAME_RE = re.compile(r"^[A-Za-z0-9_]+\Z")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?\Z")
CHUNK = 1024 * 1024
# Never searched for modules: tool caches and JavaScript dependencies.
SKIPPED_FOLDERS = ("node_modules", "__pycache__")


class PackageError(Exception):
    """A module, package or member that cannot be packaged or extracted; the message says which."""


# -- module checksum ---------------------------------------------------------------------------


def module_checksum(module_dir, exclude=DEFAULT_EXCLUDES, keep_langs=None):
    """sha1 over the relative path and content of every kept file, in sorted walk order.

    Same result as module_auto_update's ``addon_hash(module_dir, exclude, keep_langs)``. With
    ``keep_langs`` (language codes such as ``fr_BE``), ``i18n``/``i18n_extra`` ``.po`` files of
    other languages are left out, as on a database without them; ``None`` keeps them all.
    """
    if not os.path.isdir(module_dir):
        raise PackageError(f"{module_dir}: not a module folder")
    digest = hashlib.sha1(usedforsecurity=False)
    for relpath in _checksum_walk(module_dir, exclude, keep_langs or ()):
        # The path is hashed too, so adding, removing or renaming an empty file counts.
        digest.update(relpath.encode("utf-8"))
        with open(os.path.join(module_dir, relpath), "rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _checksum_walk(top, exclude, keep_langs):
    # addon_hash order: files of a folder sorted by name, then its subfolders sorted by name
    # (os.walk top-down); links to folders are not entered, links to files are read through.
    langs = {lang.split("_")[0] for lang in keep_langs}
    for dirpath, dirnames, filenames in os.walk(top, onerror=_raise):
        dirnames.sort()
        reldir = os.path.relpath(dirpath, top)
        reldir = "" if reldir == "." else reldir
        for filename in sorted(filenames):
            relpath = os.path.join(reldir, filename)
            if any(fnmatch.fnmatch(relpath, pattern) for pattern in exclude):
                continue
            if langs and reldir in ("i18n", "i18n_extra"):
                basename, ext = os.path.splitext(filename)
                if ext == ".po" and basename.split("_")[0] not in langs:
                    continue
            yield relpath


def _raise(error):
    # os.walk skips unreadable folders silently; a checksum missing files would be wrong.
    raise PackageError(f"{error.filename}: cannot be read: {error.strerror}")


# -- building ----------------------------------------------------------------------------------


def find_modules(addons_dir):
    """Sorted names of the folders of ``addons_dir`` that hold a ``__manifest__.py``."""
    if not os.path.isdir(addons_dir):
        raise PackageError(f"{addons_dir}: not a folder")
    return sorted(
        name
        for name in os.listdir(addons_dir)
        if os.path.isfile(os.path.join(addons_dir, name, "__manifest__.py"))
    )


def discover_modules(root):
    """``{name: folder}`` of every Odoo module under ``root``, found by its ``__manifest__.py``
    at any depth: at the repository root (OCA's layout), under ``addons/``, or deeper.

    As OCA's tooling (and Odoo's addons path) sees them: a module's own folders are not searched
    (a manifest there is test data), links to folders are not entered (OCA's ``setup/`` links
    back to the modules), hidden folders and ``node_modules`` are skipped. Two modules of one
    name are refused: a package and an addons path can hold only one.
    """
    if not os.path.isdir(root):
        raise PackageError(f"{root}: not a folder")
    found = {}
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
        if "__manifest__.py" in filenames:
            if dirpath == root:
                raise PackageError(f"{root}: is itself a module folder; modules are found in the folders below it")
            name = os.path.basename(os.path.abspath(dirpath))
            if name in found:
                first, second = (os.path.relpath(p, root) for p in (found[name], dirpath))
                raise PackageError(f"module {name}: found twice, in {first} and {second}")
            found[name] = dirpath
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_FOLDERS)
    return found


def build_package(addons_dir, modules, version, commit, out_path):
    """Write the package of ``modules`` (names of modules found under ``addons_dir`` by
    ``discover_modules``) to ``out_path``, each module folder at the zip's root.

    Returns ``{"manifest": release manifest, "sha256": of the zip, "size": of the zip}``.
    """
    semver_key(version)
    if not isinstance(commit, str) or not COMMIT_RE.match(commit):
        raise PackageError(f"commit {commit!r}: not a full hexadecimal commit sha")
    if not modules:
        raise PackageError(f"{addons_dir}: no module to package")
    located = discover_modules(addons_dir)
    entries, module_info = [], {}
    for name in sorted(set(modules)):
        if not MODULE_NAME_RE.match(name):
            raise PackageError(f"module {name!r}: not a valid Odoo module name")
        module_dir = located.get(name, os.path.join(addons_dir, name))
        manifest_path = os.path.join(module_dir, "__manifest__.py")
        if not os.path.isfile(manifest_path):
            raise PackageError(f"{module_dir}: not a module (no __manifest__.py)")
        try:
            with open(manifest_path, encoding="utf-8") as handle:
                module_version = manifest_version(handle.read(), manifest_path)
        except UnicodeDecodeError as exc:
            raise PackageError(f"{manifest_path}: not UTF-8 text") from exc
        files = _package_files(module_dir, name)
        entries.extend((f"{name}/{relpath}", os.path.join(module_dir, relpath)) for relpath in files)
        module_info[name] = {"version": module_version, "checksum": module_checksum(module_dir), "files": len(files)}
    entries.sort()
    manifest = {"format": FORMAT, "version": version, "commit": commit, "modules": module_info, "files": []}
    out_dir = os.path.dirname(os.path.abspath(out_path))
    handle, partial = tempfile.mkstemp(prefix=".package-", suffix=".zip", dir=out_dir)
    os.close(handle)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, source in entries:
                manifest["files"].append(_write_member(archive, member, source))
            data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
            archive.writestr(_zip_info(MANIFEST_NAME, len(data)), data)
        os.chmod(partial, 0o644)  # mkstemp's 0600 would keep the package from its readers
        os.replace(partial, out_path)
    except BaseException:
        os.unlink(partial)
        raise
    return {"manifest": manifest, "sha256": _file_sha256(out_path), "size": os.path.getsize(out_path)}


def _package_files(module_dir, name):
    """Relative paths of the regular files of a module, refusing links that leave it."""
    root = os.path.realpath(module_dir)
    files = []
    for dirpath, dirnames, filenames in os.walk(module_dir, onerror=_raise):
        dirnames.sort()
        for entry in dirnames + filenames:
            path = os.path.join(dirpath, entry)
            relpath = os.path.relpath(path, module_dir)
            where = f"module {name}: {relpath}"
            if os.path.islink(path):
                target = os.path.realpath(path)
                if os.path.commonpath([root, target]) != root:
                    raise PackageError(f"{where}: symbolic link pointing outside the module ({os.readlink(path)})")
                if os.path.isdir(target):
                    # The checksum does not enter linked folders, a package would: they would differ.
                    raise PackageError(f"{where}: symbolic link to a folder; packages hold regular files only")
            if entry in dirnames:
                continue
            if not os.path.isfile(path):
                raise PackageError(f"{where}: not a regular file (broken link, socket or device)")
            if "\\" in relpath or not _is_utf8(relpath):
                raise PackageError(f"{where}: file name with a backslash or not UTF-8 cannot be packaged")
            if not any(fnmatch.fnmatch(relpath, pattern) for pattern in PACKAGE_EXCLUDES):
                files.append(relpath)
    return files


def _is_utf8(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return False
    return True


def _zip_info(member, size):
    info = zipfile.ZipInfo(member, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so external_attr carries the regular-file type and mode
    info.external_attr = FILE_ATTR
    info.file_size = size  # lets zipfile choose zip64 up front for large files
    return info


def _write_member(archive, member, source):
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as reader, archive.open(_zip_info(member, os.path.getsize(source)), "w") as writer:
        for chunk in iter(lambda: reader.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
            writer.write(chunk)
    return {"path": member, "sha256": digest.hexdigest(), "size": size}


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()

