"""Every process a stack started, found by a mark in its environment, so that none outlives it.

The servers of a stack start in sessions of their own (to be stopped with their children), so a
killed or timed-out demo would leave them running, and using CPU for the rest of a CI run. Each
child inherits the environment, hence ``IGR_STACK_MARK``: ``reap(mark)`` finds them in /proc
whatever became of their parent.
"""

import contextlib
import os
import signal
import time
import uuid

MARK = "IGR_STACK_MARK"


def new_mark():
    return uuid.uuid4().hex


def marked(mark):
    """PIDs of the processes whose environment holds ``IGR_STACK_MARK=mark`` (not this one)."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # ended meanwhile, or not ours to read
            continue
    return found


def reap(mark, grace_s=15):
    """SIGTERM what is left, SIGKILL what is still there after ``grace_s``; returns the PIDs found."""
    found = marked(mark)
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5)):
        for pid in marked(mark):
            with contextlib.suppress(OSError):  # ended meanwhile
                os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while marked(mark) and time.monotonic() < deadline:
            time.sleep(0.2)
    return found
