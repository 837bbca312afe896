"""Environment parity (REQ-DI-ENVPAR): compare what runs where, component by component.

``compare(states)`` takes ``{environment: {component: fingerprint}}`` where a fingerprint is a
small dict (an Odoo module's version and code checksum, an n8n workflow's version and active
flag) and returns one row per component with every environment's value and whether they
differ. A component missing from an environment is drift too.
"""

from dataclasses import dataclass


@dataclass
class ParityRow:
    component: str
    values: dict  # environment -> fingerprint or None
    drift: bool


def compare(states):
    environments = list(states)
    components = sorted({name for state in states.values() for name in state})
    rows = []
    for name in components:
        values = {env: states[env].get(name) for env in environments}
        distinct = {_key(value) for value in values.values()}
        rows.append(ParityRow(name, values, len(distinct) > 1))
    return rows


def describe(fingerprint):
    """Short text of a fingerprint for reports: ``18.0.1.0.1 · 3f2a9c1b0d4e``."""
    if not fingerprint:
        return "missing"
    parts = [str(fingerprint.get("version") or "?")]
    if fingerprint.get("checksum"):
        parts.append(str(fingerprint["checksum"])[:12])
    if "active" in fingerprint:
        parts.append("active" if fingerprint["active"] else "inactive")
    return " · ".join(parts)


def _key(value):
    return tuple(sorted((value or {}).items()))
