"""A commit's src/ tar is made once and shared by the jobs that start from it; the volume's one
tar carries it beside the workspace."""

import io
import os
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

import git

from influencegen_release.engine.execution import job_files


def test_one_source_tar_per_commit_shared_by_concurrent_jobs_then_pruned(tmp_path):
    origin = git.Repo.init(tmp_path / "origin", initial_branch="main")
    with origin.config_writer() as config:
        config.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    (tmp_path / "origin" / "app.py").write_text("print('hi')\n", encoding="utf-8")
    origin.index.add([str(tmp_path / "origin" / "app.py")])
    sha = origin.index.commit("first").hexsha
    mirrors, folder = str(tmp_path / "mirrors"), str(tmp_path / "sources")

    def one(_):
        return job_files.shared_source_archive(origin.working_tree_dir, sha, mirrors, folder)

    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = set(pool.map(one, range(8)))
    assert paths == {os.path.join(folder, f"{sha}.tar")}
    assert sorted(os.listdir(folder)) == [f"{sha}.tar", f"{sha}.tar.lock"], "no partial file left"

    volume = io.BytesIO()
    with open(paths.pop(), "rb") as source:
        job_files.workspace_archive(volume, source=source)
    volume.seek(0)
    with tarfile.open(fileobj=volume) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile(members["src/app.py"]).read() == b"print('hi')\n"
    assert members["workspace"].uid == job_files.JOB_UID and members["src/app.py"].uid == 0

    assert job_files.prune_shared_sources(folder) == [], "used just now: kept"
    old = time.time() - job_files.SOURCE_KEPT_S - 1
    for name in os.listdir(folder):
        os.utime(os.path.join(folder, name), (old, old))
    assert sorted(job_files.prune_shared_sources(folder)) == [f"{sha}.tar", f"{sha}.tar.lock"]
