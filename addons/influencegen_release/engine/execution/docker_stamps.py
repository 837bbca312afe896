"""Docker's RFC 3339 timestamps (log lines, events) as nanoseconds since the epoch."""

import calendar
import functools
import time


def parse_ns(stamp):
    """Nanoseconds since the epoch of a Docker RFC 3339 timestamp, or None."""
    try:
        text = stamp.decode() if isinstance(stamp, bytes) else stamp
        text = text.rstrip("Z")
        whole, _dot, fraction = text.partition(".")
        seconds = _epoch_seconds(whole)
        return seconds * 10**9 + int((fraction or "0").ljust(9, "0")[:9])
    except (ValueError, UnicodeDecodeError):
        return None


@functools.lru_cache(maxsize=256)
def _epoch_seconds(whole):
    """``time.strptime`` costs tens of microseconds, and a big log has a million lines that
    share a few hundred seconds: each second is parsed once."""
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
