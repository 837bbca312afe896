"""``paths`` triggers: GitHub's filter patterns, and what a push changed as the mirror sees it
(pushes, new branches against their merge-base, force-pushes), with the decision they give."""

import os

import git
import pytest

from influencegen_release.engine.source.git_source import Comparison, GitSourceError, compare_push
from influencegen_release.engine.source.paths import PatternError, compile_patterns, matching_paths, path_matches
from influencegen_release.engine.source.push import paths_decision


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("addons/**", "addons/sale_extra/models/sale.py", True),
        ("addons/**", "addons/README.md", True),
        ("addons/**", "README.md", False),
        ("addons/**", "other/addons/x.py", False),
        ("*.py", "setup.py", True),
        ("*.py", "pkg/setup.py", False),  # '*' never crosses '/'
        ("**.py", "pkg/deep/setup.py", True),
        ("**/Dockerfile", "Dockerfile", True),  # '**/' also matches nothing
        ("**/Dockerfile", "images/web/Dockerfile", True),
        ("**/Dockerfile", "images/Dockerfile.dev", False),
        ("docker/*", "docker/entry.sh", True),
        ("docker/*", "docker/conf/app.ini", False),
        ("docs?/x.md", "doc/x.md", True),  # GitHub: '?' makes the character before it optional
        ("docs?/x.md", "docs/x.md", True),
        ("docs?/x.md", "docsx/x.md", False),
        ("v+.txt", "vvv.txt", True),
        ("file[0-9].txt", "file7.txt", True),
        ("file[0-9].txt", "filex.txt", False),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
        ("addons/*/__manifest__.py", "addons/sale/__manifest__.py", True),
        ("addons/*/__manifest__.py", "addons/__manifest__.py", False),
    ],
)
def test_github_filter_patterns(pattern, path, expected):
    assert path_matches([pattern], path) is expected


def test_the_last_matching_pattern_decides():
    patterns = ["addons/**", "!addons/**/*.md", "addons/keep/README.md"]
    files = ["addons/a/x.py", "addons/a/README.md", "addons/keep/README.md", "README.md"]
    assert matching_paths(patterns, files) == ["addons/a/x.py", "addons/keep/README.md"]
    assert not path_matches(["!addons/**"], "addons/x.py"), "an exclusion alone selects nothing"


@pytest.mark.parametrize("pattern", ["?x", "a/**?", "file[.txt", "x\\", "!"])
def test_bad_patterns_say_why(pattern):
    with pytest.raises(PatternError) as caught:
        compile_patterns([pattern])
    message = str(caught.value)
    assert pattern.lstrip("!") in message or "empty" in message, message


def test_decision_names_files_patterns_and_basis():
    push = Comparison(("README.md",), "a" * 40, "push")
    start, reason = paths_decision(["addons/**"], push)
    assert not start
    assert reason == f"paths addons/** match none of the 1 changed file(s) since {'a' * 12}: README.md"
    start, reason = paths_decision(["addons/**"], Comparison(("addons/x.py", "addons/y.py", "README.md"), "b" * 40, "new-branch", branch="main"))
    assert start and reason.startswith("addons/x.py and 1 more of 3 changed file(s) since the merge-base bbbbbbbbbbbb with main")
    start, reason = paths_decision(["addons/**"], Comparison(None, "c" * 40, "force-push", "the previous head cccccccccccc is no longer in the mirror"))
    assert (start, reason) == (True, "paths not checked (the previous head cccccccccccc is no longer in the mirror)")
    assert paths_decision(["addons/**"], Comparison((), "d" * 40, "push"))[0] is False, "an empty push changes nothing"


# -- the changes of real pushes, read through a bare mirror -------------------------------------
@pytest.fixture
def origin(tmp_path):
    repo = git.Repo.init(tmp_path / "origin", initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    return repo


def commit(repo, files, message, remove=()):
    for path, text in files.items():
        target = os.path.join(repo.working_tree_dir, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
    if files:
        repo.index.add(list(files))
    if remove:
        repo.index.remove(list(remove), working_tree=True)
    return repo.index.commit(message).hexsha


def test_push_new_branch_and_force_push_against_the_mirror(origin, tmp_path):
    url, mirrors = origin.working_tree_dir, str(tmp_path / "mirrors")
    base = commit(origin, {"README.md": "hi\n", "addons/a/x.py": "x = 1\n"}, "base")
    docs = commit(origin, {"README.md": "hello\n"}, "docs")
    # A push compares the two heads.
    compared = compare_push(url, "refs/heads/main", docs, base, "main", mirrors)
    assert (compared.files, compared.base, compared.how) == (("README.md",), base, "push")
    # The default branch without a previous commit (first push, the CLI without --before): nothing to compare.
    first = compare_push(url, "refs/heads/main", docs, "", "main", mirrors)
    assert first.files is None and "no previous commit" in first.reason
    # A new branch: its changes since the merge-base with main, whatever main did since.
    origin.git.checkout("-b", "feature/x", base)
    feature = commit(origin, {"addons/a/y.py": "y = 2\n"}, "feature")
    moved = compare_push(url, "refs/heads/feature/x", feature, "", "main", mirrors)
    assert (moved.files, moved.base, moved.how, moved.branch) == (("addons/a/y.py",), base, "new-branch", "main")
    # A rename counts as both paths; a deletion as its path.
    os.makedirs(os.path.join(url, "lib"))
    origin.git.mv("addons/a/x.py", "lib/x.py")
    renamed = origin.index.commit("move").hexsha
    assert set(compare_push(url, "refs/heads/feature/x", renamed, feature, "main", mirrors).files) == {"addons/a/x.py", "lib/x.py"}
    # A force-push the mirror saw the old head of: compared with that old head.
    origin.git.reset("--hard", base)
    rewritten = commit(origin, {"docs/guide.md": "guide\n"}, "rewritten")
    forced = compare_push(url, "refs/heads/feature/x", rewritten, renamed, "main", mirrors)
    assert forced.how == "force-push" and forced.base == renamed
    assert set(forced.files) == {"lib/x.py", "addons/a/x.py", "addons/a/y.py", "docs/guide.md"}
    # An old head the mirror never had (rewritten before it was fetched): not compared, and why.
    unseen = commit(origin, {"z.txt": "z\n"}, "unseen")
    origin.git.reset("--hard", base)
    again = commit(origin, {"w.txt": "w\n"}, "again")
    gone = compare_push(url, "refs/heads/feature/x", again, unseen, "main", mirrors)
    assert gone.files is None and gone.how == "force-push" and "no longer in the mirror" in gone.reason
    # A commit the repository does not have is an error the caller reports.
    with pytest.raises(GitSourceError):
        compare_push(url, "refs/heads/main", "f" * 40, base, "main", mirrors)


def test_an_unrelated_history_is_not_compared(origin, tmp_path):
    url, mirrors = origin.working_tree_dir, str(tmp_path / "mirrors")
    commit(origin, {"a.txt": "a\n"}, "main")
    origin.git.checkout("--orphan", "pages")
    orphan = commit(origin, {"index.html": "<p>\n"}, "pages")
    compared = compare_push(url, "refs/heads/pages", orphan, "", "main", mirrors)
    assert compared.files is None and "shares no history with main" in compared.reason
