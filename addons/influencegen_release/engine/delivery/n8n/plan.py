"""What deploying an n8n package would do on one instance, read live, for approvers (no Odoo).

``plan_package`` reads each workflow the package deploys from the instance (matched as the
deploy matches it: by the id the environment's history recorded, else by name) and compares it
with the package's version: created, updated (nodes added, removed, changed; connections,
settings, name), unchanged; activated or deactivated. The plan's digest binds an approval to
it: the deploy refuses to run when the instance or the package changed since.
"""

import hashlib
import json

from .client import _comparable, _find, _runs
from .workflow import normalise, version_of


def changes(desired, current):
    """What updating ``current`` to ``desired`` (both normalised) changes, as a dict:
    ``{nodes_added, nodes_removed, nodes_changed, connections, settings, renamed}``."""
    ours, theirs = dict(_comparable(desired["nodes"])), dict(_comparable(current["nodes"]))
    settings = sorted(k for k in set(desired["settings"]) | set(current["settings"]) if desired["settings"].get(k) != current["settings"].get(k))
    return {
        "nodes_added": sorted(set(ours) - set(theirs)),
        "nodes_removed": sorted(set(theirs) - set(ours)),
        "nodes_changed": sorted(name for name in set(ours) & set(theirs) if ours[name] != theirs[name]),
        "connections": desired["connections"] != current["connections"],
        "settings": settings,
        "renamed": current["name"] if current["name"] != desired["name"] else None,
    }


def entry(name, desired, active, remote):
    """The plan of one workflow: ``desired`` (normalised) deployed ``active`` over ``remote``
    (n8n's GET answer, None when there is none). ``{name, action, id, version, active,
    previous_version, previous_active, activation, changes}``; action is create, update or
    unchanged, activation is activate, deactivate or None."""
    if remote is None:
        return {
            "name": name, "action": "create", "id": None, "version": version_of(desired), "active": active,
            "previous_version": None, "previous_active": False, "activation": "activate" if active else None,
            "changes": {"nodes_added": sorted(n["name"] for n in desired["nodes"])},
        }  # fmt: skip
    current = normalise(remote)
    was_active = bool(remote.get("active"))
    diff = changes(desired, current)
    same = not any(diff.values())
    runs = not active or _runs(remote, desired)
    if same and was_active == active and runs:
        action, diff = "unchanged", {}
    else:
        action = "update"
    activation = None
    if active and not was_active:
        activation = "activate"
    elif was_active and not active:
        activation = "deactivate"
    elif active and not runs:
        activation = "activate"  # active, but n8n publishes another version: activating publishes this one
    return {
        "name": name,
        "action": action,
        "id": remote["id"],
        "version": version_of(desired),
        "active": active,
        "previous_version": version_of(current),
        "previous_active": was_active,
        "activation": activation,
        "changes": diff,
    }


def plan_package(client, workflows, ids):
    """The live plan of deploying ``workflows`` (``{name: {workflow, active, ...}}``, a
    package's) to ``client``'s instance; ``ids``: ``{name: workflow id}`` from the history."""
    return [
        entry(name, normalise(workflows[name]["workflow"]), bool(workflows[name]["active"]), _find(client, name, ids.get(name)))
        for name in sorted(workflows)
    ]


def digest(entries):
    """The plan's identity: the package's versions against what the instance holds now."""
    keys = ("name", "action", "id", "version", "active", "previous_version", "previous_active")
    text = json.dumps([{k: e[k] for k in keys} for e in entries], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def text(entries):
    """The plan as approvers read it: a summary line per action, then one block per workflow."""
    by_action = {}
    for item in entries:
        by_action.setdefault(item["action"], []).append(item["name"])
    lines = [f"{action}: {', '.join(by_action.get(action, [])) or '-'}" for action in ("create", "update", "unchanged")]
    for verb in ("activate", "deactivate"):
        names = [e["name"] for e in entries if e["activation"] == verb]
        if names:
            lines.append(f"{verb}: {', '.join(names)}")
    for item in entries:
        if item["action"] == "unchanged":
            continue
        where = f" (id {item['id']})" if item["id"] else ""
        was = f", was {item['previous_version'][:12]}" if item["previous_version"] else ""
        lines.append(f"{item['name']}{where}: {item['action']} to {item['version'][:12]}{was}")
        diff = item["changes"]
        for key, label in (("nodes_added", "nodes added"), ("nodes_removed", "nodes removed"), ("nodes_changed", "nodes changed")):
            if diff.get(key):
                lines.append(f"  {label}: {', '.join(diff[key])}")
        if diff.get("connections"):
            lines.append("  connections changed")
        if diff.get("settings"):
            lines.append(f"  settings changed: {', '.join(diff['settings'])}")
        if diff.get("renamed"):
            lines.append(f"  renamed from {diff['renamed']!r}")
    return "\n".join(lines)

