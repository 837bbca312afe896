"""Deploy n8n workflows through n8n's public API (``/api/v1``), verify them, roll them back.

``N8nClient`` is a thin HTTP client (urllib, never proxied: targets are often on loopback or
a private network). ``deploy`` validates a workflow, pushes its normalised form, sets the
active state, reads it back and compares; ``rollback`` pushes a previous version the same way.

A deploy never leaves a broken workflow active. n8n saves a PUT before it checks the nodes
(a PUT with an unknown node type answers 400 with the new definition saved and marked
active), so every failure from the PUT on deactivates the workflow, restores the previous
version, re-activates it when it was active, and reads that back too.

The API key goes in a header only; messages are masked with it in case n8n echoes it.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

from ...execution.masking import Masker
from .workflow import SETTINGS_DEFAULTS, WorkflowError, normalise, scan_secrets, validate, version_of

PAGE_SIZE = 250  # the API's maximum
# Settings a PUT can take back to the instance default. n8n merges a PUT's settings into the
# stored ones, so leaving a key out keeps the old value; these values make n8n drop it.
# The others (executionOrder, callerIds, saveManualExecutions, ...) cannot be cleared through
# the API: a version that leaves them out keeps the target's value, and comparisons allow that.
CLEARING_SETTINGS = {"errorWorkflow": "DEFAULT", "timezone": "DEFAULT", **SETTINGS_DEFAULTS}


class N8nError(Exception):
    """A failed call or deploy; ``status`` is the HTTP status when n8n answered."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class N8nClient:
    def __init__(self, base_url, api_key, timeout=10):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._masker = Masker([api_key])
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self):
        return f"N8nClient({self.base_url!r})"  # never the key

    def list_workflows(self, name=None):
        """All workflows, or those named exactly ``name`` (n8n's own filter matches substrings)."""
        found, cursor = [], None
        while True:
            query = {"limit": PAGE_SIZE, "excludePinnedData": "true"}
            query.update({"name": name} if name is not None else {})
            query.update({"cursor": cursor} if cursor else {})
            page = self._call("GET", "/workflows", query=query)
            found += [w for w in page.get("data", []) if name is None or w.get("name") == name]
            cursor = page.get("nextCursor")
            if not cursor:
                return found

    def find_by_name(self, name):
        """Workflows named exactly ``name`` that can still be updated (not archived)."""
        return [w for w in self.list_workflows(name) if not w.get("isArchived")]

    def get(self, workflow_id):
        return self._call("GET", f"/workflows/{_quote(workflow_id)}", query={"excludePinnedData": "true"})

    # pylint-odoo takes any "create" for an Odoo model method; this one is an HTTP call.
    def create(self, workflow):  # pylint: disable=method-required-super
        return self._call("POST", "/workflows", workflow)

    def update(self, workflow_id, workflow):
        return self._call("PUT", f"/workflows/{_quote(workflow_id)}", workflow)

    def activate(self, workflow_id):
        return self._call("POST", f"/workflows/{_quote(workflow_id)}/activate")

    def deactivate(self, workflow_id):
        return self._call("POST", f"/workflows/{_quote(workflow_id)}/deactivate")

    def delete(self, workflow_id):
        return self._call("DELETE", f"/workflows/{_quote(workflow_id)}")

    def _call(self, method, path, body=None, query=None):
        url = f"{self.base_url}/api/v1{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"X-N8N-API-KEY": self._api_key, "Accept": "application/json", "Content-Type": "application/json"}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise self._http_error(method, path, error) from None
        except (urllib.error.URLError, OSError) as error:  # refused, unresolvable, timed out
            reason = getattr(error, "reason", None) or error
            raise N8nError(self._mask(f"n8n at {self.base_url} does not answer: {reason}")) from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise N8nError(f"n8n at {self.base_url}: {method} {path}: the answer is not JSON") from None

    def _http_error(self, method, path, error):
        status = error.code
        if status == 401:
            return N8nError(f"n8n at {self.base_url}: the API key was refused (HTTP 401)", status)
        try:
            message = json.loads(error.read()).get("message") or ""
        except (ValueError, AttributeError, OSError):
            message = "(no JSON message)"
        if status == 403:
            message = f"the API key lacks the scope for this call: {message}"
        return N8nError(self._mask(f"n8n at {self.base_url}: {method} {path}: HTTP {status}: {message}"), status)

    def _mask(self, text):
        return self._masker.mask(text)


