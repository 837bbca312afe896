"""Release packages of Odoo modules: build, checksum, safe extraction, upgrade plan.

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
import shutil
import stat
import tempfile
import zipfile

from ...source.versioning import VersionError, manifest_version, semver_key

MANIFEST_NAME = "release-manifest.json"
FORMAT = 1
# module_auto_update's DEFAULT_EXCLUDE_PATTERNS (16.0+): what cannot change the database.
DEFAULT_EXCLUDES = ("*.pyc", "*.pyo", "i18n/*.pot", "i18n_extra/*.pot", "static/*", "tests/*")
# Left out of packages: compiled files are rebuilt by the target's own Python.
PACKAGE_EXCLUDES = ("*.pyc", "*.pyo")
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# The zip epoch: a fixed timestamp keeps two builds of one tree byte-identical.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_ATTR = (stat.S_IFREG | 0o644) << 16
MODULE_NAME_RE = re.compile(r"^[A-Za-z0-9_]+\Z")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?\Z")
CHUNK = 1024 * 1024


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


def build_package(addons_dir, modules, version, commit, out_path):
    """Write the package of ``modules`` (names of folders of ``addons_dir``) to ``out_path``.

    Returns ``{"manifest": release manifest, "sha256": of the zip, "size": of the zip}``.
    """
    semver_key(version)
    if not isinstance(commit, str) or not COMMIT_RE.match(commit):
        raise PackageError(f"commit {commit!r}: not a full hexadecimal commit sha")
    if not modules:
        raise PackageError(f"{addons_dir}: no module to package")
    entries, module_info = [], {}
    for name in sorted(set(modules)):
        if not MODULE_NAME_RE.match(name):
            raise PackageError(f"module {name!r}: not a valid Odoo module name")
        module_dir = os.path.join(addons_dir, name)
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


# -- reading and extracting --------------------------------------------------------------------


def read_package_manifest(zip_path):
    """The validated ``release-manifest.json`` of the package at ``zip_path``."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            return _read_manifest(archive, zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(f"{zip_path}: not a readable zip file: {exc}") from exc


def _read_manifest(archive, zip_path):
    where = f"{zip_path}: {MANIFEST_NAME}"
    try:
        info = archive.getinfo(MANIFEST_NAME)
    except KeyError as exc:
        raise PackageError(f"{where}: missing") from exc
    if info.file_size > MAX_MANIFEST_BYTES:
        raise PackageError(f"{where}: {info.file_size} bytes, over the limit of {MAX_MANIFEST_BYTES}")
    try:
        manifest = json.loads(archive.read(info).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError(f"{where}: not valid JSON: {exc}") from exc
    _check_manifest(manifest, where)
    return manifest


def _check_manifest(manifest, where):
    def require(ok, field, message):
        if not ok:
            raise PackageError(f"{where}: {field}: {message}")

    require(isinstance(manifest, dict), "(top)", "must be an object")
    require(manifest.get("format") == FORMAT, "format", f"must be {FORMAT}, not {manifest.get('format')!r}")
    try:
        semver_key(manifest.get("version"))
    except VersionError as exc:
        raise PackageError(f"{where}: version: {exc}") from exc
    commit = manifest.get("commit")
    require(isinstance(commit, str) and COMMIT_RE.match(commit), "commit", "must be a full commit sha")
    modules = manifest.get("modules")
    require(isinstance(modules, dict) and modules, "modules", "must be a non-empty object")
    for name, info in modules.items():
        field = f"modules.{name}"
        require(MODULE_NAME_RE.match(name), field, "not a valid module name")
        require(isinstance(info, dict), field, "must be an object")
        require(isinstance(info.get("version"), str), f"{field}.version", "must be a string")
        require(isinstance(info.get("checksum"), str) and re.fullmatch(r"[0-9a-f]{40}", info["checksum"]),
                f"{field}.checksum", "must be 40 hexadecimal digits")
        require(isinstance(info.get("files"), int) and info["files"] > 0, f"{field}.files", "must be a positive count")
    files = manifest.get("files")
    require(isinstance(files, list), "files", "must be a list")
    seen, counts = set(), dict.fromkeys(modules, 0)
    for index, entry in enumerate(files):
        field = f"files[{index}]"
        require(isinstance(entry, dict) and isinstance(entry.get("path"), str), field, "must be an object with a path")
        path = entry["path"]
        require(_unsafe_reason(path) is None, f"{field}.path", f"'{path}': {_unsafe_reason(path)}")
        require(path not in seen, f"{field}.path", f"'{path}' is listed twice")
        require(path.split("/")[0] in modules and "/" in path, f"{field}.path", f"'{path}' is outside the declared modules")
        require(isinstance(entry.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]),
                f"{field}.sha256", "must be 64 hexadecimal digits")
        require(isinstance(entry.get("size"), int) and entry["size"] >= 0, f"{field}.size", "must be a byte count")
        seen.add(path)
        counts[path.split("/")[0]] += 1
    for name, count in counts.items():
        declared = modules[name]["files"]
        require(declared == count, f"modules.{name}.files", f"says {declared}, the files list has {count}")
        require(f"{name}/__manifest__.py" in seen, f"modules.{name}", "has no __manifest__.py in files")


def _unsafe_reason(name):
    """Why a member name could write outside its folder, or None when it is a plain relative path."""
    if "\\" in name:
        return "backslash in the path"
    if re.match(r"^[A-Za-z]:", name):
        return "drive letter in the path"
    if name.startswith("/"):
        return "absolute path"
    if any(ord(char) < 32 for char in name):
        return "control character in the path"
    parts = name.split("/")
    if ".." in parts:
        return "'..' component in the path"
    if any(part in ("", ".") for part in parts):
        return "empty or '.' component in the path"
    return None


