"""Working days: Monday to Friday, minus the holidays and plus the adjusted workdays of each year's
calendar on the ledger (`calendar.set`, kept by `contracts/governance.py`).

Rules: `working_days(view, start, end)` counts the working days in [start, end] (both included)
and names the calendars it used (`<year>:v<n>`, or `<year>:none` when a year has no calendar on
the ledger and Monday to Friday was counted); at most MAX_WORKING_DAY_SPAN days are looked at (a
notice period is days, not years). Rules (JOIN-12, DEC-...) import it from here, not from the
governance module, whose config checks need the rule registry.
"""

from __future__ import annotations

from datetime import date, timedelta

from contracts import keys
from contracts.state import View

MAX_WORKING_DAY_SPAN = 800


def working_days(view: View, start: date, end: date) -> tuple[int, list[str]]:
    """Working days in [start, end] (both included) and the calendars used (`<year>:v<n>`, or
    `<year>:none` when a year has no calendar on the ledger and Monday to Friday was counted)."""
    count = 0
    used: dict[int, str] = {}
    cache: dict[int, tuple[set[str], set[str]]] = {}
    day = start
    for _ in range(MAX_WORKING_DAY_SPAN):
        if day > end:
            break
        if day.year not in cache:
            rec = view.get(keys.calendar(day.year))
            cache[day.year] = (set(), set()) if rec is None else (set(rec["holidays"]), set(rec["workdays"]))
            used[day.year] = f"{day.year}:none" if rec is None else f"{day.year}:v{rec['version']}"
        holidays, workdays = cache[day.year]
        text = day.isoformat()
        if text in workdays or (day.weekday() < 5 and text not in holidays):
            count += 1
        day += timedelta(days=1)
    return count, [used[y] for y in sorted(used)]
