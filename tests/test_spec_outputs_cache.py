"""The task keys that pass work on: ``outputs`` (to later tasks of the run) and ``cache`` (to
later runs, keyed by a file's checksum), normalised, and each mistake named by file, line, key."""

import pytest

from influencegen_release.engine.pipeline.spec import SpecError, load_pipeline_file

PIPELINE = """\
version: 1
pipeline:
  code: PL-T
  name: Test
  kind: odoo
  triggers:
    - {{event: push, branches: [main]}}
  defaults:
    image: runner:1
  stages:
    - name: Setup
      tasks:
        - name: Venv
          run: python3 -m venv /workspace/venv
{extra}
"""


def task_of(extra):
    (pipeline,) = load_pipeline_file(PIPELINE.format(extra=extra), "p.yml").pipelines
    return pipeline["stages"][0]["tasks"][0]


def errors_of(extra):
    with pytest.raises(SpecError) as caught:
        load_pipeline_file(PIPELINE.format(extra=extra), "p.yml")
    return caught.value.errors


def test_outputs_and_cache_are_normalised():
    task = task_of(
        "          outputs: [venv, ./build/dist/]\n"
        "          cache: {key_file: ./requirements.txt, paths: [.cache/pip]}"
    )
    assert task["outputs"] == ["venv", "build/dist"]
    assert task["cache"] == {"key_file": "requirements.txt", "paths": [".cache/pip"]}
    plain = task_of("")
    assert (plain["outputs"], plain["cache"]) == ([], None)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("          outputs: [/etc]", "p.yml:15: pipeline.stages[0].tasks[0].outputs[0]: '/etc' must be relative to /workspace, without '..'"),
        ("          outputs:\n            - venv\n            - ../src", "p.yml:17: pipeline.stages[0].tasks[0].outputs[1]: '../src' must be relative to /workspace"),
        ("          outputs: venv/..", "p.yml:15: pipeline.stages[0].tasks[0].outputs[0]: 'venv/..' must be relative to /workspace"),
        ("          outputs: {venv: 1}", "p.yml:15: pipeline.stages[0].tasks[0].outputs: expected a list of text values"),
        ("          cache: [.cache/pip]", "p.yml:15: pipeline.stages[0].tasks[0].cache: expected a mapping, got LineList"),
        ("          cache: {paths: [.cache/pip]}", "p.yml:15: pipeline.stages[0].tasks[0].cache.key_file: missing required key 'key_file'"),
        ("          cache: {key_file: requirements.txt}", "p.yml:15: pipeline.stages[0].tasks[0].cache.paths: missing required key 'paths'"),
        ("          cache: {key_file: requirements.txt, paths: [pip], key: x}", "p.yml:15: pipeline.stages[0].tasks[0].cache.key: unknown key 'key' (allowed: key_file, paths)"),
        ("          cache: {key_file: ../x.txt, paths: [pip]}", "p.yml:15: pipeline.stages[0].tasks[0].cache.key_file: must be a file of the repository"),
        ("          cache: {key_file: r.txt, paths: [/root/.cache]}", "p.yml:15: pipeline.stages[0].tasks[0].cache.paths[0]: '/root/.cache' must be relative to /workspace"),
    ],
)
def test_mistakes_are_named(extra, expected):
    errors = errors_of(extra)
    assert any(e.startswith(expected) for e in errors), errors


def test_outputs_and_cache_need_a_container_task():
    text = PIPELINE.format(extra="").replace(
        "run: python3 -m venv /workspace/venv", "uses: git.checkout\n          outputs: [venv]\n          cache: {key_file: r.txt, paths: [x]}"
    )
    with pytest.raises(SpecError) as caught:
        load_pipeline_file(text, "p.yml")
    assert any("outputs: 'outputs' only applies to a task with 'run'" in e for e in caught.value.errors), caught.value.errors
    assert any("cache: 'cache' only applies to a task with 'run'" in e for e in caught.value.errors), caught.value.errors
