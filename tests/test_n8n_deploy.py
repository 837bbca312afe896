"""Deploying workflows to a real n8n 2.8.4 (started once per session on 127.0.0.1)."""

import copy
import json
import pathlib
import uuid

import pytest

from devstack.n8n_server import N8nServer, free_port_pair, missing_install_message
from influencegen_release.engine.delivery.n8n.client import N8nClient, N8nError, deploy, rollback
from influencegen_release.engine.delivery.n8n.workflow import WorkflowError, load_workflow, normalise, version_of

pytestmark = pytest.mark.services

DATA = pathlib.Path(__file__).parent / "data" / "n8n"
UNKNOWN_TYPE = "n8n-nodes-base.doesNotExist"


@pytest.fixture(scope="session")
def n8n(tmp_path_factory):
    """(url, api_key) of a throwaway n8n; fails (never skips) when n8n is not installed."""
    missing = missing_install_message()
    if missing:
        pytest.fail(missing)
    server = N8nServer(tmp_path_factory.mktemp("n8n"))
    try:
        server.start()
        yield server.url, server.create_api_key()
    finally:
        server.stop()


@pytest.fixture
def client(n8n):
    url, key = n8n
    return N8nClient(url, key, timeout=30)  # the 2 shared cores can be slow


def workflow(**changes):
    """valid.json under a name of its own (tests share one n8n), with ``changes`` applied."""
    data = load_workflow((DATA / "valid.json").read_text(), "valid.json")
    data["name"] = f"Lead sync {uuid.uuid4().hex[:8]}"
    data.update(changes)
    return data


def with_source(data, value):
    """A new version: the Set node writes another value."""
    data = copy.deepcopy(data)
    data["nodes"][2]["parameters"]["assignments"]["assignments"][0]["value"] = value
    return data


def with_type(data, node_type):
    data = copy.deepcopy(data)
    data["nodes"][2]["type"] = node_type
    return data


def assert_runs(client, workflow_id, expected, active):
    """n8n holds ``expected`` and, when active, publishes exactly that version."""
    remote = client.get(workflow_id)
    assert normalise(remote) == normalise(expected)
    assert remote["active"] is active
    if active:
        assert (
            normalise({**expected, "nodes": remote["activeVersion"]["nodes"]})["nodes"] == normalise(expected)["nodes"]
        )


def test_create_update_and_unchanged(client):
    first = workflow()
    created = deploy(client, first, active=False, filename="valid.json")
    assert created["action"] == "created"
    assert (created["previous"], created["version"]) == (None, version_of(normalise(first)))
    assert_runs(client, created["id"], first, active=False)

    again = deploy(client, copy.deepcopy(first), active=False)
    assert (again["action"], again["id"]) == ("unchanged", created["id"])

    second = with_source(first, "crm-v2")
    del second["settings"]["timezone"]  # n8n keeps settings a PUT leaves out: the deploy clears it
    del second["settings"]["executionOrder"]  # the API cannot clear this one: the target's value stays
    updated = deploy(client, second, active=False)
    assert (updated["action"], updated["id"]) == ("updated", created["id"])
    assert updated["previous"] == normalise(first)
    assert updated["previous_version"] == created["version"] != updated["version"]
    assert client.get(created["id"])["settings"] == {
        "callerPolicy": "workflowsFromSameOwner",
        "availableInMCP": False,
        "executionOrder": "v1",
    }
    assert deploy(client, second, active=False)["action"] == "unchanged"


def test_activate_and_deactivate(client):
    data = workflow()
    created = deploy(client, data, active=True)
    assert (created["action"], created["active"]) == ("created", True)
    assert_runs(client, created["id"], data, active=True)

    assert deploy(client, data, active=True)["action"] == "unchanged"
    stopped = deploy(client, data, active=False)
    assert (stopped["action"], stopped["previous_active"]) == ("updated", True)
    assert_runs(client, created["id"], data, active=False)

    newer = with_source(data, "crm-v3")
    started = deploy(client, newer, active=True)
    assert (started["action"], started["id"]) == ("updated", created["id"])
    assert_runs(client, created["id"], newer, active=True)


