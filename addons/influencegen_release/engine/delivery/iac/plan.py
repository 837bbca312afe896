"""Infrastructure plans: what an Ansible or Terraform apply would change, normalised, counted
and hashed, so that an approval can bind to one plan and an apply can refuse another.

``ansible_plan(doc)`` reads the output of ``ansible-playbook --check --diff`` written by the
``ansible.posix.json`` stdout callback; ``terraform_plan(doc)`` reads ``terraform show -json``
of a saved plan. Both return a plan dict: ``tool``, ``summary`` (``add``, ``change``,
``destroy``, ``unchanged`` and, for Ansible, ``hosts_changed``/``hosts_unchanged``) and the
items that decide the digest (``hosts`` or ``resources``). Nothing run-specific (timings,
temporary file names, task ids, the Terraform timestamp) is kept, so planning the same code
against the same infrastructure twice gives the same digest.

Counting rules
    Terraform: as ``terraform plan`` prints them: create -> add, update -> change, delete ->
    destroy, a replacement (delete and create) -> one add and one destroy; no-op and read ->
    unchanged.
    Ansible: each changed task result on a host is one resource. Its diff says which: a path
    going from ``state: absent`` to something (or a file diff with empty ``before``) -> add, to
    ``absent`` -> destroy, anything else (or no diff) -> change. A host without changed result
    is unchanged.

``digest(plan)`` is the sha256 of the plan's canonical JSON (sorted keys, no spaces).
``facts_of(doc)`` and ``facts_parity(...)`` read ``ansible -m setup`` output and compare the
local facts of two environments host by host (REQ-DI-ENVPAR).
"""

import hashlib
import json
import re

from ..parity import compare

# Temporary names Ansible puts in diff headers (``/tmp/.ansible/ansible-local-1x/tmpab12``).
_TEMP_HEADER = re.compile(r"(ansible-local-|ansible-tmp-|/\.ansible/|/tmp/tmp)")
_DROPPED_TERRAFORM_KEYS = ("timestamp",)


class PlanError(Exception):
    """A plan that cannot be read or that failed: ``what: reason``."""


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(plan):
    """sha256 of what the plan would do (its summary follows from it)."""
    return hashlib.sha256(canonical({k: v for k, v in plan.items() if k != "summary"}).encode()).hexdigest()


# -- Ansible --------------------------------------------------------------------------------
def _clean_diff(diff):
    """A diff without the temporary file names of its headers; lists and dicts kept as they are."""
    if isinstance(diff, list):
        return [_clean_diff(item) for item in diff]
    if not isinstance(diff, dict):
        return diff
    return {
        key: value
        for key, value in diff.items()
        if not (key.endswith("_header") and isinstance(value, str) and _TEMP_HEADER.search(value))
    }


def _kind(diff):
    """add, change or destroy of one changed task result, from its diff."""
    diffs = diff if isinstance(diff, list) else [diff]
    for item in diffs:
        if not isinstance(item, dict):
            continue
        before, after = item.get("before"), item.get("after")
        if isinstance(before, dict) and isinstance(after, dict):
            if before.get("state") == "absent" and after.get("state") not in (None, "absent"):
                return "add"
            if after.get("state") == "absent" and before.get("state") not in (None, "absent"):
                return "destroy"
        elif before == "" and isinstance(after, str) and after:
            return "add"
    return "change"


def _results(result):
    """The item results of a looped task, or the result itself."""
    items = result.get("results")
    return [r for r in items if isinstance(r, dict)] if isinstance(items, list) else [result]


