"""Module checksums, deterministic release packages, safe extraction and upgrade plans."""

import hashlib
import json
import os
import stat
import zipfile

import pytest

from influencegen_release.engine.delivery.odoo.packaging import (
    MANIFEST_NAME,
    PackageError,
    build_package,
    discover_modules,
    find_modules,
    module_checksum,
    plan_digest,
    read_package_manifest,
    safe_extract,
    upgrade_plan,
)
from influencegen_release.engine.source.versioning import VersionError

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write(root, relpath, content):
    path = os.path.join(root, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content.encode() if isinstance(content, str) else content)
    return path


@pytest.fixture
def addons(tmp_path):
    root = str(tmp_path / "addons")
    for relpath, content in {
        "sale_extra/__manifest__.py": "{'name': 'Sale extra', 'version': '18.0.1.2.0'}\n",
        "sale_extra/__init__.py": "from . import models\n",
        "sale_extra/models/__init__.py": "from . import sale\n",
        "sale_extra/models/sale.py": "X = 1\n",
        "sale_extra/models/__pycache__/sale.cpython-311.pyc": b"\x00compiled",
        "sale_extra/views/sale.xml": "<odoo/>\n",
        "sale_extra/static/src/sale.js": "// js\n",
        "sale_extra/tests/test_sale.py": "def test(): pass\n",
        "sale_extra/i18n/sale_extra.pot": "msgid \"\"\n",
        "sale_extra/i18n/fr.po": "msgid \"fr\"\n",
        "crm_extra/__manifest__.py": "{'name': 'CRM extra', 'version': '18.0.2.0.0'}\n",
        "crm_extra/__init__.py": "",
        "not_a_module/README.md": "no manifest here\n",
    }.items():
        write(root, relpath, content)
    return root


def test_find_modules_lists_folders_with_a_manifest(addons):
    assert find_modules(addons) == ["crm_extra", "sale_extra"]


@pytest.mark.parametrize("layout", ["", "addons/", "src/odoo/custom/"])
def test_discover_modules_by_manifest_in_each_repository_layout(tmp_path, layout):
    """OCA's layout (modules at the root), addons/, or nested deeper: the same modules."""
    root = str(tmp_path / "repo")
    write(root, f"{layout}sale_extra/__manifest__.py", "{'version': '18.0.1.0.0'}\n")
    write(root, f"{layout}sale_extra/tests/data/fake_module/__manifest__.py", "{}\n")  # inside a module: test data
    write(root, f"{layout}crm_extra/__manifest__.py", "{'version': '18.0.1.0.0'}\n")
    write(root, ".git/hooks/x/__manifest__.py", "{}\n")
    write(root, "node_modules/pkg/__manifest__.py", "{}\n")
    write(root, "README.md", "# repo\n")
    os.makedirs(os.path.join(root, "setup", "sale_extra", "odoo", "addons"))
    os.symlink(os.path.join(root, layout, "sale_extra"), os.path.join(root, "setup", "sale_extra", "odoo", "addons", "sale_extra"))
    found = discover_modules(root)
    assert {name: os.path.relpath(path, root) for name, path in found.items()} == {
        "crm_extra": f"{layout}crm_extra", "sale_extra": f"{layout}sale_extra"}
    built = build_package(root, sorted(found), "1.0.0", COMMIT, tmp_path / "p.zip")
    with zipfile.ZipFile(tmp_path / "p.zip") as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == {"crm_extra", "sale_extra", MANIFEST_NAME}
    assert sorted(built["manifest"]["modules"]) == ["crm_extra", "sale_extra"]


def test_discover_modules_refuses_two_modules_of_one_name(tmp_path):
    root = str(tmp_path / "repo")
    write(root, "a/sale_extra/__manifest__.py", "{}\n")
    write(root, "b/sale_extra/__manifest__.py", "{}\n")
    with pytest.raises(PackageError, match="module sale_extra: found twice, in a/sale_extra and b/sale_extra"):
        discover_modules(root)
    with pytest.raises(PackageError, match="is itself a module folder"):
        discover_modules(os.path.join(root, "a", "sale_extra"))


