"""A finished job's outputs: declared reports parsed and summed, artifacts kept, missing or
unreadable files listed as problems, nothing read from outside the workspace."""

import pathlib

from influencegen_release.engine.execution import outputs

DATA = pathlib.Path(__file__).resolve().parent / "data" / "reports"


def task(reports=(), artifacts=()):
    return {"reports": [{"path": p, "format": f} for p, f in reports], "artifacts": list(artifacts)}


def workspace(tmp_path, files):
    for name, data in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return str(tmp_path)


def test_reports_then_artifacts_in_declared_order_with_findings_and_test_counts(tmp_path):
    junit = (DATA / "junit.xml").read_bytes()
    work = workspace(
        tmp_path,
        {"r/unit.xml": junit, "r/unit2.xml": junit, "r/bandit.json": (DATA / "bandit.json").read_bytes(), "dist/a.txt": b"a"},
    )
    summary = outputs.Summary()
    declared = task(
        [("r/bandit.json", "bandit-json"), ("r/unit.xml", "junit-xml"), ("r/unit2.xml", "junit-xml")], ["dist/a.txt"]
    )
    found = list(outputs.collect(work, declared, summary))
    assert [(o.path, o.kind) for o in found] == [
        ("r/bandit.json", "report"),
        ("r/unit.xml", "report"),
        ("r/unit2.xml", "report"),
        ("dist/a.txt", "other"),
    ]
    assert found[0].findings and all(f.tool == "bandit" for f in found[0].findings)
    assert found[1].findings == [] and found[3].findings is None
    assert found[3].data == b"a"
    assert summary.tests == {"total": 6, "failed": 2, "errors": 0, "skipped": 2}, "counts add up over reports"
    assert summary.failing == ["t.test_sample.test_fail"] * 2
    assert summary.problems == [] and not any(o.error for o in found)


def test_missing_unreadable_and_escaping_files_are_problems(tmp_path):
    work = workspace(tmp_path / "ws", {"r/bad.xml": b"<not xml", "ok.txt": b"fine"})
    (tmp_path / "secret.txt").write_bytes(b"outside")
    summary = outputs.Summary()
    declared = task([("r/none.xml", "junit-xml"), ("r/bad.xml", "junit-xml")], ["../secret.txt", "ok.txt"])
    found = list(outputs.collect(work, declared, summary, max_bytes=1024))
    missing, bad, outside, ok = found
    assert missing.error == "'r/none.xml' was not produced" and missing.data == b""
    assert bad.error == "" and bad.data == b"<not xml" and bad.findings is None, "kept, but not judged"
    assert "outside the workspace" in outside.error and outside.data == b""
    assert ok.data == b"fine"
    assert summary.problems[0] == missing.error
    assert summary.problems[1].startswith("r/bad.xml")
    assert summary.problems[2] == outside.error
    assert summary.tests == dict.fromkeys(outputs.TEST_COUNTS, 0)


def test_files_over_the_limit_are_not_read(tmp_path):
    work = workspace(tmp_path, {"big.bin": b"x" * 2048})
    summary = outputs.Summary()
    [big] = outputs.collect(work, task(artifacts=["big.bin"]), summary, max_bytes=1024)
    assert "over the 1024-byte limit" in big.error and big.data == b""
    assert summary.problems == [big.error]
