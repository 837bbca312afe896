"""Git repositories that carry their own pipeline file (``.influencegen/pipeline.yml``), for
the integration tests and the benchmark."""

import os
import uuid

IMAGE = os.environ.get("IGR_BASE_IMAGE", "influencegen/runner-base:bookworm")


def init_repository(path):
    import git

    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    os.makedirs(os.path.join(repo.working_tree_dir, ".influencegen"))
    return repo


def pipeline_text(code, name, body, timeout=120, image=None):
    """A pipeline file: one Odoo pipeline that pushes to main trigger, small container limits,
    then ``body``, the pipeline's other keys (``  stages:`` ...) as YAML indented by two."""
    return (
        f"version: 1\npipeline:\n  code: {code}\n  name: {name}\n  kind: odoo\n"
        "  triggers:\n    - {event: push, branches: ['main']}\n"
        f"  defaults: {{image: {image or IMAGE}, timeout: {timeout}, memory: 128m, cpus: 0.5}}\n"
        f"{body}"
    )


def commit_pipeline(repo, command, jobs=1, image=None):
    tasks = "".join(
        f"        - {{name: Work {i}, key: work{i}, run: '{command}'}}\n" for i in range(1, jobs + 1)
    )
    text = pipeline_text("PL-IT", "Integration", f"  stages:\n    - name: Work\n      tasks:\n{tasks}", image=image)
    return commit_pipeline_text(repo, text, f"pipeline: {command} x{jobs}")


def commit_pipeline_text(repo, text, message, marker=None):
    """Commit ``text`` as the repository's pipeline file, with a marker file so that every
    call makes a new commit (and so a new run)."""
    path = os.path.join(repo.working_tree_dir, ".influencegen", "pipeline.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    marker_path = os.path.join(repo.working_tree_dir, "marker.txt")
    with open(marker_path, "w", encoding="utf-8") as handle:
        handle.write(marker or uuid.uuid4().hex)
    repo.index.add([path, marker_path])
    return repo.index.commit(message).hexsha


def gated_pipeline(code, name, rule):
    """A build stage, then a manual production stage decided by ``rule`` (a Go/No-Go)."""
    return pipeline_text(code, name, f"""\
  stages:
    - name: Build
      tasks:
        - {{name: Build, key: build, run: 'echo built'}}
    - name: Production
      key: prod
      trigger: manual
      tasks:
        - {{name: Deploy, key: deploy, run: 'echo deployed'}}
      approval:
        rules: [{rule}]
      gates: [{{name: Go/No-Go, type: manual}}]
""", timeout=60)
