"""The stamp on a backup database (its PostgreSQL comment): when it was taken and the module
fingerprint of production then. The deploy agent stamps its backup copy, the rehearsal the
fresh backup it takes; a rehearsal copies a backup only when production's fingerprint is
still the stamped one (no deploy since) and the stamp is recent (rehearsal.py)."""

import json

STAMP = "igr-backup "  # this prefix, then JSON: taken_at (epoch seconds), modules (the fingerprint)
# Every module's name, state, version and last write: an upgrade (even of code whose version
# did not change) or an install writes its row, so a deploy since the backup changes this.
FINGERPRINT = (
    "SELECT md5(string_agg(name || ':' || state || ':' || coalesce(latest_version, '') || ':' "
    "|| coalesce(write_date::text, ''), ',' ORDER BY name)) FROM ir_module_module"
)


def stamp_sql(ident, literal, database, taken_at, fingerprint):
    """``COMMENT ON DATABASE``: ``ident`` and ``literal`` quote for SQL (agent.py's)."""
    stamp = STAMP + json.dumps({"taken_at": round(taken_at, 3), "modules": fingerprint}, sort_keys=True)
    return f"COMMENT ON DATABASE {ident(database)} IS {literal(stamp)}"


def read_stamp(comment):
    """The stamp of a database comment, or None (not ours, or unreadable)."""
    if not (comment or "").startswith(STAMP):
        return None
    try:
        stamp = json.loads(comment[len(STAMP) :])
    except ValueError:
        return None
    return stamp if isinstance(stamp, dict) and stamp.get("modules") and stamp.get("taken_at") else None
