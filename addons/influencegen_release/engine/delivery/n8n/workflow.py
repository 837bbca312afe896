"""n8n workflow files: load, check the structure, normalise to what n8n's public API accepts.

A workflow is versioned and deployed in its *normalised* form: only the keys ``POST
/api/v1/workflows`` accepts (name, nodes, connections, settings), nodes reduced to the API's
node keys, no values n8n fills in by itself, so that a file and the copy n8n reads back
normalise to the same thing. ``staticData``, which the API also accepts, is left out: it is
runtime state n8n writes itself (schedule rules and registered webhooks on activation, poll
cursors on every run), so it is no part of a version, and pushing an old copy would rewind
the target's cursors. ``version_of`` hashes that form: the identity of a workflow version
whatever commit, tag or export it came from. The allowlists are n8n 2.8.4's
(``dist/public-api/v1/openapi.yml``; the API answers 400 to any other key).

Errors are ``Problem`` values that print as ``file: path: message``; ``rule`` and ``node`` let a
report (the ``n8n-structure`` format of quality/report_json.py) fingerprint them.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass

from .secret_scan import SecretFinding, scan_secrets  # noqa: F401  (part of this module's interface)

# Pushed to n8n, in this order.
API_KEYS = ("name", "nodes", "connections", "settings")
# What exports and GET answers add about one instance's copy: accepted in files, never pushed.
# (``active`` is the deploy's decision, ``tags`` and ``description`` cannot be set by the API,
# ``staticData`` is runtime state: see above.)
INSTANCE_KEYS = frozenset(
    {
        "staticData",
        "id", "active", "activeVersion", "activeVersionId", "versionId", "versionCounter", "triggerCount",
        "meta", "pinData", "tags", "description", "createdAt", "updatedAt", "isArchived", "shared",
        "parentFolder", "parentFolderId", "homeProject", "sharedWithProjects", "scopes",
        "usedCredentials", "checksum",
    }
)  # fmt: skip

NUMBER = "number"
# Node keys of the public API, with the JSON type each must have.
NODE_KEYS = {
    "id": str, "name": str, "webhookId": str, "disabled": bool, "notesInFlow": bool, "notes": str,
    "type": str, "typeVersion": NUMBER, "executeOnce": bool, "alwaysOutputData": bool,
    "retryOnFail": bool, "maxTries": NUMBER, "waitBetweenTries": NUMBER, "continueOnFail": bool,
    "onError": str, "position": list, "parameters": dict, "credentials": dict,
}  # fmt: skip
NODE_INSTANCE_KEYS = frozenset({"createdAt", "updatedAt"})
# n8n knows these but its public API refuses them; dropping them would change what runs.
NODE_UNDEPLOYABLE_KEYS = frozenset({"extendsCredential", "rewireOutputLogTo", "forceCustomOperation"})

# Settings of the public API: a type, or the tuple of allowed values.
SETTINGS_KEYS = {
    "saveExecutionProgress": bool, "saveManualExecutions": bool,
    "saveDataErrorExecution": ("all", "none"), "saveDataSuccessExecution": ("all", "none"),
    "executionTimeout": NUMBER, "errorWorkflow": str, "timezone": str, "executionOrder": str,
    "callerPolicy": ("any", "none", "workflowsFromAList", "workflowsFromSameOwner"),
    "callerIds": str, "timeSavedPerExecution": NUMBER, "availableInMCP": bool,
}  # fmt: skip
SETTINGS_UNDEPLOYABLE_KEYS = frozenset({"binaryMode", "timeSavedMode", "credentialResolverId"})
# n8n writes these defaults on every save (its request validator fills callerPolicy and
# availableInMCP in, -1 is "no timeout"); "DEFAULT" means "the instance's default" and n8n
# deletes it on save. Dropping them makes a file without them equal to its read-back.
SETTINGS_DEFAULTS = {"callerPolicy": "workflowsFromSameOwner", "availableInMCP": False, "executionTimeout": -1}
DEFAULT_MARKER = "DEFAULT"

# n8n activates a workflow only when an enabled node can start it alone: a trigger, poller or
# webhook node. Their types end in "Trigger", except these three that n8n does not count (manual
# triggers only start test runs; the evaluation trigger has no trigger method), plus a few older
# starters without the suffix. (Nodes that merely wait on a webhook, like Slack's "send and
# wait", are not counted: they need a trigger before them anyway.)
NON_STARTING_TRIGGERS = frozenset(
    {"n8n-nodes-base.manualTrigger", "@n8n/n8n-nodes-langchain.manualChatTrigger", "n8n-nodes-base.evaluationTrigger"}
)
STARTERS_WITHOUT_SUFFIX = frozenset(
    {"n8n-nodes-base.webhook", "n8n-nodes-base.cron", "n8n-nodes-base.interval", "n8n-nodes-base.emailReadImap"}
)
LINK_KEYS = ("node", "type", "index")
NODE_ID_NAMESPACE = uuid.UUID("6f1c5a52-3a4e-4a8e-9a57-1d7f3b0e2c41")


class WorkflowError(Exception):
    """A workflow file that cannot be used; ``errors`` lists every problem found."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.errors = list(errors or [message])


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str
    rule: str
    node: str = ""

    def __str__(self):
        return f"{self.file}: {self.path}: {self.message}"


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicate_keys(pairs):
    # json.loads would silently keep the last of two equal keys.
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def load_workflow(text, filename):
    """Parse one workflow file; raise WorkflowError ``file: where: message``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise WorkflowError(f"{filename}: byte {error.start}: not UTF-8 text") from None
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as error:
        raise WorkflowError(
            f"{filename}: line {error.lineno} column {error.colno}: invalid JSON: {error.msg}"
        ) from None
    except _DuplicateKey as error:
        raise WorkflowError(f"{filename}: (object): key {error.args[0]!r} appears twice in one object") from None
    if isinstance(data, list):
        raise WorkflowError(
            f"{filename}: (top level): a list of workflows; keep one workflow per file (n8n export:workflow --separate)"
        )
    if not isinstance(data, dict):
        raise WorkflowError(f"{filename}: (top level): a workflow is a JSON object, got {_json_type(data)}")
    return data


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _has_type(value, expected):
    if isinstance(expected, tuple):
        return value in expected
    if expected is NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, expected)


def _describe(expected):
    if isinstance(expected, tuple):
        return "one of " + ", ".join(expected)
    return {NUMBER: "a number", str: "a string", bool: "a boolean", list: "a list", dict: "an object"}[expected]


class _Problems(list):
    def __init__(self, filename):
        super().__init__()
        self.filename = filename

    def add(self, path, message, rule, node=""):
        self.append(Problem(self.filename, path, message, rule, node))


def validate(workflow, filename, active=False):
    """Every structural problem of a loaded workflow, as a list of Problem (empty: valid).

    ``active``: the workflow is to be activated, so it needs a node that can start it.
    """
    problems = _Problems(filename)
    if not isinstance(workflow, dict):
        problems.add("(top level)", f"a workflow is a JSON object, got {_json_type(workflow)}", "bad-type")
        return problems
    _check_top_level(workflow, problems)
    nodes = workflow.get("nodes") if isinstance(workflow.get("nodes"), list) else []
    names = _check_nodes(nodes, problems)
    if isinstance(workflow.get("connections"), dict):
        _check_connections(workflow["connections"], names, problems)
    if isinstance(workflow.get("settings"), dict):
        _check_settings(workflow["settings"], problems)
    if active and not any(is_starting_node(node) for node in nodes if isinstance(node, dict)):
        problems.add(
            "nodes",
            "the workflow is to be active but has no enabled trigger node (a *Trigger type other than the manual "
            "ones, a webhook, cron, interval or IMAP node)",
            "no-trigger",
        )
    return problems


def _check_top_level(workflow, problems):
    for key in workflow:
        if key not in API_KEYS and key not in INSTANCE_KEYS:
            problems.add(key, "unknown top-level key", "unknown-key")
    name = workflow.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add("name", "required: a non-empty string", "missing-key" if name is None else "bad-type")
    for key, expected in (("nodes", list), ("connections", dict)):
        if key not in workflow:
            problems.add(key, f"required: {_describe(expected)}", "missing-key")
        elif not isinstance(workflow[key], expected):
            problems.add(key, f"must be {_describe(expected)}, got {_json_type(workflow[key])}", "bad-type")
    if workflow.get("settings") is not None and not isinstance(workflow["settings"], dict):
        problems.add("settings", f"must be an object, got {_json_type(workflow['settings'])}", "bad-type")


def _check_nodes(nodes, problems):
    """Check each node; return the set of node names (for the connections)."""
    first_index = {}
    for index, node in enumerate(nodes):
        path = f"nodes[{index}]"
        if not isinstance(node, dict):
            problems.add(path, f"a node is an object, got {_json_type(node)}", "bad-type")
            continue
        name = node.get("name") if isinstance(node.get("name"), str) else ""
        _check_node_keys(node, path, name, problems)
        if not name:
            continue
        if name in first_index:
            problems.add(
                f"{path}.name",
                f"duplicate node name {name!r} (also nodes[{first_index[name]}])",
                "duplicate-node-name",
                name,
            )
        else:
            first_index[name] = index
    return set(first_index)


def _check_node_keys(node, path, name, problems):
    for key in ("name", "type", "parameters"):
        if key not in node:
            problems.add(f"{path}.{key}", f"required: {_describe(NODE_KEYS[key])}", "missing-key", name)
    for key, value in node.items():
        if key in NODE_UNDEPLOYABLE_KEYS:
            problems.add(f"{path}.{key}", "n8n's public API cannot set this node key", "undeployable-key", name)
        elif key in NODE_KEYS:
            if not _has_type(value, NODE_KEYS[key]):
                message = f"must be {_describe(NODE_KEYS[key])}, got {_json_type(value)}"
                problems.add(f"{path}.{key}", message, "bad-type", name)
            elif key in ("name", "type") and not value.strip():
                problems.add(f"{path}.{key}", "must not be empty", "bad-type", name)
        elif key not in NODE_INSTANCE_KEYS:
            problems.add(f"{path}.{key}", "unknown node key", "unknown-key", name)
    position = node.get("position")
    if isinstance(position, list) and (len(position) != 2 or not all(_has_type(p, NUMBER) for p in position)):
        problems.add(f"{path}.position", "must be [x, y] numbers", "bad-type", name)


def _check_settings(settings, problems):
    for key, value in settings.items():
        path = f"settings.{key}"
        if key in SETTINGS_UNDEPLOYABLE_KEYS:
            problems.add(path, "n8n's public API cannot set this setting: remove it", "undeployable-key")
        elif key not in SETTINGS_KEYS:
            problems.add(path, "unknown setting", "unknown-key")
        elif value == DEFAULT_MARKER and SETTINGS_KEYS[key] is str:
            continue  # n8n's own spelling of "the instance default"
        elif not _has_type(value, SETTINGS_KEYS[key]):
            problems.add(path, f"must be {_describe(SETTINGS_KEYS[key])}, got {value!r}", "bad-type")


def _check_connections(connections, names, problems):
    for source, by_kind in connections.items():
        path = f"connections[{source!r}]"
        if source not in names:
            problems.add(path, f"connections from {source!r}, which is not a node", "dangling-connection", source)
        if not isinstance(by_kind, dict):
            problems.add(
                path, f"must be an object of connection types, got {_json_type(by_kind)}", "bad-connection", source
            )
            continue
        for kind, outputs in by_kind.items():
            if not isinstance(outputs, list):
                problems.add(f"{path}.{kind}", "must be a list of outputs", "bad-connection", source)
                continue
            for index, output in enumerate(outputs):
                _check_output(output, f"{path}.{kind}[{index}]", source, names, problems)


def _check_output(output, path, source, names, problems):
    if output is None:
        return  # n8n writes null for an output with nothing attached
    if not isinstance(output, list):
        problems.add(path, "an output is a list of links", "bad-connection", source)
        return
    for index, link in enumerate(output):
        where = f"{path}[{index}]"
        if not isinstance(link, dict) or set(link) != set(LINK_KEYS):
            problems.add(where, 'a link is {"node": name, "type": "main", "index": 0}', "bad-connection", source)
        elif not isinstance(link["node"], str) or not isinstance(link["type"], str):
            problems.add(where, "node and type must be strings", "bad-connection", source)
        elif not isinstance(link["index"], int) or isinstance(link["index"], bool) or link["index"] < 0:
            problems.add(f"{where}.index", "must be an integer >= 0", "bad-connection", source)
        elif link["node"] not in names:
            message = f"connection from {source!r} to {link['node']!r}, which is not a node"
            problems.add(f"{where}.node", message, "dangling-connection", source)


def is_starting_node(node):
    """Whether this node lets n8n activate the workflow (see NON_STARTING_TRIGGERS)."""
    kind = node.get("type")
    if node.get("disabled") is True or not isinstance(kind, str) or kind in NON_STARTING_TRIGGERS:
        return False
    return kind.rsplit(".", 1)[-1].endswith("Trigger") or kind in STARTERS_WITHOUT_SUFFIX


def normalise(workflow):
    """The deployable form of a valid workflow (a file or n8n's GET answer): see the module doc."""
    return {
        "name": workflow["name"],
        "nodes": [_normal_node(node, workflow["name"]) for node in workflow["nodes"]],
        "connections": _canonical(workflow["connections"]),
        "settings": normal_settings(workflow.get("settings")),
    }


def _normal_node(node, workflow_name):
    result = {key: _canonical(node[key]) for key in sorted(node) if key in NODE_KEYS}
    if not result.get("id"):
        # n8n gives id-less nodes a random id on every save; a stable one keeps the file and its
        # read-back equal and the version identity reproducible.
        result["id"] = str(uuid.uuid5(NODE_ID_NAMESPACE, f"{workflow_name}\x1f{node['name']}"))
    return dict(sorted(result.items()))


def normal_settings(settings):
    """Known settings without the values n8n treats as its defaults (SETTINGS_DEFAULTS)."""
    result = {}
    for key in sorted(settings or {}):
        value = settings[key]
        if key in SETTINGS_KEYS and value != DEFAULT_MARKER and SETTINGS_DEFAULTS.get(key, ...) != value:
            result[key] = _canonical(value)
    return result


def _canonical(value):
    # JavaScript writes 3.0 as 3: integral floats become ints so both sides hash alike.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def canonical_json(normalised):
    return json.dumps(normalised, sort_keys=True, separators=(",", ":"))


def version_of(normalised):
    """The sha256 of a normalised workflow: its version identity."""
    return hashlib.sha256(canonical_json(normalised).encode()).hexdigest()