def safe_extract(zip_path, dest_dir, max_bytes=DEFAULT_MAX_BYTES):
    """Replace ``dest_dir`` with the modules of the package; returns its release manifest.

    Every member is checked before anything is written, then the files are written to a new
    folder next to ``dest_dir`` (sha256 and module checksums verified) and swapped in by
    renaming: a refused or broken package leaves ``dest_dir`` as it was.
    """
    manifest = read_package_manifest(zip_path)
    parent = os.path.dirname(os.path.abspath(dest_dir))
    base = os.path.basename(os.path.abspath(dest_dir))
    if os.path.lexists(dest_dir) and (os.path.islink(dest_dir) or not os.path.isdir(dest_dir)):
        raise PackageError(f"{dest_dir}: exists and is not a folder")
    with zipfile.ZipFile(zip_path) as archive:
        members = _checked_members(archive, manifest, zip_path, max_bytes)
        os.makedirs(parent, exist_ok=True)  # only once the package is known to be acceptable
        listed = {entry["path"]: entry for entry in manifest["files"]}
        staging = tempfile.mkdtemp(prefix=f".{base}.incoming-", dir=parent)
        try:
            for info in members:
                _extract_member(archive, info, staging, listed[info.filename]["sha256"], zip_path)
            for name, module in sorted(manifest["modules"].items()):
                checksum = module_checksum(os.path.join(staging, name))
                if checksum != module["checksum"]:
                    raise PackageError(
                        f"{zip_path}: module {name}: its files give checksum {checksum}, "
                        f"{MANIFEST_NAME} says {module['checksum']}"
                    )
            os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide the modules from other users
            _swap_in(staging, dest_dir, parent, base)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return manifest


def _checked_members(archive, manifest, zip_path, max_bytes):
    """The members to extract, after refusing anything unsafe or not declared."""
    listed = {entry["path"]: entry for entry in manifest["files"]}
    seen, members, total = set(), [], 0
    for info in archive.infolist():
        name = info.filename
        where = f"{zip_path}: member '{name}'"
        if name in seen:
            raise PackageError(f"{where}: duplicate member")
        seen.add(name)
        if name == MANIFEST_NAME:
            continue
        file_type = stat.S_IFMT(info.external_attr >> 16)
        if file_type == stat.S_IFLNK:
            raise PackageError(f"{where}: symbolic link")
        if info.is_dir() or file_type == stat.S_IFDIR:
            raise PackageError(f"{where}: folder entry; packages hold files only")
        if file_type not in (0, stat.S_IFREG):  # 0: written by a tool that records no Unix type
            raise PackageError(f"{where}: not a regular file")
        reason = _unsafe_reason(name)
        if reason:
            raise PackageError(f"{where}: {reason}")
        if name.split("/")[0] not in manifest["modules"]:
            raise PackageError(f"{where}: outside the declared modules")
        if name not in listed:
            raise PackageError(f"{where}: not listed in {MANIFEST_NAME}")
        if info.file_size != listed[name]["size"]:
            raise PackageError(f"{where}: {info.file_size} bytes, {MANIFEST_NAME} says {listed[name]['size']}")
        total += info.file_size
        if total > max_bytes:
            raise PackageError(f"{where}: the package expands past the limit of {max_bytes} bytes")
        members.append(info)
    missing = sorted(set(listed) - seen)
    if missing:
        raise PackageError(f"{zip_path}: member '{missing[0]}' is listed in {MANIFEST_NAME} but missing")
    return members


def _extract_member(archive, info, staging, sha256, zip_path):
    where = f"{zip_path}: member '{info.filename}'"
    target = os.path.join(staging, *info.filename.split("/"))
    digest = hashlib.sha256()
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # "xb": never write through something already there (a clash between two members).
        with archive.open(info) as reader, open(target, "xb") as writer:
            for chunk in iter(lambda: reader.read(CHUNK), b""):
                digest.update(chunk)
                writer.write(chunk)
    except (OSError, zipfile.BadZipFile) as exc:
        raise PackageError(f"{where}: cannot be extracted: {exc}") from exc
    if digest.hexdigest() != sha256:
        raise PackageError(f"{where}: sha256 {digest.hexdigest()} differs from {MANIFEST_NAME}")


def _swap_in(staging, dest_dir, parent, base):
    if not os.path.exists(dest_dir):
        os.rename(staging, dest_dir)
        return
    previous = tempfile.mkdtemp(prefix=f".{base}.previous-", dir=parent)
    os.rename(dest_dir, previous)  # onto an empty folder: allowed, and atomic
    try:
        os.rename(staging, dest_dir)
    except OSError:
        os.rename(previous, dest_dir)
        raise
    shutil.rmtree(previous, ignore_errors=True)


# -- upgrade plan ------------------------------------------------------------------------------


def upgrade_plan(installed, manifest):
    """Which modules of a release to install, upgrade (checksum changed) or leave alone.

    ``installed`` is the target's ``{name: {"version", "checksum"}}``; ``manifest`` a release
    manifest. Modules installed but absent from the release are not touched.
    """
    plan = {"install": [], "upgrade": [], "unchanged": []}
    for name, module in sorted(manifest["modules"].items()):
        if name not in installed:
            plan["install"].append(name)
        elif installed[name].get("checksum") != module["checksum"]:
            plan["upgrade"].append(name)
        else:
            plan["unchanged"].append(name)
    return plan


def plan_digest(plan):
    """sha256 of the plan's canonical JSON: an approved plan that changed no longer matches."""
    canonical = json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
