"""When a ``schedule`` trigger fires: an interval (``30m``, ``6h``, ``1d``, ``1w``) or a cron
expression (five fields, ``0 2 * * 1-5``, or ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``,
``@yearly``). All times are UTC and naive (as Odoo stores them).

Intervals are aligned, not counted from a load or a restart: ``6h`` fires at 00:00, 06:00,
12:00 and 18:00, ``1d`` at midnight, ``1w`` on Mondays at midnight, so every server computes
the same slots. Cron fields follow Vixie cron: ``*``, lists, ranges, steps, month and day names,
Sunday as 0 or 7; when both the day of the month and the day of the week are restricted, either
one matching is enough.
"""

import datetime
import re

INTERVAL_RE = re.compile(r"^(\d+)\s*([mhdw])$")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
EPOCH = datetime.datetime(1970, 1, 5)  # a Monday at midnight: weeks start on Mondays
ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (name, lowest, highest, names of the values from lowest on)
FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS + ["SUN"]),
)
HORIZON_DAYS = 5 * 366  # a cron that matches no date within five years never fires (31 February)


class ScheduleError(ValueError):
    """A schedule that cannot be read; the message says what is expected."""


class Interval:
    def __init__(self, text, seconds):
        self.text, self.seconds = text, seconds

    def next_after(self, moment):
        """The first slot strictly after ``moment``."""
        elapsed = int((moment - EPOCH).total_seconds())
        return EPOCH + datetime.timedelta(seconds=(elapsed // self.seconds + 1) * self.seconds)


class Cron:
    def __init__(self, text, fields):
        self.text = text
        self.minutes, self.hours, self.days, self.months, weekdays = (values for values, _star in fields)
        self.weekdays = {day % 7 for day in weekdays}
        self.any_day, self.any_weekday = fields[2][1], fields[4][1]

    def _day_matches(self, day):
        by_day, by_weekday = day.day in self.days, day.isoweekday() % 7 in self.weekdays
        if not self.any_day and not self.any_weekday:
            return by_day or by_weekday
        return by_day and by_weekday

    def next_after(self, moment):
        """The first minute strictly after ``moment`` that the expression names."""
        current = moment.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        limit = moment + datetime.timedelta(days=HORIZON_DAYS)
        while current <= limit:
            if current.month not in self.months:
                year, month = (current.year + 1, 1) if current.month == 12 else (current.year, current.month + 1)
                current = datetime.datetime(year, month, 1)
            elif not self._day_matches(current):
                current = datetime.datetime.combine(current.date() + datetime.timedelta(days=1), datetime.time())
            elif current.hour not in self.hours:
                current = current.replace(minute=0) + datetime.timedelta(hours=1)
            elif current.minute not in self.minutes:
                current += datetime.timedelta(minutes=1)
            else:
                return current
        raise ScheduleError(f"{self.text!r} names no date within {HORIZON_DAYS // 366} years")


def parse_schedule(text):
    """An ``Interval`` or a ``Cron`` with ``next_after(moment)``; raises ScheduleError."""
    text = (text or "").strip()
    interval = INTERVAL_RE.match(text)
    if interval:
        seconds = int(interval.group(1)) * UNIT_SECONDS[interval.group(2)]
        if not seconds:
            raise ScheduleError(f"{text!r}: an interval must be at least 1m")
        return Interval(text, seconds)
    expression = ALIASES.get(text.lower(), text)
    parts = expression.split()
    if len(parts) != 5:
        raise ScheduleError(
            f"{text!r} is neither an interval (30m, 6h, 1d, 1w) nor a cron expression of five fields "
            "(minute hour day-of-month month day-of-week, e.g. '0 2 * * 1-5', in UTC)"
        )
    cron = Cron(text, [_field(part, *spec, text) for part, spec in zip(parts, FIELDS, strict=True)])
    cron.next_after(datetime.datetime(2000, 1, 1))  # one that never fires is refused now
    return cron


def _field(part, name, low, high, names, text):
    """``(values, is_star)`` of one cron field."""
    values = set()
    for item in part.split(","):
        body, _slash, step = item.partition("/")
        try:
            step = int(step) if _slash else 1
            if body == "*":
                first, last = low, high
            else:
                first, _dash, last = body.partition("-")
                first = _value(first, low, names)
                last = _value(last, low, names) if _dash else (high if _slash else first)
        except ValueError:
            raise ScheduleError(f"{text!r}: {name} {item!r} is not a number, a range or a step") from None
        if step < 1 or not low <= first <= last <= high:
            raise ScheduleError(f"{text!r}: {name} {item!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return values, part == "*"


def _value(token, low, names):
    if names and token.upper() in names:
        return low + names.index(token.upper())
    return int(token)