def test_the_checksum_ignores_what_cannot_change_the_database(addons):
    module = os.path.join(addons, "sale_extra")
    before = module_checksum(module)
    write(module, "static/src/sale.js", "// changed\n")
    write(module, "tests/test_sale.py", "def test(): assert 1\n")
    write(module, "i18n/sale_extra.pot", "msgid \"changed\"\n")
    write(module, "i18n_extra/extra.pot", "msgid \"new\"\n")
    write(module, "models/sale.pyc", b"\x01")
    write(module, "models/sale.pyo", b"\x02")
    assert module_checksum(module) == before
    write(module, "models/sale.py", "X = 2\n")
    changed = module_checksum(module)
    assert changed != before
    # Names are hashed too: a new empty file changes the checksum.
    write(module, "models/empty.py", "")
    assert module_checksum(module) != changed


def test_the_checksum_is_module_auto_updates_addon_hash(tmp_path):
    # The sample module of OCA/server-tools module_auto_update (17.0) and its expected hash.
    sample = str(tmp_path / "sample_module")
    files = {
        "README.rst": "Sample module for tests addon_hash module.\n",
        "data/f1.xml": "<odoo />\n",
        "data/f2.xml": "<odoo />\n",
        "models/stuff.py": "_ = 1 + 1\n",
        "models/stuff.pyc": b"\x03\xf3\r\n",
        "models/stuff.pyo": b"\x03\xf3\r\n",
        "static/src/some.js": "/* Javascript */\n",
    }
    for name in ("en_US.po", "fr.po", "fr_BE.po", "test.pot"):
        files[f"i18n/{name}"] = ""
    for name in ("en.po", "fr.po", "nl_NL.po"):
        files[f"i18n_extra/{name}"] = ""
    for relpath, content in files.items():
        write(sample, relpath, content)
    excludes = ["*.pyc", "*.pyo", "*.pot", "static/*"]
    assert module_checksum(sample, excludes, ["fr_FR", "nl"]) == "5a14909e62f05c340f717bd87f64479a862b1941"
    # Without keep_langs every language counts: the English files change the hash.
    assert module_checksum(sample, excludes) != "5a14909e62f05c340f717bd87f64479a862b1941"


def test_walk_order_is_files_first_then_sorted_subfolders(tmp_path):
    # addon_hash hashes a folder's files before its subfolders: not a plain sort of the paths.
    module = str(tmp_path / "m")
    write(module, "a/x.py", "x")
    write(module, "b.py", "b")
    expected = hashlib.sha1(b"b.py" + b"b" + b"a/x.py" + b"x", usedforsecurity=False).hexdigest()
    assert module_checksum(module) == expected


