"""Decide a human approval request from its policy and its votes (no Odoo here).

A policy is the ``approval`` mapping of a stage in the pipeline file (see spec.py): rules
``[{group, quorum}]`` (groups are role names), ``order`` (``parallel`` or ``sequential``:
every rule waits for the ones before it), ``reject_on_any``. A vote counts for exactly one
rule: the first open rule, in rule order, whose role the voter holds. Each person votes once.

``open_roles`` says whose vote is awaited now; ``assign_role`` where a voter's vote counts;
``outcome`` what the votes decide: ``pending``, ``approved`` or ``rejected``.
"""

from collections import Counter
from dataclasses import dataclass

APPROVE = "approve"
REJECT = "reject"
DECISIONS = (APPROVE, REJECT)


@dataclass(frozen=True)
class Vote:
    user: int
    role: str
    decision: str


class PolicyError(Exception):
    """A vote the policy does not allow; the message says why, for the voter."""


def _tally(votes, decision):
    return Counter(v.role for v in votes if v.decision == decision)


def open_roles(policy, votes):
    """Roles whose approvals are still awaited, in rule order; sequential policies expose
    only the first one."""
    approvals = _tally(votes, APPROVE)
    pending = [r["group"] for r in policy["rules"] if approvals[r["group"]] < r["quorum"]]
    if policy.get("order") == "sequential":
        return pending[:1]
    return pending


def assign_role(policy, votes, user, user_roles, decision=APPROVE):
    """The role ``user`` (holding ``user_roles``) votes for now, or raise PolicyError.

    With ``reject_on_any``, any approver may stop the request at any time, even before
    their turn in a sequential policy."""
    if any(v.user == user for v in votes):
        raise PolicyError("you have already decided on this request")
    rule_roles = [r["group"] for r in policy["rules"]]
    held = [role for role in rule_roles if role in user_roles]
    if not held:
        raise PolicyError(f"you are not among the approvers of this request ({', '.join(rule_roles)})")
    if decision == REJECT and policy.get("reject_on_any", True):
        return held[0]
    waiting = open_roles(policy, votes)
    for role in waiting:
        if role in held:
            return role
    if policy.get("order") == "sequential" and waiting:
        raise PolicyError(f"the policy is sequential: {waiting[0]} decides first")
    raise PolicyError("the approvals your role gives are already complete")


def outcome(policy, votes, eligible):
    """``pending``, ``approved`` or ``rejected``.

    ``eligible`` maps each role to how many people may still vote for it in total (members
    minus those excluded by segregation of duties); without ``reject_on_any``, a request is
    rejected once some rule can no longer reach its quorum.
    """
    approvals, rejections = _tally(votes, APPROVE), _tally(votes, REJECT)
    if rejections and policy.get("reject_on_any", True):
        return "rejected"
    for rule in policy["rules"]:
        role = rule["group"]
        undecided = max(eligible.get(role, 0) - approvals[role] - rejections[role], 0)
        if approvals[role] + undecided < rule["quorum"]:
            return "rejected"
    if all(approvals[r["group"]] >= r["quorum"] for r in policy["rules"]):
        return "approved"
    return "pending"


def missing(policy, votes):
    """Human-readable list of what is still awaited, e.g. ``['cab_member 1/2']``."""
    approvals = _tally(votes, APPROVE)
    return [
        f"{r['group']} {approvals[r['group']]}/{r['quorum']}"
        for r in policy["rules"]
        if approvals[r["group"]] < r["quorum"]
    ]


def standing(policy, votes):
    """Where each rule stands, in rule order: ``[{role, quorum, approved, rejected, voters,
    open}]`` (``voters``: user ids who voted for it; ``open``: its approvals are awaited now)."""
    approvals, rejections = _tally(votes, APPROVE), _tally(votes, REJECT)
    waiting = open_roles(policy, votes)
    return [
        {
            "role": rule["group"],
            "quorum": rule["quorum"],
            "approved": approvals[rule["group"]],
            "rejected": rejections[rule["group"]],
            "voters": [v.user for v in votes if v.role == rule["group"]],
            "open": rule["group"] in waiting,
        }
        for rule in policy["rules"]
    ]
