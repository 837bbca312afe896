"""Run Ansible (and Terraform) for the IaC actions in a runner container, and wait for it.

Why a container and not the control plane's own process: a playbook is code from the
repository. In the runner image (``influencegen/runner-iac``) it runs as uid 1000 with a
read-only root, no capabilities, CPU, memory and pid limits, a wall-clock timeout and no
network at all, so it reaches nothing but its job volume: the commit at ``/src`` (read-only), its
workspace at ``/workspace`` and a copy of the environment's infrastructure folder at
``/target`` (read-write to apply, and then copied back; read-only to plan and to gather
facts), all sent and read back through the Docker API: the runner host needs no shared folder. Hosts of the inventory use
``ansible_connection: local`` and a ``target_root`` under ``/target``. A ``docker`` connection
would need the Docker socket inside the step, which is root on the runner host: refused.

The command's JSON goes to a file of the workspace (``ansible.posix.json`` stdout callback, or
``terraform show -json``); its stderr is the log. The container is removed once read.
"""

import contextlib
import json
import os
import shlex
import tempfile
from dataclasses import dataclass, field

from ...execution import job_files
from ...execution.docker_runner import ContainerSpec, LogCursor, RunnerError
from ...execution.job_files import JOB_UID, WORKSPACE

TARGET = "/target"
RESULT = "result.json"
ANSIBLE_ENV = {
    "HOME": "/tmp",  # the root filesystem is read-only; /tmp is a tmpfs
    "ANSIBLE_LOCAL_TEMP": "/tmp/.ansible",
    "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
    "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",  # ad-hoc commands (facts) use the stdout callback too
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_DEPRECATION_WARNINGS": "0",
    "ANSIBLE_RETRY_FILES_ENABLED": "0",
}
FACTS_ARGS = "gather_subset=!all,!min,local fact_path={{ target_root }}/facts.d"
LOG_LIMIT = 64 * 1024  # of the log kept for an error message


class IacRunError(Exception):
    """The tool could not run or produced no readable result; the message says why."""


@dataclass
class IacCall:
    """One tool run: ``command`` reads ``/src`` and writes ``/workspace/result.json``."""

    name: str
    image: str
    command: str
    source_dir: str
    workspace_dir: str
    target_dir: str = ""
    target_writable: bool = False
    labels: dict = field(default_factory=dict)
    timeout: int = 600
    cpus: float = 1.0
    memory_mb: int = 512
    env: dict = field(default_factory=dict)


def _src(path):
    return shlex.quote(f"/src/{path}")


def playbook_command(inventory, playbook, check):
    """``ansible-playbook`` with diffs, in check mode for a plan."""
    mode = " --check" if check else ""
    return f"ansible-playbook -i {_src(inventory)} {_src(playbook)} --diff{mode} > /workspace/{RESULT}"


def facts_command(inventory):
    """The local facts (``{{ target_root }}/facts.d/*.fact``) of every host of the inventory."""
    return f"ansible all -i {_src(inventory)} -m ansible.builtin.setup -a {shlex.quote(FACTS_ARGS)} > /workspace/{RESULT}"


def terraform_command(folder, var_file=None):
    """A saved plan shown as JSON; fails with a clear line when the image has no Terraform.
    ``var_file`` (``terraform/<environment>.tfvars``) gives the environment's variables."""
    chdir = shlex.quote(f"-chdir=/src/{folder}")
    variables = f" -var-file={_src(var_file)}" if var_file else ""
    return (
        "command -v terraform >/dev/null || { echo 'terraform is not in this image: name an image with Terraform "
        "(with.terraform_image) to plan Terraform code' >&2; exit 127; }; "
        f"terraform {chdir} init -backend=false -input=false >&2 && "
        f"terraform {chdir} plan -input=false{variables} -out=/workspace/tfplan >&2 && "
        f"terraform {chdir} show -json /workspace/tfplan > /workspace/{RESULT}"
    )


def run(client, call):
    """Run ``call`` on ``client`` (a DockerRunner) and wait; return ``(exit_code, result, log)``
    with ``result`` the parsed JSON (None when the command wrote none).

    The runner host sees none of the control plane's folders: ``source_dir``,
    ``workspace_dir`` and ``target_dir`` go into the container's job volume through the
    Docker API, and the workspace (with the result) and, to apply, the target come back the
    same way once it ended (``job_files``)."""
    if os.path.exists(os.path.join(call.workspace_dir, RESULT)):
        os.remove(os.path.join(call.workspace_dir, RESULT))  # a shared workspace: never read an earlier result
    folders = {}
    if call.target_dir:
        folders["target"] = {"bind": TARGET, "mode": "rw" if call.target_writable else "ro"}
    spec = ContainerSpec(
        name=call.name,
        image=call.image,
        command=call.command,
        labels=call.labels,
        env=dict(ANSIBLE_ENV, **call.env),
        network="none",
        cpus=call.cpus,
        memory_mb=call.memory_mb,
        volume_folders=folders,
    )
    with contextlib.ExitStack() as stack:
        inputs = [(call.source_dir, "src", 0), (call.workspace_dir, "workspace", JOB_UID)]
        if call.target_dir:
            inputs.append((call.target_dir, "target", JOB_UID))
        archives = []
        for path, prefix, uid in inputs:
            archive = stack.enter_context(tempfile.TemporaryFile())
            job_files.folder_archive(path, prefix, archive, uid)
            archive.seek(0)
            archives.append(archive)
        container_id = client.start(spec, archives)
    try:
        state, timed_out = client.wait_exit(container_id, call.timeout)
        if state is None:
            raise IacRunError(f"{call.name}: the container vanished before it ended")
        if call.target_dir and call.target_writable:  # what the apply changed, even half-way
            job_files.fetch_folder(client, container_id, TARGET, call.target_dir)
        if timed_out:
            raise IacRunError(f"{call.name}: stopped after the {call.timeout} s timeout")
        chunks = []
        client.copy_logs(container_id, LogCursor(), chunks.append)
        log = b"".join(chunks).decode("utf-8", "replace")
        if state.oom_killed:
            raise IacRunError(f"{call.name}: killed, out of memory ({call.memory_mb} MB)")
        job_files.fetch_folder(client, container_id, WORKSPACE, call.workspace_dir)
    except job_files.JobFileError as exc:
        raise IacRunError(f"{call.name}: {exc}") from exc
    finally:
        # A container that cannot be removed now stays, stopped, with its influencegen.iac labels.
        with contextlib.suppress(RunnerError):
            client.remove(container_id)
        with contextlib.suppress(RunnerError):
            client.remove_volume(call.name)
    return state.exit_code, _read_result(call), log[-LOG_LIMIT:]


def _read_result(call):
    path = os.path.join(call.workspace_dir, RESULT)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    if not text.strip():
        return None
    start = text.find("{")  # a warning printed on stdout before the JSON document
    try:
        return json.loads(text[start:] if start > 0 else text)
    except ValueError as exc:
        raise IacRunError(f"{call.name}: its output is not JSON: {exc}") from exc

