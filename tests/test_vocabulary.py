"""The product's vocabulary: one order of severities, roles and their groups, tiers, terminal states."""

import json
import os

import pytest

from influencegen_release.engine import vocabulary
from influencegen_release.engine.pipeline import spec
from influencegen_release.engine.quality import reports
from influencegen_release.engine.vocabulary import (
    MOST_SEVERE_FIRST,
    ROLES,
    SEVERITIES,
    TIER_SEQUENCE,
    TIERS,
    at_least,
    count_by_severity,
    is_at_least,
    role_group,
    severity_rank,
)


def test_severities_in_one_order_least_severe_first():
    assert SEVERITIES == ("info", "low", "medium", "high", "critical")
    assert MOST_SEVERE_FIRST == ("critical", "high", "medium", "low", "info")
    # The pipeline format offers the same words, not a copy in another order.
    assert spec.SEVERITIES is SEVERITIES


def test_severity_rank_is_the_index_in_the_one_order():
    assert [severity_rank(s) for s in SEVERITIES] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        severity_rank("urgent")


@pytest.mark.parametrize(
    ("severity", "threshold", "expected"),
    [
        ("critical", "high", True),
        ("high", "high", True),
        ("medium", "high", False),
        ("info", "info", True),
        ("info", "low", False),
        ("low", "info", True),
    ],
)
def test_is_at_least(severity, threshold, expected):
    assert is_at_least(severity, threshold) is expected


def test_at_least_lists_the_severities_at_or_above_most_severe_first():
    assert at_least("critical") == ("critical",)
    assert at_least("high") == ("critical", "high")
    assert at_least("info") == MOST_SEVERE_FIRST
    with pytest.raises(ValueError):
        at_least("urgent")


def test_count_by_severity_counts_every_severity_most_severe_first():
    counts = count_by_severity(["low", "critical", "low", "info"])
    assert counts == {"critical": 1, "high": 0, "medium": 0, "low": 2, "info": 1}
    assert list(counts) == list(MOST_SEVERE_FIRST)
    assert count_by_severity(iter(["high"]))["high"] == 1
    assert set(count_by_severity([]).values()) == {0}


def test_report_parsers_judge_severities_from_the_one_vocabulary():
    def n8n_report(severity):
        item = {"file": "wf.json", "rule": "r", "severity": severity, "message": "m"}
        return reports.parse_report("n8n-structure", json.dumps([item]).encode(), "reports/n8n.json")

    assert [n8n_report(s).findings[0].severity for s in SEVERITIES] == list(SEVERITIES)
    with pytest.raises(reports.ReportError, match="severity must be one of critical, high, medium, low, info"):
        n8n_report("urgent")


def test_roles_and_their_groups():
    assert ROLES[0] == "user" and ROLES[-1] == "release_manager"
    assert role_group("qa_lead") == "influencegen_release.group_release_qa_lead"
    assert role_group("cab_member") == vocabulary.ROLE_GROUP % "cab_member"
    with pytest.raises(ValueError, match="unknown role 'cab'"):
        role_group("cab")
    assert spec.ROLES is ROLES


def test_every_role_has_its_group_in_the_security_file():
    security = os.path.join(os.path.dirname(vocabulary.__file__), "..", "security", "release_security.xml")
    with open(security, encoding="utf-8") as handle:
        text = handle.read()
    for role in ROLES:
        xml_id = role_group(role).split(".", 1)[1]
        assert f'<record id="{xml_id}" model="res.groups">' in text


def test_tiers_in_promotion_order():
    assert TIERS == ("development", "staging", "production")
    assert TIER_SEQUENCE == {"development": 10, "staging": 20, "production": 30}
    assert sorted(TIERS, key=TIER_SEQUENCE.get) == list(TIERS)


def test_terminal_states():
    assert vocabulary.RUN_TERMINAL == ("succeeded", "failed", "cancelled")
    assert set(vocabulary.RUN_TERMINAL) < set(vocabulary.JOB_DONE_STATES)
    assert "skipped" in vocabulary.JOB_DONE_STATES
    assert vocabulary.DEPLOYMENT_SUCCESSFUL == ("deployed", "unchanged")
