"""Each class of malformed pipeline file gets an exact message naming file, line and key."""

import pytest

from influencegen_release.engine.pipeline.spec import SpecError, load_pipeline_file, read_pipeline_file

GOOD = """\
version: 1
environments:
  - {code: odoo-prod, name: Odoo Production, tier: production, kind: odoo, credentials: "env:KEY"}
pipeline:
  code: PL-T
  name: Test
  kind: odoo
  triggers:
    - {event: push, branches: [main]}
  defaults:
    image: runner:1
  stages:
    - name: Lint
      tasks:
        - name: Flake8
          key: flake8
          run: flake8 /src
          reports:
            - {format: flake8, path: reports/flake8.txt}
      gates:
        - name: Lint Pass
          criteria:
            - findings: {from: [flake8], severity: critical}
    - name: Deploy
      environment: odoo-prod
      tasks:
        - {name: Deploy Modules, uses: odoo.deploy}
      approval:
        rules: [{group: cab_member, quorum: 2}]
      gates:
        - {name: Go/No-Go, type: manual}
"""


def errors_of(text, filename="p.yml"):
    with pytest.raises(SpecError) as caught:
        load_pipeline_file(text, filename)
    return caught.value.errors


def test_the_reference_file_is_valid():
    parsed = load_pipeline_file(GOOD, "p.yml")
    (pipeline,) = parsed.pipelines
    assert [s["key"] for s in pipeline["stages"]] == ["lint", "deploy"]
    assert pipeline["stages"][1]["tasks"][0]["key"] == "deploy_modules"
    assert parsed.environments[0]["code"] == "odoo-prod"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "          key: flake8\n",
            "          key: flake8\n          imagee: x\n",
            "p.yml:17: pipeline.stages[0].tasks[0].imagee: unknown key 'imagee' (allowed: ",
            id="unknown-key",
        ),
        pytest.param(
            "          run: flake8 /src\n",
            "",
            "p.yml:15: pipeline.stages[0].tasks[0]: task 'Flake8' has no command: give 'run' (a command with an image), "
            "'uses' (a built-in action) or 'checklist' (manual items)",
            id="task-without-command",
        ),
        pytest.param(
            "  defaults:\n    image: runner:1\n",
            "",
            "p.yml:13: pipeline.stages[0].tasks[0]: task 'Flake8' has no image: set 'image' on the task or in the pipeline's 'defaults'",
            id="task-without-image",
        ),
        pytest.param(
            "from: [flake8]",
            "from: [flake9]",
            "p.yml:23: pipeline.stages: gate 'Lint Pass' refers to unknown task 'flake9'",
            id="gate-refers-to-unknown-task",
        ),
        pytest.param(
            "      approval:\n        rules: [{group: cab_member, quorum: 2}]\n",
            "",
            "p.yml:29: pipeline.stages[1].gates[0]: manual gate 'Go/No-Go' refers to no approval: add an 'approval' to its stage",
            id="manual-gate-without-approval",
        ),
        pytest.param(
            "    - name: Deploy\n",
            "    - name: Lint\n",
            "p.yml:24: pipeline.stages: duplicate stage 'Lint'",
            id="duplicate-stage",
        ),
        pytest.param(
            "      environment: odoo-prod\n",
            "      environment: odoo-qa\n",
            "p.yml:25: pipeline.stages[1].environment: unknown environment 'odoo-qa' (declare it under 'environments')",
            id="unknown-environment",
        ),
        pytest.param(
            "          run: flake8 /src\n",
            "          run: flake8 /src\n          timeout: soon\n",
            "p.yml:18: pipeline.stages[0].tasks[0].timeout: expected a duration such as 600, 90s, 15m or 2h",
            id="bad-duration",
        ),
        pytest.param(
            "  kind: odoo\n",
            "",
            "p.yml:5: pipeline.kind: missing required key 'kind'",
            id="missing-required-key",
        ),
        pytest.param(
            "quorum: 2",
            "quorum: 0",
            "p.yml:29: pipeline.stages[1].approval.rules[0].quorum: expected a whole number >= 1",
            id="quorum-below-one",
        ),
        pytest.param(
            "group: cab_member",
            "group: cab",
            "p.yml:29: pipeline.stages[1].approval.rules[0].group: 'cab' is not one of: user, developer, qa_lead, "
            "product_owner, integration_lead, devops_lead, cab_member, release_manager",
            id="unknown-approver-group",
        ),
        pytest.param(
            'credentials: "env:KEY"',
            "credentials: hunter2",
            "p.yml:3: environments[0].credentials: must be a reference (env:NAME, file:/path or param:key), never the secret itself",
            id="literal-secret",
        ),
        pytest.param(
            "version: 1\n",
            "version: 2\n",
            "p.yml:1: version: unsupported format version 2 (expected 1)",
            id="unsupported-version",
        ),
        pytest.param(
            "  name: Test\n",
            "  name: Test\n  code: PL-U\n",
            "p.yml:7: duplicate key 'code' (first defined on line 5)",
            id="duplicate-key",
        ),
        pytest.param(
            "        - {name: Deploy Modules, uses: odoo.deploy}\n",
            "        - {name: Deploy Modules, uses: odoo.deploy\n",
            "p.yml:28: invalid YAML: expected ',' or '}', but got ':'",
            id="invalid-yaml",
        ),
        pytest.param(
            "    - {event: push, branches: [main]}\n",
            "    - {event: push}\n",
            "p.yml:9: pipeline.triggers[0].branches: a push trigger needs at least one branch pattern",
            id="push-trigger-without-branches",
        ),
        pytest.param(
            "{format: flake8, path: reports/flake8.txt}",
            "{format: flake8, path: ../../etc/passwd}",
            "p.yml:19: pipeline.stages[0].tasks[0].reports[0].path: must be relative to the job workspace, without '..'",
            id="report-path-escapes-workspace",
        ),
    ],
)
def test_malformed_file_is_reported_exactly(old, new, expected):
    assert old in GOOD, "the test's replacement must apply"
    errors = errors_of(GOOD.replace(old, new, 1))
    assert any(e.startswith(expected) for e in errors), errors


