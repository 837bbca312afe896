"""The pipeline format's own terms: its version, the choices of its keys, its built-in actions,
the patterns of codes, keys and references, and the default limits of a task.

The words it shares with the rest of the product (roles, tiers, environment kinds, severities)
are in ``engine/vocabulary.py``. The format is documented in docs/pipeline-format.md.
"""

import re

FORMAT_VERSION = 1
NETWORKS = ("none", "host")
TRIGGER_EVENTS = ("push", "tag", "manual", "schedule", "pipeline")
ROLLBACK_STRATEGIES = ("redeploy_previous", "revert_and_reapply", "previous_image", "none")
NOTIFY_EVENTS = (
    "build_failed",
    "validation_failed",
    "scan_failed",
    "plan_ready",
    "deploy_succeeded",
    "deploy_failed",
    "apply_succeeded",
    "apply_failed",
    "push_succeeded",
    "approval_requested",
    "run_succeeded",
    "run_failed",
)
CHANNELS = ("email", "slack")
EXCLUSIONS = ("author", "triggerer")
EVIDENCE = ("none", "uat")  # uat: an approval needs a passed UAT session of the run
CHECKLIST_CONFIRMERS = ("release_manager", "devops_lead")
REPORT_FORMATS = (
    "pylint-json",
    "flake8",
    "ruff-json",
    "bandit-json",
    "pip-audit-json",
    "junit-xml",
    "odoo-log",
    "json-syntax",
    "n8n-structure",
    "detect-secrets-json",
    "gitleaks-json",
    "checkov-json",
    "ansible-lint",
    "terraform-plan-json",
    "trivy-json",
)
# Built-in actions carried out by the product itself rather than by a command in a container.
ACTIONS = {
    "git.checkout": "export the run's exact commit into the job workspace",
    "artifact.version": "compute the SemVer version of the release from Git",
    "artifact.package": "package the sources into a versioned, checksummed artifact",
    "artifact.publish": "store the artifact, immutable, in the artifact repository",
    "odoo.deploy": "install or upgrade the changed modules on the target Odoo database",
    "odoo.migrate": "run the database migrations of the upgraded modules",
    "odoo.smoke": "smoke-check the target Odoo (health, versions, checksums, custom checks)",
    "n8n.deploy": "validate and push workflows to the target n8n through its public API",
    "n8n.validate": "check workflow JSON structure: unique node names, known keys, connections, triggers",
    "docker.info": "check that the runner's Docker engine answers (steps never get its socket)",
    "image.build": "build a container image from a Dockerfile",
    "image.tag": "tag the built image with the release version and commit",
    "registry.login": "log in to the container registry with the environment's credentials",
    "image.push": "push the tagged image to the container registry",
    "image.scan": "scan the built image with Trivy (its image named in the task) into findings",
    "image.deploy": "run the pushed image, by digest, as the environment's health-checked service",
    "iac.plan": "plan the infrastructure changes (ansible-playbook --check --diff, terraform plan) per environment",
    "iac.apply": "plan again, refuse a plan other than the approved one, and apply it to the stage's environment",
    "iac.validate": "compare the environment's gathered facts with another environment's (REQ-DI-ENVPAR)",
}
CREDENTIAL_REF = re.compile(r"^(env|file|param):[A-Za-z0-9_./-]+$")
CODE_RE = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
REQ_RE = re.compile(r"^REQ-[A-Z0-9-]+$")
DURATION_RE = re.compile(r"^(\d+)\s*([smh]?)$")
SIZE_RE = re.compile(r"^(\d+)\s*([mg]?)$", re.IGNORECASE)

DEFAULT_LIMITS = {"timeout": 1800, "cpus": 1.0, "memory": 1024, "pids": 256, "network": "none"}