def test_matching_by_exact_name_and_by_stored_id(client):
    data = workflow()
    longer = deploy(client, {**data, "name": data["name"] + " (copy)"}, active=False)
    target = deploy(client, data, active=False)
    assert target["action"] == "created"  # n8n's ?name= matches substrings; ours is exact
    assert target["id"] != longer["id"]

    renamed = {**with_source(data, "renamed"), "name": data["name"] + " v2"}
    by_id = deploy(client, renamed, active=False, workflow_id=target["id"])
    assert (by_id["action"], by_id["id"]) == ("updated", target["id"])
    assert client.get(target["id"])["name"] == renamed["name"]

    # A stored id that n8n no longer knows falls back to the name.
    fallback = deploy(client, renamed, active=False, workflow_id="gone0000gone0000")
    assert (fallback["action"], fallback["id"]) == ("unchanged", target["id"])

    client.create(normalise(renamed))
    with pytest.raises(N8nError, match=r"has 2 workflows named '.* v2' \(.*\): deploy with the id"):
        deploy(client, renamed, active=False)


def test_a_broken_update_leaves_the_previous_version_active(client, n8n):
    good = workflow()
    created = deploy(client, good, active=True)
    # Structurally valid, so it reaches n8n, which saves the PUT, marks it active, then refuses
    # the unknown node type (HTTP 400).
    broken = with_type(good, UNKNOWN_TYPE)
    with pytest.raises(N8nError) as caught:
        deploy(client, broken, active=True)
    message = str(caught.value)
    assert "Unrecognized node type: n8n-nodes-base.doesNotExist" in message
    assert (
        f"Workflow {created['id']} was deactivated and its previous version {created['version'][:12]} restored and re-activated"
        in message
    )
    assert n8n[1] not in message
    assert_runs(client, created["id"], good, active=True)


def test_a_new_workflow_that_cannot_be_activated_is_removed(client):
    broken = with_type(workflow(), UNKNOWN_TYPE)
    with pytest.raises(N8nError, match="Unrecognized node type.*the new workflow was deactivated and deleted"):
        deploy(client, broken, active=True)
    assert client.find_by_name(broken["name"]) == []


def test_rollback_restores_the_previous_version(client):
    first = workflow()
    deploy(client, first, active=True)
    second = with_source(first, "crm-v2")
    result = deploy(client, second, active=False)
    assert_runs(client, result["id"], second, active=False)

    back = rollback(client, result["id"], result["previous"], result["previous_active"])
    assert (back["action"], back["version"]) == ("updated", version_of(normalise(first)))
    assert_runs(client, result["id"], first, active=True)

    created = deploy(client, workflow(), active=True)
    assert rollback(client, created["id"], created["previous"], created["previous_active"])["action"] == "deleted"
    with pytest.raises(N8nError, match="HTTP 404"):
        client.get(created["id"])


def test_invalid_workflows_and_secrets_are_refused_before_any_push(client):
    secrets = load_workflow((DATA / "embedded-secrets.json").read_text(), "embedded-secrets.json")
    with pytest.raises(WorkflowError) as caught:
        deploy(client, secrets, active=True, filename="embedded-secrets.json")
    assert "embedded-secrets.json: not deployed, 5 problem(s)" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    manual = load_workflow((DATA / "no-trigger.json").read_text(), "no-trigger.json")
    with pytest.raises(WorkflowError, match="no-trigger.json: nodes: the workflow is to be active but has no"):
        deploy(client, manual, active=True, filename="no-trigger.json")
    assert client.find_by_name(secrets["name"]) == client.find_by_name(manual["name"]) == []


def test_a_refused_api_key_is_named_without_showing_it(n8n):
    url, _ = n8n
    key = "n8n_api_" + "k3y" * 20
    with pytest.raises(N8nError) as caught:
        deploy(N8nClient(url, key), workflow(), active=False)
    assert str(caught.value) == f"n8n at {url}: the API key was refused (HTTP 401)"
    assert caught.value.status == 401
    assert "k3y" not in repr(N8nClient(url, key))


def test_a_target_that_does_not_answer():
    url = f"http://127.0.0.1:{free_port_pair()}"  # nothing listens there
    with pytest.raises(N8nError) as caught:
        N8nClient(url, "secret-key-123", timeout=2).list_workflows()
    message = str(caught.value)
    assert message.startswith(f"n8n at {url} does not answer: ")
    assert "refused" in message.lower() and "secret-key-123" not in message


def test_n8n_error_messages_carry_the_status(client):
    with pytest.raises(N8nError) as caught:
        client.get("doesNotExist1234")
    assert caught.value.status == 404
    assert str(caught.value).endswith("GET /workflows/doesNotExist1234: HTTP 404: Not Found")
    assert json.dumps(client.list_workflows())  # the listing pages through and is plain JSON
