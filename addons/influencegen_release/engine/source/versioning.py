"""Release versions: SemVer from Git tags, Odoo manifest versions, no going backwards.

A commit tagged ``vX.Y.Z`` is release ``X.Y.Z``. A later commit is a pre-release of the next
patch, ``X.Y.(Z+1)-dev.N+<sha12>`` (N commits since the nearest tag), so every build has a
version that sorts after the release it grew from and before the one it will become.
"""

import ast
import re

import git

# Only plain release tags count: a pre-release tag (v1.2.0-rc.1) or a loose one (v1.2, 1.2.3,
# v01.2.3) would give versions that do not sort the way the tag's author meant.
RELEASE_TAG_RE = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)\Z", re.ASCII)
# https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z",
    re.ASCII,
)
MANIFEST_VERSION_RE = re.compile(r"^18\.0\.\d+\.\d+\.\d+\Z", re.ASCII)
FIRST_VERSION = (0, 1, 0)


class VersionError(Exception):
    """A version that cannot be read or used; the message names the file or version."""


def semver_key(text):
    """Sort key of a SemVer string: pre-releases before their release, build metadata ignored."""
    match = SEMVER_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise VersionError(f"version {text!r}: not a SemVer version (X.Y.Z[-pre][+build])")
    major, minor, patch, prerelease = match.group(1, 2, 3, 4)
    if prerelease is None:
        # (1,) sorts after every (0, ...): a release is higher than its pre-releases.
        return int(major), int(minor), int(patch), (1,)
    # Numeric identifiers compare as numbers and below alphanumeric ones; a shorter list of
    # equal identifiers sorts first, which tuple comparison gives for free.
    identifiers = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in prerelease.split("."))
    return int(major), int(minor), int(patch), (0, identifiers)


def version_at(repo, sha):
    """The SemVer version of commit ``sha`` in ``repo`` (a ``git.Repo``, bare or not)."""
    try:
        commit = repo.commit(sha)
    except (git.BadName, ValueError, git.GitCommandError) as exc:
        raise VersionError(f"unknown commit '{sha}' in {repo.git_dir}") from exc
    sha12 = commit.hexsha[:12]
    tagged = _release_tags_by_commit(repo)
    if commit.hexsha in tagged:
        return _highest(tagged[commit.hexsha])
    ancestors = set(repo.git.rev_list(commit.hexsha).split())
    nearest, distance = None, None
    for tagged_sha, versions in tagged.items():
        if tagged_sha not in ancestors:
            continue
        since = int(repo.git.rev_list("--count", commit.hexsha, "^" + tagged_sha))
        best = _highest(versions)
        if distance is None or since < distance or (since == distance and semver_key(best) > semver_key(nearest)):
            nearest, distance = best, since
    if nearest is None:
        major, minor, patch = FIRST_VERSION
        return f"{major}.{minor}.{patch}-dev.{len(ancestors)}+{sha12}"
    major, minor, patch = (int(part) for part in nearest.split("."))
    return f"{major}.{minor}.{patch + 1}-dev.{distance}+{sha12}"


def _release_tags_by_commit(repo):
    """{commit sha: [X.Y.Z, ...]} of the ``vX.Y.Z`` tags, annotated tags peeled to their commit."""
    tagged = {}
    for tag in repo.tags:
        if not RELEASE_TAG_RE.match(tag.name):
            continue
        try:
            target = tag.commit.hexsha
        except ValueError:  # a tag of a tree or blob has no version to give
            continue
        tagged.setdefault(target, []).append(tag.name[1:])
    return tagged


def _highest(versions):
    return max(versions, key=semver_key)


def manifest_version(manifest_text, filename):
    """The ``version`` of an Odoo ``__manifest__.py``, which must read ``18.0.x.y.z``.

    The manifest is evaluated as a literal like Odoo does, never executed.
    """
    try:
        manifest = ast.literal_eval(manifest_text)
    except SyntaxError as exc:
        raise VersionError(f"{filename}: not valid Python: {exc.msg} (line {exc.lineno})") from exc
    except (ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise VersionError(f"{filename}: not a literal dict (code is never run): {exc}") from exc
    if not isinstance(manifest, dict):
        raise VersionError(f"{filename}: not a dict but a {type(manifest).__name__}")
    if "version" not in manifest:
        raise VersionError(f"{filename}: version: missing (expected 18.0.x.y.z)")
    version = manifest["version"]
    if not isinstance(version, str):
        raise VersionError(f"{filename}: version: must be a string like '18.0.1.0.0', not {version!r}")
    if not MANIFEST_VERSION_RE.match(version):
        raise VersionError(f"{filename}: version: '{version}' is not of the form 18.0.x.y.z")
    return version


def check_release(modules, previous):
    """Errors of a release whose modules ({name: version}) went back from ``previous``.

    An equal version is fine: the module checksum decides whether it is upgraded.
    """
    errors = []
    for name in sorted(modules):
        if name not in previous:
            continue
        new, old = _dotted_key(modules[name]), _dotted_key(previous[name])
        if new is None:
            errors.append(f"module {name}: version {modules[name]!r} is not a dotted number")
        elif old is None:
            errors.append(f"module {name}: the deployed version {previous[name]!r} cannot be compared")
        elif new < old:
            errors.append(f"module {name}: {modules[name]} is older than the deployed {previous[name]}")
    return errors


def _dotted_key(version):
    # Lenient on purpose: a target may hold versions written before the 18.0.x.y.z rule.
    if not isinstance(version, str) or not re.fullmatch(r"\d+(\.\d+)*", version, re.ASCII):
        return None
    return tuple(int(part) for part in version.split("."))