def _quote(workflow_id):
    return urllib.parse.quote(str(workflow_id), safe="")


# --- deploy and rollback


def deploy(client, workflow, active, workflow_id=None, filename="workflow"):
    """Push ``workflow`` (a loaded file) to ``client``'s n8n and leave it ``active`` or not.

    The target is the workflow with id ``workflow_id`` when given and present, else the one
    named exactly like ``workflow``, else a new one. Returns ``{id, action, version, active,
    previous, previous_version, previous_active}`` with action created/updated/unchanged and
    ``previous`` the normalised version it replaced (None when created), for ``rollback``.
    Raises WorkflowError when the workflow is invalid or holds secrets (nothing is pushed),
    N8nError when n8n refuses or the result does not read back as pushed.
    """
    desired = _checked(workflow, filename, active)
    remote = _find(client, desired["name"], workflow_id)
    if remote is None:
        return _create(client, desired, active)
    return _update(client, remote, desired, active, "deploy")


def rollback(client, workflow_id, previous, active):
    """Re-push ``previous`` (a deploy's ``previous``) with its active flag ``active``.

    With ``previous`` None the deploy had created the workflow: it is deactivated and deleted.
    The version is not validated again: n8n ran it before.
    """
    if previous is None:
        _discard(client, workflow_id)
        return {"id": workflow_id, "action": "deleted", "version": None, "active": False}
    return _update(client, client.get(workflow_id), previous, active, "rollback")


def _checked(workflow, filename, active):
    errors = [str(problem) for problem in validate(workflow, filename, active)]
    errors += [f"{filename}: {finding} (use an n8n credential or an expression)" for finding in scan_secrets(workflow)]
    if errors:
        raise WorkflowError(f"{filename}: not deployed, {len(errors)} problem(s):\n  " + "\n  ".join(errors), errors)
    return normalise(workflow)


def _find(client, name, workflow_id):
    if workflow_id:
        try:
            remote = client.get(workflow_id)
        except N8nError as error:
            if error.status != 404:
                raise
        else:
            if not remote.get("isArchived"):
                return remote
        # The stored id is gone or archived (deleted in n8n, instance rebuilt): match by name.
    matches = client.find_by_name(name)
    if len(matches) > 1:
        ids = ", ".join(str(w["id"]) for w in matches)
        raise N8nError(
            f"n8n at {client.base_url} has {len(matches)} workflows named {name!r} ({ids}): deploy with the id of the one to update"
        )
    return client.get(matches[0]["id"]) if matches else None


def _create(client, desired, active):
    try:
        workflow_id = client.create(desired)["id"]
    except N8nError as error:
        raise N8nError(
            f"{_what(client, desired, 'deploy')} failed: {error}; nothing was created", error.status
        ) from None
    try:
        _apply_active(client, workflow_id, desired, active)
        _verify(client, workflow_id, desired, active)
    except N8nError as error:
        undone = _try(lambda: _discard(client, workflow_id))
        outcome = "the new workflow was deactivated and deleted" if undone is None else f"deleting it failed: {undone}"
        raise N8nError(f"{_what(client, desired, 'deploy')} failed: {error}; {outcome}", error.status) from None
    return _result(workflow_id, "created", desired, active, None, False)


def _update(client, remote, desired, active, verb):
    workflow_id, was_active = remote["id"], bool(remote.get("active"))
    previous = normalise(remote)
    same = not _differences(desired, previous)
    if same and was_active == active and (not active or _runs(remote, desired)):
        return _result(workflow_id, "unchanged", desired, active, previous, was_active)
    try:
        if was_active and not active:
            client.deactivate(workflow_id)  # before the PUT, which would publish it
        if not same:
            client.update(workflow_id, _put_body(desired, remote))
        _apply_active(client, workflow_id, desired, active)
        _verify(client, workflow_id, desired, active)
    except N8nError as error:
        _restore(client, workflow_id, f"{_what(client, desired, verb)} failed: {error}", previous, was_active, error)
    return _result(workflow_id, "updated", desired, active, previous, was_active)


