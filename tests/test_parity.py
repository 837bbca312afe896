"""Parity rows: equal components agree, a changed or missing one is drift."""

from influencegen_release.engine.delivery.parity import compare, describe


def test_drift_is_a_different_fingerprint_or_a_missing_component():
    staging = {"sale_ext": {"version": "18.0.1.0.1", "checksum": "b" * 40}, "stock_ext": {"version": "18.0.1.0.0", "checksum": "c" * 40}}
    production = {"sale_ext": {"version": "18.0.1.0.0", "checksum": "a" * 40}, "stock_ext": {"version": "18.0.1.0.0", "checksum": "c" * 40}}
    development = dict(staging, hr_ext={"version": "18.0.1.0.0", "checksum": "d" * 40})
    rows = {row.component: row for row in compare({"dev": development, "staging": staging, "prod": production})}
    assert [name for name, row in rows.items() if row.drift] == ["hr_ext", "sale_ext"]
    assert rows["stock_ext"].drift is False
    assert rows["hr_ext"].values["prod"] is None
    assert describe(rows["sale_ext"].values["staging"]) == "18.0.1.0.1 · bbbbbbbbbbbb"
    assert describe(None) == "missing"
    assert describe({"version": "ab12", "active": False}) == "ab12 · inactive"


def test_one_environment_never_drifts():
    assert [row.drift for row in compare({"prod": {"x": {"version": "1"}}})] == [False]