def test_building_twice_gives_the_same_bytes(addons, tmp_path):
    first = build_package(addons, ["sale_extra", "crm_extra"], "1.2.4-dev.3+0123456789ab", COMMIT, tmp_path / "a.zip")
    os.utime(os.path.join(addons, "sale_extra", "models", "sale.py"), (1, 1))  # mtimes do not matter
    second = build_package(addons, ["crm_extra", "sale_extra"], "1.2.4-dev.3+0123456789ab", COMMIT, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert first == second
    assert first["sha256"] == hashlib.sha256((tmp_path / "a.zip").read_bytes()).hexdigest()
    assert first["size"] == os.path.getsize(tmp_path / "a.zip")
    manifest = first["manifest"]
    assert manifest["format"] == 1 and manifest["commit"] == COMMIT
    assert manifest["modules"]["sale_extra"]["version"] == "18.0.1.2.0"
    assert manifest["modules"]["sale_extra"]["checksum"] == module_checksum(os.path.join(addons, "sale_extra"))
    paths = [entry["path"] for entry in manifest["files"]]
    assert paths == sorted(paths)
    assert "sale_extra/static/src/sale.js" in paths and "sale_extra/tests/test_sale.py" in paths
    assert not any(path.endswith(".pyc") for path in paths)
    assert manifest["modules"]["sale_extra"]["files"] == sum(p.startswith("sale_extra/") for p in paths)
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.namelist() == [*paths, MANIFEST_NAME]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert read_package_manifest(tmp_path / "a.zip") == manifest


def test_build_refuses_links_leaving_the_module_and_bad_input(addons, tmp_path):
    module = os.path.join(addons, "sale_extra")
    os.symlink("models/sale.py", os.path.join(module, "alias.py"))  # inside: packaged as a file
    result = build_package(addons, ["sale_extra"], "1.0.0", COMMIT, tmp_path / "in.zip")
    assert "sale_extra/alias.py" in [entry["path"] for entry in result["manifest"]["files"]]
    os.symlink("/etc/passwd", os.path.join(module, "views", "passwd.xml"))
    with pytest.raises(PackageError, match="module sale_extra: views/passwd.xml: symbolic link pointing outside"):
        build_package(addons, ["sale_extra"], "1.0.0", COMMIT, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()
    with pytest.raises(PackageError, match="not a module"):
        build_package(addons, ["not_a_module"], "1.0.0", COMMIT, tmp_path / "x.zip")
    with pytest.raises(PackageError, match="not a full hexadecimal commit"):
        build_package(addons, ["crm_extra"], "1.0.0", "abc", tmp_path / "x.zip")
    write(addons, "crm_extra/__manifest__.py", "{'version': '1.0'}")
    with pytest.raises(VersionError, match=r"crm_extra/__manifest__.py: version: '1.0' is not of the form"):
        build_package(addons, ["crm_extra"], "1.0.0", COMMIT, tmp_path / "x.zip")
    assert [name for name in os.listdir(tmp_path) if name.startswith(".package-")] == []


def test_extract_installs_the_modules_and_replaces_the_previous_ones(addons, tmp_path):
    package = tmp_path / "release.zip"
    built = build_package(addons, ["sale_extra", "crm_extra"], "1.0.0", COMMIT, package)
    target = tmp_path / "target" / "addons"
    os.makedirs(target / "stale_module")
    assert safe_extract(package, target) == built["manifest"]
    assert sorted(os.listdir(target)) == ["crm_extra", "sale_extra"]
    assert (target / "sale_extra" / "models" / "sale.py").read_text() == "X = 1\n"
    assert module_checksum(str(target / "sale_extra")) == built["manifest"]["modules"]["sale_extra"]["checksum"]
    assert sorted(os.listdir(tmp_path / "target")) == ["addons"]  # no staging folder left behind
    # A release folder whose parents do not exist yet is created with them.
    safe_extract(package, tmp_path / "managed" / "releases" / "r1")
    assert sorted(os.listdir(tmp_path / "managed" / "releases" / "r1")) == ["crm_extra", "sale_extra"]


def forge(path, members, manifest=None, symlinks=()):
    """A zip written member by member with zipfile, its manifest describing ``manifest`` files."""
    listed = manifest if manifest is not None else members
    files = [
        {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in sorted(listed.items())
    ]
    counts = {}
    for entry in files:
        counts[entry["path"].split("/")[0]] = counts.get(entry["path"].split("/")[0], 0) + 1
    release = {
        "format": 1, "version": "1.0.0", "commit": COMMIT, "files": files,
        "modules": {name: {"version": "18.0.1.0.0", "checksum": "0" * 40, "files": n} for name, n in counts.items()},
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items() if isinstance(members, dict) else members:
            info = zipfile.ZipInfo(name)
            if name in symlinks:
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
        archive.writestr(MANIFEST_NAME, json.dumps(release))
    return path


GOOD = {"mod/__manifest__.py": b"{'version': '18.0.1.0.0'}", "mod/models.py": b"X = 1\n"}


@pytest.mark.parametrize(
    ("members", "listed", "message"),
    [
        ({**GOOD, "../evil.py": b"x"}, GOOD, r"member '\.\./evil\.py': '\.\.' component"),
        ({**GOOD, "mod/../../evil.py": b"x"}, GOOD, r"'\.\.' component"),
        ({**GOOD, "/abs.py": b"x"}, GOOD, "member '/abs.py': absolute path"),
        ({**GOOD, "mod\\..\\evil.py": b"x"}, GOOD, "backslash"),
        ({**GOOD, "C:/evil.py": b"x"}, GOOD, "drive letter"),
        ({**GOOD, "other/x.py": b"x"}, GOOD, "member 'other/x.py': outside the declared modules"),
        ({**GOOD, "mod/extra.py": b"x"}, GOOD, "member 'mod/extra.py': not listed in release-manifest.json"),
        ({**GOOD, "mod/models.py": b"X = 666\n"}, {**GOOD, "mod/models.py": b"X = 999\n"},
         "member 'mod/models.py': sha256 [0-9a-f]{64} differs from release-manifest.json"),
        ({"mod/__manifest__.py": GOOD["mod/__manifest__.py"]}, GOOD, "member 'mod/models.py' is listed .* but missing"),
    ],
)
def test_extract_refuses_malicious_packages(tmp_path, members, listed, message):
    package = forge(tmp_path / "evil.zip", members, listed)
    target = tmp_path / "target"
    os.makedirs(target / "kept")
    with pytest.raises(PackageError, match=message):
        safe_extract(package, target)
    assert os.listdir(target) == ["kept"]  # nothing half-written, the old folder untouched
    assert sorted(os.listdir(tmp_path)) == ["evil.zip", "target"]
    assert not (tmp_path / "evil.py").exists()


def test_extract_refuses_symlinks_duplicates_and_oversize(tmp_path):
    target = tmp_path / "target"
    linked = forge(tmp_path / "link.zip", {**GOOD, "mod/link.py": b"/etc/passwd"}, symlinks={"mod/link.py"})
    with pytest.raises(PackageError, match="member 'mod/link.py': symbolic link"):
        safe_extract(linked, target)
    with pytest.warns(UserWarning, match="Duplicate name"):
        twice = forge(tmp_path / "twice.zip", [*GOOD.items(), ("mod/models.py", b"X = 1\n")], GOOD)
    with pytest.raises(PackageError, match="member 'mod/models.py': duplicate member"):
        safe_extract(twice, target)
    big = forge(tmp_path / "big.zip", {**GOOD, "mod/big.bin": b"\0" * 4096})
    with pytest.raises(PackageError, match="member 'mod/big.bin': the package expands past the limit of 1000 bytes"):
        safe_extract(big, target, max_bytes=1000)
    assert not target.exists()  # not even created for a refused package
    with pytest.raises(PackageError, match="not a readable zip file"):
        safe_extract(write(str(tmp_path), "junk.zip", "not a zip"), target)


def test_a_malformed_release_manifest_names_the_field(tmp_path):
    package = forge(tmp_path / "ok.zip", GOOD)
    with zipfile.ZipFile(package) as archive:
        release = json.loads(archive.read(MANIFEST_NAME))
    for field, value, message in [
        ("format", 2, "format: must be 1, not 2"),
        ("version", "1.0", "version: version '1.0': not a SemVer version"),
        ("modules", {"mod": {"version": "18.0.1.0.0", "checksum": "x", "files": 2}}, "modules.mod.checksum: must be 40"),
        ("files", [{**release["files"][0], "path": "../x.py"}], r"files\[0\].path: '../x.py': '..' component"),
    ]:
        with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
            archive.writestr(MANIFEST_NAME, json.dumps({**release, field: value}))
        with pytest.raises(PackageError, match=f"bad.zip: release-manifest.json: {message}"):
            read_package_manifest(tmp_path / "bad.zip")


def test_a_lying_manifest_checksum_is_caught_after_extraction(tmp_path):
    # Every sha256 matches, but the module checksum the plan relies on was forged.
    package = forge(tmp_path / "forged.zip", GOOD)
    with pytest.raises(PackageError, match="module mod: its files give checksum"):
        safe_extract(package, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_upgrade_plan_and_its_digest(addons, tmp_path):
    manifest = build_package(addons, ["sale_extra", "crm_extra"], "1.0.0", COMMIT, tmp_path / "r.zip")["manifest"]
    sale = manifest["modules"]["sale_extra"]
    installed = {"sale_extra": {"version": sale["version"], "checksum": "f" * 40}, "legacy": {"checksum": "0" * 40}}
    plan = upgrade_plan(installed, manifest)
    assert plan == {"install": ["crm_extra"], "upgrade": ["sale_extra"], "unchanged": []}
    installed["sale_extra"]["checksum"] = sale["checksum"]
    same = upgrade_plan(installed, manifest)
    assert same == {"install": ["crm_extra"], "upgrade": [], "unchanged": ["sale_extra"]}
    assert plan_digest(plan) != plan_digest(same)
    assert plan_digest(same) == plan_digest(json.loads(json.dumps(same)))
    assert len(plan_digest(plan)) == 64
