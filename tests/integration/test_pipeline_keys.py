"""Keys of the pipeline format acting on real pushes through the real post-receive hook:
``outputs`` reach later tasks of the run, a ``cache`` keyed by a file's checksum comes back in
later runs, and a task that ``needs`` one task of the previous stage starts before the rest of
that stage ends."""

import pytest

from devstack.repository import IMAGE

from .repos import Hub, failures, jobs, log

CODE = "PL-IT-KEYS"
PIPELINE = f"""\
version: 1
pipeline:
  code: {CODE}
  name: Outputs, cache and needs
  kind: odoo
  triggers:
    - {{event: push, branches: ["main"]}}
  defaults: {{image: {IMAGE}, timeout: 60, memory: 128m, cpus: 0.5}}
  stages:
    - name: Build
      tasks:
        - name: Prepare
          key: prepare
          run: >-
            if [ -f .cache/deps/blob ]; then echo "deps: warm, $(cat .cache/deps/blob)";
            else echo "deps: cold"; mkdir -p .cache/deps; cp /src/deps.txt .cache/deps/blob; fi;
            mkdir -p build; echo "built with $(cat /src/deps.txt)" > build/out.txt
          outputs: [build]
          cache: {{key_file: deps.txt, paths: [.cache/deps]}}
        - {{name: Slow, key: slow, run: "sleep 6"}}
    - name: Test
      tasks:
        - {{name: Quick, key: quick, needs: [prepare], run: "cat /workspace/build/out.txt"}}
        - {{name: After, key: after, run: "cat /workspace/build/out.txt"}}
"""


@pytest.fixture(scope="module")
def hub(server, workdir):
    return Hub(workdir, "it-keys", {".influencegen/pipeline.yml": PIPELINE, "deps.txt": "requests==1\n"})


def prepare_log(api, run_id):
    return log(api, jobs(api, run_id)["prepare"]["id"])


def test_outputs_reach_later_tasks_the_cache_comes_back_and_needs_start_early(hub):
    api = hub.api
    sha = hub.commit({"app.py": "x = 1\n"})
    assert f"{CODE} run #" in hub.push()
    first = hub.pushed_run(sha, CODE)
    assert api.wait_run(first, timeout=90)["state"] == "succeeded", failures(api, first)
    done = jobs(api, first)
    # Quick needs only Prepare: it started while Slow, of the same earlier stage, still ran;
    # After waits for the whole stage.
    assert done["quick"]["started_at"] < done["slow"]["finished_at"] <= done["after"]["started_at"], done
    for key in ("quick", "after"):  # Prepare's declared output, at the same place
        assert "built with requests==1" in log(api, done[key]["id"]), key
    text = prepare_log(api, first)
    assert "deps: cold" in text and "[influencegen] cache saved:" in text, text

    # Two more pushes at once: one keeps deps.txt (its cache comes back), one changes it (cold).
    same = hub.commit({"app.py": "x = 2\n"})
    hub.push()
    changed = hub.commit({"deps.txt": "requests==2\n"})
    hub.push()
    warm_run, cold_run = hub.pushed_run(same, CODE), hub.pushed_run(changed, CODE)
    assert api.wait_run(warm_run, timeout=90)["state"] == "succeeded"
    assert api.wait_run(cold_run, timeout=90)["state"] == "succeeded"
    text = prepare_log(api, warm_run)
    assert "[influencegen] cache restored:" in text and "deps: warm, requests==1" in text, text
    text = prepare_log(api, cold_run)
    assert "cache restored" not in text and "deps: cold" in text, text
    assert "built with requests==2" in log(api, jobs(api, cold_run)["after"]["id"])
