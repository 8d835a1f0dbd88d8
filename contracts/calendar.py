"""Calendar arithmetic of DOMAIN.md section 0, shared by every rule.

Rules:

- The only clock is block time (UTC epoch ms). "Today" is the CST (UTC+8, no DST) date of it.
- Dates are `datetime.date`; on the ledger they are `YYYY-MM-DD` strings, months `YYYY-MM`.
- `add_months(d, n)` keeps the day of month, clamped to the last day of the target month
  (2024-01-31 + 1 = 2024-02-29); `add_years(d, n) = add_months(d, 12 n)`. A year is never 365 days.
- A deadline that ends with date D (inclusive, "within" / "以内") has passed at the first instant of
  D + 1 day in CST: `day_start_ms(D + 1 day)`. Due-index times are computed this way.
- Integer arithmetic only: no floats anywhere.
"""

from __future__ import annotations

import calendar as _cal
import re
from datetime import date, timedelta

CST_OFFSET_MS = 8 * 3600 * 1000
DAY_MS = 86_400_000
EPOCH = date(1970, 1, 1)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def cst_date(time_ms: int) -> date:
    """The CST calendar date of a UTC epoch-ms instant."""
    return EPOCH + timedelta(days=(time_ms + CST_OFFSET_MS) // DAY_MS)


def day_start_ms(d: date) -> int:
    """The UTC epoch ms of 00:00 CST on date `d`."""
    return (d - EPOCH).days * DAY_MS - CST_OFFSET_MS


def passed_ms(d: date) -> int:
    """The first instant at which an inclusive deadline ending on `d` has passed (00:00 CST of d+1)."""
    return day_start_ms(d + timedelta(days=1))


def add_days(d: date, n: int) -> date:
    return d + timedelta(days=n)


def add_months(d: date, n: int) -> date:
    """Same day-of-month n months later (n may be negative), clamped to the target month's end."""
    index = d.year * 12 + (d.month - 1) + n
    year, month0 = divmod(index, 12)
    last = _cal.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def add_years(d: date, n: int) -> date:
    return add_months(d, 12 * n)


def parse_date(text: str) -> date:
    """Parse a strict `YYYY-MM-DD`; raise ValueError otherwise."""
    m = _DATE_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not YYYY-MM-DD")
    return date(int(m[1]), int(m[2]), int(m[3]))


def fmt_date(d: date) -> str:
    return d.isoformat()


def month_index(text: str) -> int:
    """`YYYY-MM` as a month count (year * 12 + month - 1); raise ValueError if malformed."""
    m = _MONTH_RE.match(text)
    if not m or not 1 <= int(m[2]) <= 12:
        raise ValueError(f"{text!r} is not YYYY-MM")
    return int(m[1]) * 12 + int(m[2]) - 1


def month_of(d: date) -> int:
    """The month count of a date (see `month_index`)."""
    return d.year * 12 + d.month - 1


def month_start(index: int) -> date:
    """The first day of the month with count `index`."""
    year, month0 = divmod(index, 12)
    return date(year, month0 + 1, 1)


def is_adult(birth: date, on: date, *, from_day_after_birthday: bool) -> bool:
    """年满十八周岁 on `on` (section 0.4): the birthday counts unless the strict switch is set."""
    eighteen = add_years(birth, 18)
    return on > eighteen if from_day_after_birthday else on >= eighteen
