"""Run inside ``odoo-bin shell`` (``env`` given) by scripts/bench_scale.py: fills the database
with finished runs, then times the scheduler's and the screens' queries server side.

Prints one JSON line prefixed ``SCALE `` with the figures in milliseconds (medians).
The runs are cloned in SQL from one run created through the ORM, so they have what a real run
has in the tables the queries touch (jobs, states, times, the pipeline snapshot).
"""
# ruff: noqa: F821 - ``env`` is given by odoo-bin shell
import json
import os
import statistics
import time

RUNS = int(os.environ.get("IGR_SCALE_RUNS", "10000"))
JOBS = 10
REPEAT = int(os.environ.get("IGR_SCALE_REPEAT", "15"))


def median_ms(env, call, repeat=REPEAT, before=None):
    """Median wall time of ``call``, each sample with the ORM's caches emptied (a new request)."""
    samples = []
    for _ in range(repeat):
        if before:
            before()
        env.invalidate_all()
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def seed(env):
    cr = env.cr
    runner = env["release.runner"].search([("active", "=", True)], limit=1)
    pipeline = env["release.pipeline"].search([("code", "=", "PL-ODOO-MOD")])
    template = pipeline._create_run(env["release.repository"], {"ref": "refs/heads/main", "sha": "a" * 40}, "scale-template")
    keep = template.job_ids.sorted("id")[:JOBS]
    (template.job_ids - keep).unlink()
    cr.execute(
        """UPDATE release_job SET state = 'succeeded', exit_code = 0, attempt = 1,
                  started_at = now() - interval '1 day', finished_at = now() - interval '1 day' + interval '40 seconds'
            WHERE run_id = %s""",
        [template.id],
    )
    cr.execute(
        """INSERT INTO release_run (pipeline_id, ref, commit_sha, state, fingerprint, params_json, triggered_by_id,
                                    started_at, finished_at, create_uid, write_uid, create_date, write_date)
           SELECT r.pipeline_id, r.ref, md5(g::text) || md5((g + 1)::text), CASE WHEN g %% 7 = 0 THEN 'failed' ELSE 'succeeded' END,
                  'scale-' || g, r.params_json, r.triggered_by_id,
                  now() - (g || ' minutes')::interval, now() - (g || ' minutes')::interval + interval '5 minutes',
                  r.create_uid, r.write_uid, now() - (g || ' minutes')::interval, now() - (g || ' minutes')::interval
             FROM release_run r, generate_series(1, %s) g WHERE r.id = %s
           RETURNING id""",
        [RUNS - 1, template.id],
    )
    columns = [
        "pipeline_id", "stage_id", "stage_sequence", "environment_id", "task_id", "sequence", "exit_code",
        "attempt", "stage_key", "task_key", "name", "state", "mode", "required_labels", "allow_failure",
        "started_at", "finished_at", "create_uid", "write_uid", "create_date", "write_date",
    ]
    names = ", ".join(columns)
    cr.execute(
        f"""INSERT INTO release_job (run_id, runner_id, {names})
            SELECT r.id, CASE WHEN j.mode = 'run' THEN %s END, {", ".join("j." + c for c in columns)}
              FROM release_run r JOIN release_job j ON j.run_id = %s
             WHERE r.fingerprint LIKE 'scale-%%' AND r.id <> %s""",
        [runner.id, template.id, template.id],
    )
    cr.execute("ANALYZE release_run; ANALYZE release_job")
    env.cr.commit()
    return template


def queued_run(env, count=100):
    """One run whose ``count`` jobs are queued, as after a push of a wide stage."""
    cr = env.cr
    pipeline = env["release.pipeline"].search([("code", "=", "PL-ODOO-MOD")])
    run = pipeline._create_run(env["release.repository"], {"ref": "refs/heads/main", "sha": "b" * 40}, "scale-queued")
    first = run.job_ids.sorted("id")[0]
    cr.execute(
        """INSERT INTO release_job (run_id, pipeline_id, stage_id, stage_sequence, task_id, sequence, attempt, stage_key,
                                    task_key, name, state, mode)
           SELECT run_id, pipeline_id, stage_id, stage_sequence, task_id, g, 1, stage_key, task_key, name || ' ' || g, 'queued', 'run'
             FROM release_job, generate_series(1, %s) g WHERE id = %s""",
        [count, first.id],
    )
    cr.execute("DELETE FROM release_job WHERE run_id = %s AND state <> 'queued' OR id = %s", [run.id, first.id])
    cr.execute("UPDATE release_run SET state = 'running' WHERE id = %s", [run.id])
    env.cr.commit()
    return run


def list_spec(env, model, view_type):
    view = env[model].get_views([(False, view_type)])["views"][view_type]
    fields = env[model].fields_get()
    spec = {}
    for name in view["arch"].split("<field name=\"")[1:]:
        name = name.split("\"", 1)[0]
        if name in fields:
            spec[name] = {"fields": {"display_name": {}}} if fields[name]["type"] == "many2one" else {}
    return spec


def main(env):
    if env["release.run"].search_count([]) < RUNS:
        seed(env)
    Scheduler = env["release.scheduler"]
    user = env.ref("base.user_admin")  # record rules apply to it, as to any user of the screens
    Run = env["release.run"].with_user(user)
    figures = {"runs": env["release.run"].search_count([]), "jobs": env["release.job"].search_count([])}

    figures["scheduler_idle_tick_ms_10k"] = median_ms(env, Scheduler._tick_once)

    run = queued_run(env)
    runner = env["release.runner"].search([("active", "=", True)], limit=1)
    runner.capacity = 100
    env.cr.commit()

    def requeue():
        env.cr.execute(
            "UPDATE release_job SET state = 'queued', runner_id = NULL, claim_token = NULL, claimed_at = NULL WHERE run_id = %s",
            [run.id],
        )
        env.cr.commit()

    claimed = []
    figures["scheduler_claim_100_ms_10k"] = median_ms(
        env,
        lambda: claimed.append(len(Scheduler._step("_claim", runner.id))), repeat=7, before=requeue
    )
    if set(claimed) != {100}:
        raise RuntimeError(f"a claim took {sorted(set(claimed))} jobs, not 100")
    requeue()
    env.cr.execute("UPDATE release_job SET state = 'cancelled' WHERE run_id = %s", [run.id])
    env.cr.execute("UPDATE release_run SET state = 'cancelled' WHERE id = %s", [run.id])
    runner.capacity = 2
    env.cr.commit()

    middle = env["release.run"].search([("fingerprint", "=like", "scale-%")], order="id", offset=RUNS // 2, limit=1)
    figures["api_status_ms_10k"] = median_ms(env, lambda: Run.api_status(middle.id))

    spec = list_spec(env, "release.run", "list")
    figures["runs_list_ms_10k"] = median_ms(env, lambda: Run.web_search_read([], spec, limit=80))
    kanban = list_spec(env, "release.run", "kanban")

    def kanban_page():
        groups = Run.web_read_group([], ["state"], ["state"])
        for group in groups["groups"]:
            Run.web_search_read(group["__domain"], kanban, limit=40)

    figures["runs_kanban_ms_10k"] = median_ms(env, kanban_page)
    print("SCALE " + json.dumps(figures), flush=True)


main(env)
