"""The product's vocabulary: the words the engine, the pipeline format and the models share.

Every list of severities, roles, tiers, environment kinds or terminal states is defined here
once; the pipeline format (``pipeline/spec.py``), the report parsers, the gates and the models
import it instead of writing their own.
"""

# -- severities ---------------------------------------------------------------------------------
# The one order: least severe first, so that a severity's index is its rank (the stored
# ``release.finding.severity_rank``) and "at least high" is a comparison of ranks.
SEVERITIES = ("info", "low", "medium", "high", "critical")
MOST_SEVERE_FIRST = tuple(reversed(SEVERITIES))


def severity_rank(severity):
    """0 for ``info`` up to 4 for ``critical``; an unknown severity raises ValueError."""
    return SEVERITIES.index(severity)


def is_at_least(severity, threshold):
    """True when ``severity`` is ``threshold`` or more severe."""
    return severity_rank(severity) >= severity_rank(threshold)


def at_least(threshold):
    """The severities that are ``threshold`` or more severe, most severe first."""
    return MOST_SEVERE_FIRST[: MOST_SEVERE_FIRST.index(threshold) + 1]


def count_by_severity(severities):
    """``{severity: count}`` over every severity, most severe first (zero counts included)."""
    severities = list(severities)
    return {severity: severities.count(severity) for severity in MOST_SEVERE_FIRST}


# -- roles --------------------------------------------------------------------------------------
# The role keys of the pipeline format (approval rules, escalation, checklist confirmers,
# notification groups); each is the security group ``group_release_<role>`` of the addon.
ROLES = (
    "user",
    "developer",
    "qa_lead",
    "product_owner",
    "integration_lead",
    "devops_lead",
    "cab_member",
    "release_manager",
)
ROLE_GROUP = "influencegen_release.group_release_%s"


def role_group(role):
    """The XML id of the security group of ``role``; an unknown role raises ValueError."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (expected one of: {', '.join(ROLES)})")
    return ROLE_GROUP % role


# -- environments -------------------------------------------------------------------------------
KINDS = ("odoo", "n8n", "iac", "docker")  # one deployer per kind
TIERS = ("development", "staging", "production")  # the order a release is promoted in
TIER_SEQUENCE = {tier: 10 * (index + 1) for index, tier in enumerate(TIERS)}
# What a rollback does on an environment of each kind (its deployer's ``_rollback``): a pipeline
# whose deploy stages target that kind declares it as ``rollback.strategy``, or ``none``.
ROLLBACK_STRATEGY_OF_KIND = {"odoo": "redeploy_previous", "n8n": "redeploy_previous", "docker": "previous_image", "iac": "revert_and_reapply"}


# -- terminal states ----------------------------------------------------------------------------
RUN_TERMINAL = ("succeeded", "failed", "cancelled")  # a run that has ended: nothing left to cancel
JOB_DONE_STATES = ("succeeded", "failed", "cancelled", "skipped")  # a job that will not run (again)
DEPLOYMENT_SUCCESSFUL = ("deployed", "unchanged")  # deployment outcomes after which the artifact is what runs there
