import subprocess

from .scheduler_common import SchedulerCase

# Stage 1 holds a slow task and the one stage 2's Unit needs; E2E needs nothing, so it keeps
# the stage order. Slow runs until the test drops a file in its workspace (docker exec, as the
# job's files live in its container's volume): no timing guesses.
STAGES = """\
    - name: Build
      tasks:
        - {name: Slow, key: slow, run: "until [ -f /workspace/go ]; do sleep 0.2; done; echo slow done"}
        - {name: Compile, key: compile, run: "echo compiled"}
      gates:
        - name: Built
          criteria: [{succeeded: [slow, compile]}]
    - name: Test
      tasks:
        - {name: Unit, key: unit, run: "echo unit", needs: [compile]}
        - {name: E2E, key: e2e, run: "echo e2e"}
"""


class TestNeeds(SchedulerCase):
    def test_a_task_starts_when_what_it_needs_is_done_while_its_previous_stage_still_runs(self):
        self.make_pipeline("PL-T-NEEDS", STAGES)
        run = self.trigger("PL-T-NEEDS")
        slow, compile_, unit, e2e = (self.job(run, key) for key in ("slow", "compile", "unit", "e2e"))
        self.tick_until(lambda: unit.state == "succeeded")
        # Unit ran while Slow still runs: it needs only Compile. E2E waits for its stage.
        self.assertEqual(compile_.state, "succeeded")
        self.assertEqual(slow.state, "running")
        self.assertEqual(e2e.state, "pending")
        self.assertEqual(run.state, "running")
        graph = run.with_user(self.developer).api_graph(run.id)
        self.assertEqual(graph["needs"], [{"from": compile_.id, "to": unit.id}])
        # Build done and its gate passed: the rest of Test follows and the run succeeds.
        subprocess.run(["docker", "exec", slow.container_id, "touch", "/workspace/go"], check=True, capture_output=True)
        self.tick_until(lambda: run.state == "succeeded", timeout=90)
        self.assertEqual(run.gate_result_ids.mapped("result"), ["passed"])
        self.assertGreaterEqual(e2e.started_at, slow.finished_at)
        self.assertLessEqual(unit.finished_at, slow.finished_at)