def _restore(client, workflow_id, failed, previous, was_active, error):
    """Put ``previous`` back after a failed push, then raise ``failed`` and the outcome (always)."""

    def put_back():
        client.deactivate(workflow_id)
        client.update(workflow_id, _put_body(previous, client.get(workflow_id)))
        _apply_active(client, workflow_id, previous, was_active)
        _verify(client, workflow_id, previous, was_active)

    restore_error = _try(put_back)
    if restore_error is None:
        state = "and re-activated" if was_active else "(inactive, as it was)"
        raise N8nError(
            f"{failed}. Workflow {workflow_id} was deactivated and its previous version "
            f"{version_of(previous)[:12]} restored {state}.",
            error.status,
        ) from None
    deactivated = _try(lambda: client.deactivate(workflow_id)) is None
    left = "it is left deactivated" if deactivated else "deactivating it failed too: check it in n8n"
    raise N8nError(
        f"{failed}. Restoring the previous version failed too: {restore_error}; {left}.", error.status
    ) from None


def _try(action):
    """Run ``action``; the N8nError it raised, or None."""
    try:
        action()
    except N8nError as error:
        return error
    return None


def _discard(client, workflow_id):
    client.deactivate(workflow_id)
    client.delete(workflow_id)


def _apply_active(client, workflow_id, desired, active):
    current = client.get(workflow_id)
    if active and not _runs(current, desired):
        client.activate(workflow_id)  # publishes the saved version
    elif not active and current.get("active"):
        client.deactivate(workflow_id)


def _verify(client, workflow_id, desired, active):
    remote = client.get(workflow_id)
    differences = _differences(desired, normalise(remote))
    if differences:
        raise N8nError(f"the read-back differs from what was pushed in {', '.join(differences)}")
    if bool(remote.get("active")) != active:
        raise N8nError(f"the read-back shows the workflow {'inactive' if active else 'still active'}")
    if active and not _runs(remote, desired):
        raise N8nError("the read-back shows another version published (active) than the one pushed")


def _runs(remote, desired):
    """Whether n8n runs ``desired``: active, with it as the published version."""
    published = remote.get("activeVersion")
    if not remote.get("active") or not published:
        return False
    version = normalise({"name": desired["name"], "nodes": published["nodes"], "connections": published["connections"]})
    return (
        _comparable(version["nodes"]) == _comparable(desired["nodes"])
        and version["connections"] == desired["connections"]
    )


def _differences(expected, actual):
    """What differs between two normalised versions, as readable paths."""
    found = ["name"] if expected["name"] != actual["name"] else []
    ours, theirs = dict(_comparable(expected["nodes"])), dict(_comparable(actual["nodes"]))
    changed = sorted(name for name in ours | theirs if ours.get(name) != theirs.get(name))
    found += [f"nodes {changed}"] if changed else []
    found += ["node order"] if not changed and list(ours) != list(theirs) else []
    found += ["connections"] if expected["connections"] != actual["connections"] else []
    ours, theirs = expected["settings"], actual["settings"]
    # A setting the version leaves out that the API cannot clear keeps the target's value.
    keys = set(ours) | {k for k in theirs if k in CLEARING_SETTINGS}
    found += [f"settings.{k}" for k in sorted(keys) if ours.get(k) != theirs.get(k)]
    return found


def _comparable(nodes):
    """(name, node) pairs, credentials by name: n8n re-points a credential id it does not have
    to its own credential of the same type and name, so ids legitimately differ per instance."""
    pairs = []
    for node in nodes:
        credentials = node.get("credentials")
        if isinstance(credentials, dict):
            names = {kind: ref.get("name") if isinstance(ref, dict) else ref for kind, ref in credentials.items()}
            node = {**node, "credentials": names}
        pairs.append((node["name"], node))
    return pairs


def _put_body(desired, remote):
    """``desired`` as a PUT body: settings it leaves out that the target has are cleared."""
    body = dict(desired)
    stale = {k: v for k, v in CLEARING_SETTINGS.items() if k in (remote.get("settings") or {})}
    body["settings"] = {**stale, **desired["settings"]}
    return body


def _what(client, desired, verb):
    return f"{verb} of {desired['name']!r} (version {version_of(desired)[:12]}) to n8n at {client.base_url}"


def _result(workflow_id, action, desired, active, previous, previous_active):
    return {
        "id": workflow_id,
        "action": action,
        "version": version_of(desired),
        "active": active,
        "previous": previous,
        "previous_version": version_of(previous) if previous else None,
        "previous_active": previous_active,
    }
