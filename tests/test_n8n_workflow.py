"""Checking, normalising and scanning n8n workflow files (samples in tests/data/n8n)."""

import copy
import json
import pathlib

import pytest

from influencegen_release.engine.delivery.n8n.workflow import (
    WorkflowError,
    is_starting_node,
    load_workflow,
    normalise,
    scan_secrets,
    validate,
    version_of,
)

DATA = pathlib.Path(__file__).parent / "data" / "n8n"


def sample(name):
    return load_workflow((DATA / name).read_text(), name)


def messages(workflow, filename, active=False):
    return [str(problem) for problem in validate(workflow, filename, active)]


def test_an_editor_export_is_valid_and_normalises_to_the_api_allowlist():
    workflow = sample("valid.json")
    assert validate(workflow, "valid.json", active=True) == []
    normalised = normalise(workflow)
    # id, versionId, meta, pinData, tags and active describe one instance's copy: not pushed.
    assert list(normalised) == ["name", "nodes", "connections", "settings"]
    assert normalised["settings"] == {"executionOrder": "v1", "timezone": "Europe/Paris"}  # default dropped
    http = normalised["nodes"][1]
    assert list(http) == sorted(http)
    assert http["credentials"] == {"httpHeaderAuth": {"id": "a1B2c3D4e5F6g7H8", "name": "CRM header auth"}}
    assert scan_secrets(workflow) == []


def test_the_version_identity_ignores_key_order_instance_fields_and_defaults():
    workflow = sample("valid.json")
    version = version_of(normalise(workflow))
    assert len(version) == 64
    shuffled = json.loads(json.dumps(workflow, sort_keys=True))
    shuffled.update(id="other", versionId="other", active=True, pinData={"x": []})
    shuffled["settings"]["availableInMCP"] = False  # a value n8n writes by itself
    shuffled["nodes"][0]["typeVersion"] = 1.2
    shuffled["nodes"][0]["position"] = [0.0, 0.0]  # JavaScript writes 0.0 as 0
    assert version_of(normalise(shuffled)) == version
    changed = copy.deepcopy(workflow)
    changed["nodes"][2]["parameters"]["assignments"]["assignments"][0]["value"] = "crm-v2"
    assert version_of(normalise(changed)) != version


def test_nodes_without_id_get_a_stable_one():
    workflow = sample("valid.json")
    for node in workflow["nodes"]:
        del node["id"]
    first, second = normalise(workflow), normalise(copy.deepcopy(workflow))
    assert first == second
    assert len({node["id"] for node in first["nodes"]}) == 3


def test_duplicate_node_names():
    assert messages(sample("duplicate-node-names.json"), "dup.json") == [
        "dup.json: nodes[2].name: duplicate node name 'Fetch leads' (also nodes[1])"
    ]
    (problem,) = validate(sample("duplicate-node-names.json"), "dup.json")
    assert (problem.rule, problem.node) == ("duplicate-node-name", "Fetch leads")


def test_connections_to_and_from_missing_nodes():
    assert messages(sample("dangling-connection.json"), "wf.json") == [
        "wf.json: connections['Fetch leads'].main[0][1].node: connection from 'Fetch leads' to 'Merge1', "
        "which is not a node",
        "wf.json: connections['Old node']: connections from 'Old node', which is not a node",
    ]


def test_malformed_connections():
    workflow = sample("valid.json")
    workflow["connections"]["Every 6 hours"]["main"] = [[{"node": "Fetch leads", "type": "main", "index": -1}], None]
    workflow["connections"]["Fetch leads"] = {"main": [["Tag source"]]}
    assert messages(workflow, "wf.json") == [
        "wf.json: connections['Every 6 hours'].main[0][0].index: must be an integer >= 0",
        'wf.json: connections[\'Fetch leads\'].main[0][0]: a link is {"node": name, "type": "main", "index": 0}',
    ]


def test_unknown_keys_at_each_level():
    assert messages(sample("unknown-keys.json"), "wf.json") == [
        "wf.json: owner: unknown top-level key",
        "wf.json: nodes[1].colour: unknown node key",
        "wf.json: settings.saveEverything: unknown setting",
    ]


def test_missing_and_mistyped_node_fields():
    workflow = sample("valid.json")
    del workflow["nodes"][0]["type"]
    workflow["nodes"][1]["parameters"] = "url=x"
    workflow["nodes"][2]["position"] = [1]
    workflow["nodes"][2]["forceCustomOperation"] = {"resource": "a", "operation": "b"}
    workflow["settings"]["saveDataErrorExecution"] = "some"
    workflow["settings"]["binaryMode"] = "separate"
    assert messages(workflow, "wf.json") == [
        "wf.json: nodes[0].type: required: a string",
        "wf.json: nodes[1].parameters: must be an object, got a string",
        "wf.json: nodes[2].forceCustomOperation: n8n's public API cannot set this node key",
        "wf.json: nodes[2].position: must be [x, y] numbers",
        "wf.json: settings.saveDataErrorExecution: must be one of all, none, got 'some'",
        "wf.json: settings.binaryMode: n8n's public API cannot set this setting: remove it",
    ]


