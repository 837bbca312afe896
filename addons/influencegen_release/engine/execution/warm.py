"""Warm containers: created and started ahead, before any job needs them, so that a job's
start is a write to a waiting container instead of Docker's create and start (half a second
or more).

A warm container is made with the job defaults (no network, the task's resource limits, a job
volume of its own mounted as every job's is, its folders owned by the job's user:
``skeleton``) and no environment at all; its command waits on its stdin, which stays open for
one client (``ContainerSpec.stdin``). The job's start writes one tar there
(``DockerRunner.feed``: one attach, a few milliseconds, where a ``put_archive`` costs Docker
60-100 ms) and hangs up: ``src/``, ``workspace/`` and ``job/``: the environment file (task
variables, secrets, the job's own variables), the command and, last member of the tar, the
marker ``/.igr/job/go``. The wait unpacks it, sources the environment, deletes its file and
``exec``s the job's command as ``/bin/sh -c`` does it for a container started the usual way:
the job's logs, exit code, OOM flag, timeout and die event are the container's own. Secrets
never appear in the container's configuration (``docker inspect``) and the file that carried
them is gone once the command begins. A stream cut short leaves no marker: the container ends
with ``UNFED_EXIT`` and prints nothing; an image without ``tar`` ends so at once, and the
scheduler stops making warm containers of it.

One container per job, always: a warm container is assigned once (its row is deleted in the
transaction that assigns it) and removed after its job, like any job container.
"""

import hashlib
import io
import re
import tarfile

JOB_DIR = "job"  # in the job volume (mounted at /.igr): what the wait below reads
MARKER = f"/.igr/{JOB_DIR}/go"
NO_TAR = f"/.igr/{JOB_DIR}/no-tar"  # left by the wait of an image without tar: not kept warm again
UNFED_EXIT = 125  # the warm container's end when its files did not all come (or it has no tar)
# The wait itself: no output (the job's log is the command's), the files unpacked from stdin,
# the command's stdin closed as a container started the usual way has it, the environment
# sourced then deleted, the command exec'd.
WAIT_SCRIPT = (
    f"command -v tar >/dev/null 2>&1 || {{ : >{NO_TAR}; exit {UNFED_EXIT}; }}; "
    f"tar -x -f - -C /.igr 2>/dev/null; [ -e {MARKER} ] || exit {UNFED_EXIT}; "
    f". /.igr/{JOB_DIR}/env && rm -f /.igr/{JOB_DIR}/env && "
    f'exec /bin/sh -c "$(cat /.igr/{JOB_DIR}/command)" </dev/null'
)
# The job volume's folders, made by Docker (as root) for the binds: the job's user unpacks there.
SKELETON = ("src", "workspace", JOB_DIR)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def warm_key(task):
    """What a warm container must share with a task to run it: image and limits, as a string;
    None when the task needs a container of its own (it declares a network, or a variable
    name a shell cannot export), which it then gets the usual way."""
    if task.get("network", "none") != "none" or task.get("uses") or not task.get("image"):
        return None
    if any(not _NAME.match(str(name)) for name in task.get("env") or {}):
        return None
    if any(not _NAME.match(str(name)) for name in task.get("secrets") or []):
        return None
    return f"{task['image']}|cpus={float(task['cpus'])}|memory={int(task['memory'])}|pids={int(task['pids'])}"


def key_label(key):
    """A short digest of ``warm_key`` for the container's labels."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def quote(value):
    """``value`` as one single-quoted shell word (a ``'`` inside becomes ``'\\''``)."""
    return "'" + str(value).replace("'", "'\\''") + "'"


def env_file(env):
    """The environment as ``export NAME='value'`` lines; names are checked (``warm_key``)."""
    lines = []
    for name, value in env.items():
        if not _NAME.match(str(name)):
            raise ValueError(f"'{name}' is not a variable name a shell can export")
        lines.append(f"export {name}={quote(value)}\n")
    return "".join(lines).encode()


def skeleton(uid):
    """A tar of the job volume's folders owned by ``uid``, put into a warm container before
    its start (as root, by Docker): its wait, as the job's user, can unpack into them."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name in SKELETON:
            folder = tarfile.TarInfo(name)
            folder.type, folder.mode = tarfile.DIRTYPE, 0o700 if name == JOB_DIR else 0o755
            folder.uid = folder.gid = uid
            tar.addfile(folder)
    data.seek(0)
    return data


def job_members(env, command, uid):
    """``[(TarInfo, fileobj)]`` of ``job/``: the folder (the job's user may delete the
    environment file in it), the environment (read by that user only), the command, and
    last the marker that releases the wait."""
    members = []
    folder = tarfile.TarInfo(JOB_DIR)
    folder.type, folder.mode = tarfile.DIRTYPE, 0o700
    members.append((folder, None))
    for name, data, mode in (("env", env_file(env), 0o400), ("command", command.encode(), 0o400), ("go", b"", 0o400)):
        member = tarfile.TarInfo(f"{JOB_DIR}/{name}")
        member.size, member.mode = len(data), mode
        members.append((member, io.BytesIO(data)))
    for member, _data in members:
        member.uid = member.gid = uid
        member.uname = member.gname = ""
    return members
