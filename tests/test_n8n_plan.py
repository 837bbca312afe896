"""The n8n plan: what a deploy would do on an instance, from the package and the live workflow."""

import copy
import json
import pathlib

from influencegen_release.engine.delivery.n8n import plan
from influencegen_release.engine.delivery.n8n.workflow import load_workflow, normalise, version_of

DATA = pathlib.Path(__file__).parent / "data" / "n8n"


def valid():
    return load_workflow((DATA / "valid.json").read_text(), "valid.json")


def remote(data, workflow_id="w1", active=False, published=True):
    """``data`` as n8n's GET answers it (active ones publish their version)."""
    answer = dict(copy.deepcopy(data), id=workflow_id, active=active)
    answer["activeVersion"] = {"nodes": data["nodes"], "connections": data["connections"]} if active and published else None
    return answer


def test_a_workflow_the_instance_lacks_is_created_with_all_its_nodes():
    item = plan.entry("Lead sync", normalise(valid()), True, None)
    assert (item["action"], item["id"], item["activation"]) == ("create", None, "activate")
    assert item["changes"]["nodes_added"] == ["Every 6 hours", "Fetch leads", "Tag source"]
    assert item["version"] == version_of(normalise(valid()))


def test_the_same_version_in_the_same_state_is_unchanged():
    item = plan.entry("Lead sync", normalise(valid()), True, remote(valid(), active=True))
    assert (item["action"], item["activation"], item["changes"]) == ("unchanged", None, {})
    # Active but n8n publishes another version: activating publishes this one.
    item = plan.entry("Lead sync", normalise(valid()), True, remote(valid(), active=True, published=False))
    assert (item["action"], item["activation"]) == ("update", "activate")


def test_an_update_names_the_nodes_added_removed_and_changed():
    live = valid()
    new = copy.deepcopy(live)
    new["nodes"][2]["parameters"]["assignments"]["assignments"][0]["value"] = "erp"  # Tag source changed
    fetch = new["nodes"].pop(1)  # Fetch leads removed
    new["nodes"].append(dict(fetch, name="Fetch contacts", id="c0ffee00-0000-4000-8000-000000000001"))
    new["connections"] = {"Every 6 hours": {"main": [[{"node": "Fetch contacts", "type": "main", "index": 0}]]},
                          "Fetch contacts": {"main": [[{"node": "Tag source", "type": "main", "index": 0}]]}}  # fmt: skip
    new["settings"] = dict(new.get("settings") or {}, timezone="Europe/Berlin")
    item = plan.entry("Lead sync", normalise(new), False, remote(live, active=True))
    assert (item["action"], item["id"], item["activation"]) == ("update", "w1", "deactivate")
    assert item["changes"]["nodes_added"] == ["Fetch contacts"]
    assert item["changes"]["nodes_removed"] == ["Fetch leads"]
    assert item["changes"]["nodes_changed"] == ["Tag source"]
    assert item["changes"]["connections"] is True
    assert item["changes"]["settings"] == ["timezone"]
    assert item["previous_version"] == version_of(normalise(live))
    text = plan.text([item])
    assert "update: Lead sync" in text and "deactivate: Lead sync" in text
    assert "  nodes added: Fetch contacts" in text and "  nodes removed: Fetch leads" in text
    assert "  nodes changed: Tag source" in text and "  connections changed" in text


def test_credentials_are_compared_by_name_not_by_the_instances_id():
    live = valid()
    live["nodes"][1]["credentials"] = {"httpHeaderAuth": {"id": "17", "name": "CRM token"}}
    ours = copy.deepcopy(live)
    ours["nodes"][1]["credentials"] = {"httpHeaderAuth": {"id": "abc", "name": "CRM token"}}
    assert plan.entry("Lead sync", normalise(ours), False, remote(live))["action"] == "unchanged"


def test_the_digest_changes_with_the_instance_and_with_the_package():
    package = normalise(valid())
    first = plan.digest([plan.entry("Lead sync", package, False, remote(valid()))])
    assert first == plan.digest([plan.entry("Lead sync", package, False, remote(valid()))])
    edited = valid()
    edited["nodes"][2]["parameters"]["assignments"]["assignments"][0]["value"] = "changed in n8n by hand"
    assert plan.digest([plan.entry("Lead sync", package, False, remote(edited))]) != first
    assert plan.digest([plan.entry("Lead sync", package, True, remote(valid()))]) != first
    assert json.dumps(plan.text([]))  # an empty package plans nothing, readably