def test_missing_top_level_keys():
    assert messages({"nodes": {}}, "wf.json") == [
        "wf.json: name: required: a non-empty string",
        "wf.json: nodes: must be a list, got an object",
        "wf.json: connections: required: an object",
    ]


def test_invalid_json_names_line_and_column():
    with pytest.raises(WorkflowError) as caught:
        load_workflow((DATA / "bad-syntax.json").read_text(), "workflows/bad-syntax.json")
    assert str(caught.value) == "workflows/bad-syntax.json: line 19 column 7: invalid JSON: Expecting ',' delimiter"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "a", "name": "b"}', "wf.json: (object): key 'name' appears twice in one object"),
        (
            "[]",
            "wf.json: (top level): a list of workflows; keep one workflow per file (n8n export:workflow --separate)",
        ),
        ('"x"', "wf.json: (top level): a workflow is a JSON object, got a string"),
        (b"\xff{}", "wf.json: byte 0: not UTF-8 text"),
    ],
)
def test_files_that_are_not_one_workflow(text, expected):
    with pytest.raises(WorkflowError) as caught:
        load_workflow(text, "wf.json")
    assert str(caught.value) == expected


def test_an_active_workflow_needs_a_trigger():
    workflow = sample("no-trigger.json")
    assert validate(workflow, "manual.json", active=False) == []
    (problem,) = validate(workflow, "manual.json", active=True)
    assert problem.rule == "no-trigger"
    assert str(problem).startswith("manual.json: nodes: the workflow is to be active but has no enabled trigger node")
    workflow["nodes"][2]["disabled"] = False  # the schedule trigger, enabled
    assert validate(workflow, "manual.json", active=True) == []


@pytest.mark.parametrize(
    ("node_type", "starts"),
    [
        ("n8n-nodes-base.scheduleTrigger", True),
        ("n8n-nodes-base.webhook", True),
        ("n8n-nodes-base.cron", True),
        ("n8n-nodes-base.errorTrigger", True),
        ("@n8n/n8n-nodes-langchain.chatTrigger", True),
        ("n8n-nodes-base.manualTrigger", False),
        ("n8n-nodes-base.httpRequest", False),
    ],
)
def test_which_node_types_start_a_workflow(node_type, starts):
    assert is_starting_node({"type": node_type}) is starts


def test_secrets_are_found_by_node_and_path_without_their_value():
    workflow = sample("embedded-secrets.json")
    findings = [str(finding) for finding in scan_secrets(workflow)]
    assert findings == [
        "node 'Fetch leads': parameters.headerParameters.parameters[0].value: a bearer token",
        "node 'Fetch leads': parameters.headerParameters.parameters[1].value: a literal value for 'X-Api-Key'",
        "node 'Sign request': parameters.jsCode: an AWS access key id",
        "node 'Upload': parameters.password: a literal value for 'password'",
        "node 'Upload': notes: a private key",
    ]
    text = "\n".join(findings)
    assert "AKIA" not in text and "hunter2" not in text and "7f3kQ9" not in text
    # The structure itself is fine: secrets are a separate check.
    assert validate(workflow, "secrets.json", active=True) == []


@pytest.mark.parametrize(
    "value",
    [
        "https://deploy:s3cret@git.example.com/repo.git",
        'curl -H "Authorization: Basic ZGVwbG95OnMzY3JldA=="',
        '{"api_key": "0123456789abcdef"}',
        "xoxb-1234567890-abcdefghij",
        "ghp_" + "a" * 36,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl",
    ],
)
def test_secret_patterns_in_any_parameter(value):
    workflow = {"nodes": [{"name": "N", "parameters": {"text": value}}]}
    assert len(scan_secrets(workflow)) == 1


@pytest.mark.parametrize(
    "parameters",
    [
        {"password": "={{ $env.DB_PASSWORD }}"},
        {"apiKey": ""},
        {"jsonBody": '={{ {"token": $json.token} }}'},
        {"headerParameters": {"parameters": [{"name": "Accept", "value": "application/json"}]}},
        {"url": "https://api.example.com/v1/items?page=2"},
    ],
)
def test_references_and_ordinary_values_are_not_secrets(parameters):
    node = {"name": "N", "parameters": parameters, "credentials": {"httpBasicAuth": {"id": "1", "name": "basic"}}}
    assert scan_secrets({"nodes": [node]}) == []
