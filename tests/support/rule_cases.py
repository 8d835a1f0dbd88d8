"""Shared helpers of the table-driven rule tests: a case is `(rule_id, builder, expected)` where the
builder plays a history on a fresh Ledger and returns the receipt to judge, and `expected` is how
the rule showed on it (`contracts.testing.outcome`: PASS, REJECT, FLAG:<colours>)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.calendar import add_days, add_months, parse_date, passed_ms
from contracts.testing import Ledger, ms
from wire.types import Receipt

B1, B2, X1, X2 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p1.c1.x1", "cn.p1.c1.x2"
START = "2015-02-01"  # pipeline dates: S01 2015-02-01 ... S15 2016-08-01, S17 2016-09-01, S23 2017-08-01
Builder = Callable[[Ledger], Receipt]
Case = tuple[str, Builder, str]


def named(name: str, fn: Builder) -> Builder:
    fn.__name__ = name
    return fn


def case_ids(cases: list[Case]) -> list[str]:
    return [f"{r}-{c.__name__}-{e}" for r, c, e in cases]


def day(base: str, *, months: int = 0, days: int = 0) -> str:
    return add_days(add_months(parse_date(base), months), days).isoformat()


def fired(L: Ledger, rule_id: str, at: int) -> list[tuple[str, str]]:
    """Run one empty block at `at` (epoch ms); the (colour, reason code) of `rule_id`'s alerts in it."""
    L.block(at=at)
    return [(a["colour"], a["reason_code"]) for a in L.alerts(rule_id) if a["raised_height"] == L.height]


def just_before(d: str) -> int:
    """The last millisecond of the inclusive deadline ending on date `d` (CST)."""
    return passed_ms(parse_date(d)) - 1


def just_after(d: str) -> int:
    return passed_ms(parse_date(d))


def alerts_of(L: Ledger, rule_id: str) -> list[tuple[str, str]]:
    return [(a["colour"], a["reason_code"]) for a in L.alerts(rule_id)]


def noon(d: str) -> int:
    return ms(d, hour=12)


def payload_with(p: dict[str, Any], **kw: Any) -> dict[str, Any]:
    out = dict(p)
    out.update(kw)
    return out


def shown(L: Ledger, receipt: Receipt, rule_id: str) -> str:
    """How `rule_id` showed for the action under test: REJECT on its receipt, else FLAG:<colours>
    of the rule's alerts raised since `L.mark` (default: in the receipt's block, the ledger's
    last), by the transaction or by a deadline that fired meanwhile (a late step usually meets its
    own deadline's alert first, in the block of its documents or its own), else PASS."""
    from contracts.testing import outcome

    if not receipt.accepted:
        return outcome(receipt, rule_id)
    since = L.height - 1 if L.mark is None else L.mark
    colours = sorted(a["colour"] for a in L.alerts(rule_id) if a["raised_height"] > since)
    return "FLAG:" + "+".join(colours) if colours else "PASS"
