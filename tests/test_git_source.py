"""Reading pipeline files from real Git repositories through a bare mirror."""

import git
import pytest

from influencegen_release.engine.source.git_source import (
    GitSourceError,
    archive,
    commits_between,
    mirror_path,
    read_file_at,
)


@pytest.fixture
def origin(tmp_path):
    repo = git.Repo.init(tmp_path / "origin", initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    return repo


def commit(repo, path, text, message):
    target = repo.working_tree_dir + "/" + path
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(text)
    repo.index.add([target])
    return repo.index.commit(message).hexsha


def test_reads_a_file_at_a_branch_and_follows_new_commits(origin, tmp_path):
    mirrors = str(tmp_path / "mirrors")
    first = commit(origin, "pipeline.yml", "version: 1\n", "first")
    assert read_file_at(origin.working_tree_dir, "main", "pipeline.yml", mirrors) == ("version: 1\n", first)
    second = commit(origin, "pipeline.yml", "version: 2\n", "second")
    # The branch moved: reading it by name fetches the mirror again.
    assert read_file_at(origin.working_tree_dir, "main", "pipeline.yml", mirrors) == ("version: 2\n", second)
    third = commit(origin, "pipeline.yml", "version: 3\n", "third")
    # A sha the mirror lacks is fetched too.
    assert read_file_at(origin.working_tree_dir, third, "pipeline.yml", mirrors) == ("version: 3\n", third)
    assert read_file_at(origin.working_tree_dir, first, "pipeline.yml", mirrors)[0] == "version: 1\n"
    assert mirror_path(origin.working_tree_dir, mirrors).endswith(".git")


def test_unknown_ref_missing_file_and_unreachable_repository(origin, tmp_path):
    mirrors = str(tmp_path / "mirrors")
    commit(origin, "pipeline.yml", "version: 1\n", "first")
    with pytest.raises(GitSourceError, match="unknown ref 'nope'"):
        read_file_at(origin.working_tree_dir, "nope", "pipeline.yml", mirrors)
    with pytest.raises(GitSourceError, match="'other.yml' does not exist at main"):
        read_file_at(origin.working_tree_dir, "main", "other.yml", mirrors)
    with pytest.raises(GitSourceError, match="cannot clone"):
        read_file_at(str(tmp_path / "no-such-repo"), "main", "pipeline.yml", mirrors)


def test_symbolic_links_inside_the_repository_are_followed(origin, tmp_path):
    import os

    mirrors = str(tmp_path / "mirrors")
    root = origin.working_tree_dir
    os.makedirs(f"{root}/addons/data/pipelines")
    commit(origin, "addons/data/pipelines/p.yml", "version: 1\n", "real file")
    os.symlink("addons/data/pipelines", f"{root}/pipelines")
    os.symlink("/etc/passwd", f"{root}/escape.yml")
    origin.index.add([f"{root}/pipelines", f"{root}/escape.yml"])
    origin.index.commit("links")
    assert read_file_at(root, "main", "pipelines/p.yml", mirrors)[0] == "version: 1\n"
    with pytest.raises(GitSourceError, match="symbolic link leaving the repository"):
        read_file_at(root, "main", "escape.yml", mirrors)
    with pytest.raises(GitSourceError, match="is a directory"):
        read_file_at(root, "main", "pipelines", mirrors)


def test_concurrent_jobs_export_a_commit_the_mirror_lacks(origin, tmp_path):
    """Eight jobs of one stage need the same new commit at once: each gets its files (one
    fetch per mirror at a time, the others find the commit there), from the first clone on."""
    import io
    import tarfile
    from concurrent.futures import ThreadPoolExecutor

    mirrors = str(tmp_path / "mirrors")
    url = origin.working_tree_dir

    def export(sha):
        buffer = io.BytesIO()
        archive(url, sha, mirrors, buffer)
        buffer.seek(0)
        with tarfile.open(fileobj=buffer) as tar:
            return tar.extractfile("pipeline.yml").read().decode()

    for round_ in range(3):  # round 0 clones; the next ones fetch a commit the mirror lacks
        sha = commit(origin, "pipeline.yml", f"version: {round_}\n", f"round {round_}")
        for extra in range(3):  # several new refs, so each fetch has refs to update
            origin.create_head(f"topic-{round_}-{extra}")
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _n, s=sha: export(s), range(8)))
        assert results == [f"version: {round_}\n"] * 8


def test_commits_between_two_versions_newest_first(origin, tmp_path):
    mirrors = str(tmp_path / "mirrors")
    first = commit(origin, "a.txt", "1", "first")
    second = commit(origin, "a.txt", "2", "Fix the invoice total")
    third = commit(origin, "a.txt", "3", "Add a smoke check\n\nwith a body")
    assert commits_between(origin.working_tree_dir, first, third, mirrors) == [
        (third, "Add a smoke check", "Dev"),
        (second, "Fix the invoice total", "Dev"),
    ]
    assert [c[0] for c in commits_between(origin.working_tree_dir, None, third, mirrors, limit=2)] == [third, second]
    with pytest.raises(GitSourceError, match="unknown ref"):
        commits_between(origin.working_tree_dir, "f" * 40, third, mirrors)
