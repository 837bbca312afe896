"""Release packages of Odoo modules: build, checksum, safe extraction, upgrade plan.

A package is a zip with the module folders at its root and ``release-manifest.json``
(version, commit, per-module version and checksum, sha256 and size of every file). The same
tree always gives the same bytes, so the zip's sha256 identifies what was approved.

The module checksum is OCA ``module_auto_update``'s ``addon_hash``: a target upgrades a module
only when its checksum differs from the one it recorded at the last deploy.

This module is the public entry point: building and the module checksum are in
``package_build``, reading, safe extraction and the upgrade plan in ``package_extract``.
"""

from .package_build import (  # noqa: F401  (part of this module's interface)
    CHUNK,
    COMMIT_RE,
    DEFAULT_EXCLUDES,
    FILE_ATTR,
    FORMAT,
    MANIFEST_NAME,
    MODULE_NAME_RE,
    PACKAGE_EXCLUDES,
    ZIP_DATE,
    PackageError,
    build_package,
    discover_modules,
    find_modules,
    module_checksum,
)
from .package_extract import (  # noqa: F401  (part of this module's interface)
    DEFAULT_MAX_BYTES,
    MAX_MANIFEST_BYTES,
    plan_digest,
    read_package_manifest,
    safe_extract,
    upgrade_plan,
)
