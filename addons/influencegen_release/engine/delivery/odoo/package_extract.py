"""Reading release packages on a target: the manifest checked, safe extraction, the upgrade plan.

Nothing of a package is trusted before it is checked: member names, types and sizes against
the manifest, then every file's sha256 and every module's checksum after extraction.
"""

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile

from ...source.versioning import VersionError, semver_key
from .package_build import CHUNK, COMMIT_RE, FORMAT, MANIFEST_NAME, MODULE_NAME_RE, PackageError, module_checksum

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


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