def ansible_plan(doc, where="ansible-playbook output"):
    """Plan of an ``ansible-playbook --check --diff`` JSON report; raises PlanError when the
    report is malformed or any host failed or was unreachable (such a plan says nothing)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("plays"), list) or not isinstance(doc.get("stats"), dict):
        raise PlanError(f"{where}: not the output of the ansible.posix.json callback (plays and stats expected)")
    hosts = {host: {"changes": []} for host in doc["stats"]}
    problems = []
    for play_index, play in enumerate(doc["plays"]):
        for task_index, task in enumerate(play.get("tasks") or []):
            name = ((task.get("task") or {}).get("name")) or f"plays[{play_index}].tasks[{task_index}]"
            for host, result in (task.get("hosts") or {}).items():
                entry = hosts.setdefault(host, {"changes": []})
                if result.get("unreachable"):
                    problems.append(f"{host}: {name}: unreachable: {result.get('msg', '')}".rstrip(": "))
                    continue
                if result.get("failed") and not result.get("ignore_errors"):
                    problems.append(f"{host}: {name}: {result.get('msg') or 'failed'}")
                    continue
                for item in _results(result):
                    if item.get("changed"):
                        diff = _clean_diff(item.get("diff"))
                        change = {"task": name, "action": result.get("action") or "", "kind": _kind(diff)}
                        if diff not in (None, {}, []):
                            change["diff"] = diff
                        entry["changes"].append(change)
    for host, stats in doc["stats"].items():
        failed = stats.get("failures") or stats.get("unreachable")
        if failed and not any(p.startswith(f"{host}:") for p in problems):
            problems.append(f"{host}: {stats.get('failures', 0)} failed, {stats.get('unreachable', 0)} unreachable")
    if not hosts:
        # ansible-playbook exits 0 when the inventory cannot be parsed: it then plays on no host.
        raise PlanError(f"{where}: no host was planned: the inventory is empty or could not be parsed")
    if problems:
        raise PlanError(f"{where}: the plan failed on {len(problems)} task(s): " + "; ".join(problems))
    plan = {"tool": "ansible", "hosts": hosts}
    plan["summary"] = _ansible_summary(hosts)
    return plan


def _ansible_summary(hosts):
    counts = {"add": 0, "change": 0, "destroy": 0}
    for entry in hosts.values():
        for change in entry["changes"]:
            counts[change["kind"]] += 1
    changed = sorted(host for host, entry in hosts.items() if entry["changes"])
    return dict(
        counts,
        unchanged=len(hosts) - len(changed),
        hosts_changed=len(changed),
        hosts_unchanged=len(hosts) - len(changed),
    )


# -- Terraform ------------------------------------------------------------------------------
def terraform_plan(doc, where="terraform show -json"):
    """Plan of ``terraform show -json <planfile>``; raises PlanError when it is not one."""
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise PlanError(f"{where}: not a Terraform JSON plan (format_version missing)")
    if doc.get("errored"):
        raise PlanError(f"{where}: Terraform reports the plan as errored")
    changes = doc.get("resource_changes") or []
    if not isinstance(changes, list):
        raise PlanError(f"{where}: resource_changes: expected a list")
    resources, counts = {}, {"add": 0, "change": 0, "destroy": 0, "unchanged": 0}
    for index, change in enumerate(changes):
        if not isinstance(change, dict) or "address" not in change or not isinstance(change.get("change"), dict):
            raise PlanError(f"{where}: resource_changes[{index}]: address and change expected")
        actions = change["change"].get("actions") or []
        address = change["address"]
        if "create" in actions:
            counts["add"] += 1
        if "delete" in actions:
            counts["destroy"] += 1
        if actions == ["update"]:
            counts["change"] += 1
        if not {"create", "delete", "update"} & set(actions):
            counts["unchanged"] += 1
        body = change["change"]
        resources[address] = {
            "actions": actions,
            **{key: body.get(key) for key in ("before", "after", "after_unknown", "replace_paths") if key in body},
        }
    outputs = {name: (value or {}).get("actions") for name, value in (doc.get("output_changes") or {}).items()}
    return {"tool": "terraform", "resources": resources, "outputs": outputs, "summary": counts}


def summary_line(plan):
    """``2 to add, 1 to change, 0 to destroy`` (+ hosts for Ansible)."""
    s = plan["summary"]
    text = f"{s['add']} to add, {s['change']} to change, {s['destroy']} to destroy"
    if plan["tool"] == "ansible":
        text += f" on {s['hosts_changed']} host(s); {s['hosts_unchanged']} host(s) unchanged"
    else:
        text += f"; {s['unchanged']} unchanged"
    return text


def describe(plan):
    """Lines an approver reads: the counts, then each host's or resource's changes."""
    lines = [f"{plan['tool']}: {summary_line(plan)}"]
    if plan["tool"] == "ansible":
        for host in sorted(plan["hosts"]):
            changes = plan["hosts"][host]["changes"]
            if changes:
                lines.append(f"  {host}: " + "; ".join(f"{c['kind']} {c['task']}" for c in changes))
    else:
        for address, entry in sorted(plan["resources"].items()):
            if {"create", "delete", "update"} & set(entry["actions"]):
                lines.append(f"  {address}: {'/'.join(entry['actions'])}")
    return lines


# -- facts (staging infrastructure validation) ---------------------------------------------
def facts_of(doc, where="ansible setup output"):
    """``{host: ansible_local facts}`` from ``ansible all -m setup`` (json callback)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("plays"), list):
        raise PlanError(f"{where}: not the output of the ansible.posix.json callback")
    facts, problems = {}, []
    for play in doc["plays"]:
        for task in play.get("tasks") or []:
            for host, result in (task.get("hosts") or {}).items():
                if result.get("failed") or result.get("unreachable"):
                    problems.append(f"{host}: {result.get('msg') or 'failed'}")
                    continue
                facts[host] = (result.get("ansible_facts") or {}).get("ansible_local") or {}
    if problems:
        raise PlanError(f"{where}: facts could not be gathered: " + "; ".join(problems))
    return facts


def _flatten(value, prefix=""):
    if isinstance(value, dict) and value:
        flat = {}
        for key in sorted(value):
            flat.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def facts_parity(facts_by_env):
    """Differences between environments' local facts: ``[(host, fact, {env: value or None})]``.

    ``facts_by_env`` is ``{environment: {host: facts}}``; a host or fact missing from one
    environment is a difference too (reuses ``parity.compare``)."""
    states = {
        env: {f"{host}\x1f{key}": {"value": canonical(value)} for host, facts in hosts.items() for key, value in _flatten(facts).items() if key}
        for env, hosts in facts_by_env.items()
    }
    hosts_by_env = {env: set(hosts) for env, hosts in facts_by_env.items()}
    differences = []
    for row in compare(states):
        if row.drift:
            host, key = row.component.split("\x1f", 1)
            values = {env: json.loads(v["value"]) if v else None for env, v in row.values.items()}
            differences.append((host, key, values))
    for host in sorted(set().union(*hosts_by_env.values())):
        if any(host not in hosts for hosts in hosts_by_env.values()) and not any(d[0] == host for d in differences):
            differences.append((host, "(host)", {env: host in hosts or None for env, hosts in hosts_by_env.items()}))
    return differences
