"""Release versions from real Git tags, Odoo manifest versions and the no-going-back rule."""

import git
import pytest

from influencegen_release.engine.source.versioning import (
    VersionError,
    check_release,
    manifest_version,
    semver_key,
    version_at,
)


@pytest.fixture
def repo(tmp_path):
    repo = git.Repo.init(tmp_path / "origin", initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    return repo


def commit(repo, message):
    target = repo.working_tree_dir + "/history.txt"
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(message + "\n")
    repo.index.add([target])
    return repo.index.commit(message).hexsha


def test_without_tags_the_version_counts_every_commit(repo):
    commit(repo, "one")
    commit(repo, "two")
    head = commit(repo, "three")
    assert version_at(repo, head) == f"0.1.0-dev.3+{head[:12]}"


def test_a_tagged_commit_is_its_release_and_the_highest_tag_wins(repo):
    commit(repo, "one")
    tagged = commit(repo, "two")
    repo.create_tag("v1.2.3")
    assert version_at(repo, tagged) == "1.2.3"
    # Numbers compare as numbers: 1.10.0 is higher than 1.9.0; annotated tags count too.
    repo.create_tag("v1.9.0")
    repo.create_tag("v1.10.0", message="release 1.10.0")
    assert version_at(repo, "main") == "1.10.0"


def test_commits_after_a_tag_are_a_pre_release_of_the_next_patch(repo):
    commit(repo, "one")
    repo.create_tag("v1.2.3", message="annotated")
    commit(repo, "two")
    head = commit(repo, "three")
    version = version_at(repo, head)
    assert version == f"1.2.4-dev.2+{head[:12]}"
    assert semver_key("1.2.3") < semver_key(version) < semver_key("1.2.4")


def test_the_nearest_tag_counts_and_tags_off_the_history_do_not(repo, tmp_path):
    commit(repo, "one")
    repo.create_tag("v2.0.0")
    commit(repo, "two")
    repo.create_tag("v1.5.0")  # nearer, so it wins even though it is lower
    side = repo.create_head("side")
    side.checkout()
    commit(repo, "on a side branch")
    repo.create_tag("v9.0.0")
    repo.heads.main.checkout()
    head = commit(repo, "three")
    assert version_at(repo, head) == f"1.5.1-dev.1+{head[:12]}"
    # A bare mirror gives the same answer.
    mirror = git.Repo.clone_from(repo.working_tree_dir, tmp_path / "mirror.git", mirror=True)
    assert version_at(mirror, head) == f"1.5.1-dev.1+{head[:12]}"


def test_tags_that_are_not_strict_v_semver_are_ignored(repo):
    commit(repo, "one")
    for name in ("1.5.0", "v1.2", "v01.2.3", "release-3", "v2.0.0-rc.1", "v1.2.3.4", "V1.0.0"):
        repo.create_tag(name)
    head = commit(repo, "two")
    assert version_at(repo, head) == f"0.1.0-dev.2+{head[:12]}"
    assert version_at(repo, "HEAD~1").startswith("0.1.0-dev.1+")


def test_an_unknown_commit_is_refused(repo):
    commit(repo, "one")
    with pytest.raises(VersionError, match="unknown commit 'f{40}'"):
        version_at(repo, "f" * 40)


def test_semver_ordering_follows_semver_org():
    ordered = [
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
        "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1-dev.2+abc", "1.0.1-dev.10+abc", "1.0.1",
        "1.2.0", "1.10.0", "2.0.0",
    ]
    shuffled = ordered[1::2] + ordered[::2]
    assert sorted(shuffled, key=semver_key) == ordered
    assert semver_key("1.0.0+build.1") == semver_key("1.0.0+build.2")
    for bad in ("1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", None):
        with pytest.raises(VersionError, match="not a SemVer version"):
            semver_key(bad)


def test_manifest_versions_are_read_without_running_the_manifest():
    text = "# -*- coding: utf-8 -*-\n{\n    'name': 'Sale extra',\n    'version': '18.0.1.2.0',\n}\n"
    assert manifest_version(text, "sale_extra/__manifest__.py") == "18.0.1.2.0"
    cases = {
        "{'name': 'x',": "m/__manifest__.py: not valid Python",
        "{'version': __import__('os').getcwd()}": "m/__manifest__.py: not a literal dict",
        "dict(version='18.0.1.0.0')": "m/__manifest__.py: not a literal dict",
        "['18.0.1.0.0']": "m/__manifest__.py: not a dict but a list",
        "{'name': 'x'}": "m/__manifest__.py: version: missing",
        "{'version': 18.0}": "m/__manifest__.py: version: must be a string",
        "{'version': '1.0'}": "m/__manifest__.py: version: '1.0' is not of the form 18.0.x.y.z",
        "{'version': '17.0.1.0.0'}": "m/__manifest__.py: version: '17.0.1.0.0' is not of the form 18.0.x.y.z",
        "{'version': '18.0.1.0'}": "m/__manifest__.py: version: '18.0.1.0' is not of the form 18.0.x.y.z",
    }
    for text, message in cases.items():
        with pytest.raises(VersionError) as caught:
            manifest_version(text, "m/__manifest__.py")
        assert str(caught.value).startswith(message), text


def test_a_release_whose_module_went_backwards_is_refused():
    previous = {"sale_extra": "18.0.1.3.0", "crm_extra": "18.0.2.0.0", "old_module": "18.0.1.0.0"}
    modules = {"sale_extra": "18.0.1.2.0", "crm_extra": "18.0.2.0.0", "new_module": "18.0.1.0.0"}
    assert check_release(modules, previous) == ["module sale_extra: 18.0.1.2.0 is older than the deployed 18.0.1.3.0"]
    # Equal (the checksum decides the upgrade), higher and new modules are fine.
    assert check_release({"sale_extra": "18.0.1.10.0", "crm_extra": "18.0.2.0.0"}, previous) == []
    assert check_release(modules, {}) == []
    assert check_release({"sale_extra": "18.0.1.3.0"}, {"sale_extra": "unknown"}) == [
        "module sale_extra: the deployed version 'unknown' cannot be compared"
    ]