def test_all_problems_are_reported_at_once():
    text = GOOD.replace("run: flake8 /src", "rum: flake8 /src").replace("quorum: 2", "quorum: -1")
    errors = errors_of(text)
    assert len(errors) == 3, errors
    assert "unknown key 'rum'" in errors[0]
    assert "has no command" in errors[1]
    assert "quorum: expected a whole number >= 1" in errors[2]


def test_empty_and_unreadable_files(tmp_path):
    assert errors_of("") == ["p.yml:1: the file is empty"]
    assert errors_of("- just\n- a list\n") == [
        "p.yml:1: (file): expected a mapping with 'version' and 'pipeline' or 'pipelines'"
    ]
    missing = tmp_path / "nope.yml"
    with pytest.raises(SpecError, match=r"nope.yml:0: \(file\): cannot read"):
        read_pipeline_file(missing)
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match=r"bin.yml:0: \(file\): cannot read"):
        read_pipeline_file(binary)


NEEDS = GOOD.replace(
    "        - {name: Deploy Modules, uses: odoo.deploy}\n",
    "        - {name: Deploy Modules, uses: odoo.deploy, needs: [flake8]}\n",
)


def test_needs_are_normalised_to_task_keys():
    (pipeline,) = load_pipeline_file(NEEDS.replace("needs: [flake8]", "needs: [Flake8]"), "p.yml").pipelines
    assert pipeline["stages"][1]["tasks"][0]["needs"] == ["flake8"]
    assert "_needs_at" not in pipeline["stages"][1]["tasks"][0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            NEEDS.replace("needs: [flake8]", "needs: [flake9]"),
            "p.yml:27: pipeline.stages[1].tasks[0].needs[0]: task 'Deploy Modules' needs unknown task 'flake9'",
        ),
        (
            NEEDS.replace("needs: [flake8]", "").replace("          run: flake8 /src\n", "          run: flake8 /src\n          needs: [deploy_modules]\n"),
            "p.yml:18: pipeline.stages[0].tasks[0].needs[0]: task 'Flake8' needs 'deploy_modules' of the later stage "
            "'Deploy': a task may only need tasks of its own stage or of earlier ones",
        ),
        (
            GOOD.replace(
                "          run: flake8 /src\n",
                "          run: flake8 /src\n          needs: [second]\n",
            ).replace(
                "      gates:\n        - name: Lint Pass",
                "        - {name: Second, key: second, run: x, needs: [flake8]}\n      gates:\n        - name: Lint Pass",
                1,
            ),
            "p.yml:18: pipeline.stages[0].tasks[0].needs: task 'Flake8' needs itself: flake8 -> second -> flake8 (needs may not form a cycle)",
        ),
    ],
)
def test_needs_errors_name_the_task_and_the_field(text, message):
    with pytest.raises(SpecError) as info:
        load_pipeline_file(text, "p.yml")
    assert message in str(info.value).splitlines(), str(info.value)
