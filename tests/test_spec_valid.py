import pathlib
import re

import pytest

from influencegen_release.engine.pipeline.spec import checksum, load_pipeline_file, read_pipeline_file, ref_matches

from .conftest import ROOT

SEED = {"PL-ODOO-MOD": 8, "PL-N8N-WF": 7, "PL-IAC": 6, "PL-CONTAINER-IMG": 4}


def seed_files():
    return sorted((ROOT / "pipelines").glob("*.yml"))


def test_the_four_seed_pipelines_load_with_their_stage_counts():
    loaded = {}
    for path in seed_files():
        for pipeline in read_pipeline_file(path).pipelines:
            loaded[pipeline["code"]] = len(pipeline["stages"])
    assert loaded == SEED


@pytest.mark.parametrize("path", seed_files(), ids=lambda p: p.name)
def test_every_seed_task_is_runnable_and_every_gate_is_decidable(path):
    for pipeline in read_pipeline_file(path).pipelines:
        for stage in pipeline["stages"]:
            for task in stage["tasks"]:
                assert task["mode"] in ("run", "uses", "checklist")
                if task["mode"] == "run":
                    assert task["image"] and task["run"], task["name"]
                    assert task["timeout"] > 0 and task["memory"] > 0 and task["cpus"] > 0 and task["pids"] > 0
            for gate in stage["gates"]:
                assert gate["criteria"] or (gate["type"] == "manual" and stage["approval"]), gate["name"]


def test_odoo_pipeline_details_follow_the_seed():
    (pipeline,) = read_pipeline_file(ROOT / "pipelines" / "pl-odoo-mod.yml").pipelines
    stages = {s["key"]: s for s in pipeline["stages"]}
    sast_gate = next(g for g in stages["quality"]["gates"] if g["name"] == "SAST Pass")
    assert sast_gate["criteria"] == [
        {
            "check": "findings",
            "from": ["sast"],
            "severity": "high",
            "new": True,
            "max": 0,
            "tools": [],
            "rules": [],
            "unknown": "fail",
        }
    ]
    assert stages["deploy_staging"]["approval"]["rules"] == [
        {"group": "qa_lead", "quorum": 1},
        {"group": "product_owner", "quorum": 1},
    ]
    production = stages["deploy_prod"]
    assert production["approval"]["rules"] == [{"group": "cab_member", "quorum": 2}]
    assert production["approval"]["exclude"] == ["author", "triggerer"]
    assert production["approval"]["window"] is True
    assert production["environment"] == "odoo-prod"
    assert pipeline["rollback"]["strategy"] == "redeploy_previous"
    assert pipeline["rollback"]["restore_database"] is True
    sast = next(t for t in stages["quality"]["tasks"] if t["key"] == "sast")
    assert (sast["timeout"], sast["memory"], sast["network"]) == (900, 1024, "none")
    assert sast["requirements"] == ["REQ-SEC-WVULN-001"]


def test_checksum_ignores_comments_and_layout_but_not_content():
    text = (ROOT / "pipelines" / "pl-iac.yml").read_text()
    base = checksum(load_pipeline_file(text, "a.yml").pipelines)
    reformatted = "# a comment\n" + text.replace("timeout: 30m", "timeout: 1800  # seconds")
    assert checksum(load_pipeline_file(reformatted, "b.yml").pipelines) == base
    changed = text.replace("timeout: 30m", "timeout: 20m")
    assert checksum(load_pipeline_file(changed, "a.yml").pipelines) != base


def test_documented_example_is_valid():
    doc = (ROOT / "docs" / "pipeline-format.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", doc, re.S).group(1)
    parsed = load_pipeline_file(example, "docs/pipeline-format.md")
    assert [p["code"] for p in parsed.pipelines] == ["PL-EXAMPLE"]


@pytest.mark.parametrize(
    ("patterns", "ref", "expected"),
    [
        (["main"], "refs/heads/main", True),
        (["feature/*"], "refs/heads/feature/x", True),
        (["release/*"], "refs/heads/release", False),
        (["main"], "main", True),
        (["v*"], "refs/tags/v1.2.0", True),
    ],
)
def test_ref_matching(patterns, ref, expected):
    assert ref_matches(patterns, ref) is expected


def test_engine_never_imports_odoo():
    engine = ROOT / "addons" / "influencegen_release" / "engine"
    offenders = [
        str(p.relative_to(ROOT))
        for p in engine.rglob("*.py")
        if re.search(r"^\s*(import odoo|from odoo)", p.read_text(), re.M)
    ]
    assert offenders == []


def test_docs_name_every_top_level_key():
    doc = pathlib.Path(ROOT / "docs" / "pipeline-format.md").read_text()
    for key in (
        "environments",
        "triggers",
        "defaults",
        "stages",
        "tasks",
        "gates",
        "approval",
        "rollback",
        "notifications",
    ):
        assert f"`{key}`" in doc, key
