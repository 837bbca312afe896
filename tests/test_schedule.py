"""``schedule`` triggers: intervals aligned to UTC and five-field cron expressions."""

import datetime as dt

import pytest

from influencegen_release.engine.pipeline.schedule import ScheduleError, parse_schedule
from influencegen_release.engine.pipeline.spec import SpecError, load_pipeline_file

AT = dt.datetime(2026, 3, 4, 10, 17, 30)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", dt.datetime(2026, 3, 4, 10, 30)),
        ("1h", dt.datetime(2026, 3, 4, 11, 0)),
        ("6h", dt.datetime(2026, 3, 4, 12, 0)),
        ("1d", dt.datetime(2026, 3, 5, 0, 0)),
        ("1w", dt.datetime(2026, 3, 9, 0, 0)),  # weeks start on Mondays
        ("*/15 * * * *", dt.datetime(2026, 3, 4, 10, 30)),
        ("0 2 * * 1-5", dt.datetime(2026, 3, 5, 2, 0)),
        ("0 2 * * sat,SUN", dt.datetime(2026, 3, 7, 2, 0)),
        ("0 0 1 * *", dt.datetime(2026, 4, 1, 0, 0)),
        ("30 8 29 feb *", dt.datetime(2028, 2, 29, 8, 30)),
        ("0 9 * * 7", dt.datetime(2026, 3, 8, 9, 0)),  # Sunday as 7
        ("0 0 13 * 5", dt.datetime(2026, 3, 6, 0, 0)),  # day of month OR day of week (Friday 6th)
        ("@daily", dt.datetime(2026, 3, 5, 0, 0)),
        ("@hourly", dt.datetime(2026, 3, 4, 11, 0)),
    ],
)
def test_next_slot(text, expected):
    assert parse_schedule(text).next_after(AT) == expected


def test_slots_follow_each_other_and_are_strictly_later():
    schedule = parse_schedule("1h")
    slot = schedule.next_after(AT)
    assert schedule.next_after(slot) == slot + dt.timedelta(hours=1), "a slot is never fired twice"
    assert parse_schedule("17 10 * * *").next_after(dt.datetime(2026, 3, 4, 10, 17)) == dt.datetime(2026, 3, 5, 10, 17)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "neither an interval"),
        ("every day", "neither an interval"),
        ("0m", "at least 1m"),
        ("10s", "neither an interval"),
        ("61 * * * *", "minute '61' is outside 0-59"),
        ("0 24 * * *", "hour '24' is outside 0-23"),
        ("0 0 * * mon-xyz", "day of week 'mon-xyz' is not a number"),
        ("*/0 * * * *", "outside"),
        ("0 0 30 2 *", "names no date"),
    ],
)
def test_bad_schedules_say_what_is_expected(text, message):
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    assert message in str(caught.value)


def test_the_validator_names_the_line_of_a_bad_schedule_or_path():
    text = """\
version: 1
pipeline:
  code: PL-S
  name: S
  kind: odoo
  triggers:
    - event: schedule
      schedule: "0 25 * * *"
    - event: push
      branches: [main]
      paths: ["file[.txt"]
    - event: schedule
      schedule: 1d
      branches: [main]
  stages:
    - {name: Build, tasks: [{name: B, run: "true", image: x}]}
"""
    with pytest.raises(SpecError) as caught:
        load_pipeline_file(text, "s.yml")
    errors = caught.value.errors
    assert any(e.startswith("s.yml:8: pipeline.triggers[0].schedule:") and "hour '25'" in e for e in errors), errors
    assert any(e.startswith("s.yml:11: pipeline.triggers[1].paths:") for e in errors), errors
    assert "s.yml:14: pipeline.triggers[2].branches: 'branches' only applies to a push trigger, not to schedule" in errors
