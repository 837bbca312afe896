"""Where the rules of an approval policy stand after some votes (engine.approval.policy)."""

from influencegen_release.engine.approval.policy import APPROVE, REJECT, Vote, standing

POLICY = {"rules": [{"group": "qa_lead", "quorum": 1}, {"group": "cab_member", "quorum": 2}], "order": "sequential"}


def test_standing_counts_each_rule_and_says_which_is_open():
    assert [(s["role"], s["approved"], s["quorum"], s["open"]) for s in standing(POLICY, [])] == [
        ("qa_lead", 0, 1, True),
        ("cab_member", 0, 2, False),
    ]
    votes = [Vote(1, "qa_lead", APPROVE), Vote(2, "cab_member", APPROVE), Vote(3, "cab_member", REJECT)]
    qa, cab = standing(POLICY, votes)
    assert (qa["approved"], qa["open"], qa["voters"]) == (1, False, [1])
    assert (cab["approved"], cab["rejected"], cab["open"], cab["voters"]) == (1, 1, True, [2, 3])
