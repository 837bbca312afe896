"""Human decisions through a real server: two CAB members approving at the same moment."""

import os
import threading

from devstack.odoo_server import Api
from devstack.repository import commit_pipeline_text, gated_pipeline, init_repository

from .repos import make_user


def test_two_cab_members_deciding_at_the_same_moment_give_one_outcome(server, workdir):
    origin = init_repository(os.path.join(workdir, "cab-origin"))
    sha = commit_pipeline_text(origin, gated_pipeline("PL-IT-CAB", "Go/No-Go race", "{group: cab_member, quorum: 2}"), "cab pipeline")
    api = Api()
    repo_id = api("release.repository", "create", {"name": "it-cab", "url": origin.working_tree_dir})
    api("release.repository", "action_load_pipeline_file", [repo_id])
    members = [make_user(api, login, "cab_member") for login in ("it_cab1", "it_cab2")]
    outsider = make_user(api, "it_dev", "developer")

    [summary] = api("release.run", "api_trigger", {"repository": "it-cab", "ref": "refs/heads/main", "after": sha, "pusher": "dev"})["runs"]
    status = api.wait_run(summary["id"], states=("waiting_approval",), timeout=60)
    [request] = status["approvals"]
    assert request["state"] == "pending"
    try:
        outsider("release.approval", "api_decide", request["id"], "approve", "let me")
        raise AssertionError("a developer outside the CAB could approve")
    except Exception as exc:  # the server's AccessError, marshalled as an XML-RPC fault
        assert "AccessError" in str(exc) or "not allowed" in str(exc) or "not among the approvers" in str(exc), exc

    barrier, results, errors = threading.Barrier(2), {}, []

    def decide(member):
        barrier.wait()
        try:
            results[member.uid] = member("release.approval", "api_decide", request["id"], "approve", "Go")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=decide, args=(member,)) for member in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    # One call saw the first vote, the other the second: no lost vote, one decision.
    assert sorted(r["state"] for r in results.values()) == ["approved", "pending"], results
    [approval] = api("release.approval", "read", [request["id"]], ["state", "vote_ids"])
    assert approval["state"] == "approved" and len(approval["vote_ids"]) == 2

    final = api.wait_run(summary["id"], timeout=60)
    assert final["state"] == "succeeded", final
    deploy_jobs = api("release.job", "search_read", [("run_id", "=", summary["id"]), ("task_key", "=", "deploy")], ["state", "attempt"])
    assert deploy_jobs == [{"id": deploy_jobs[0]["id"], "state": "succeeded", "attempt": 1}]
    assert api("release.job", "api_log", [deploy_jobs[0]["id"]], tail=10)["text"] == "deployed"
