"""三重一大 decisions, money and execution (DOMAIN.md B.6): DEC-06..08.

Rules (T = `large_funds_threshold_fen` of the deciding org; a decision is collective when made
at a recorded meeting):

- DEC-06: amounts not decided collectively, each below T, grouped by org and by counterparty,
  budget item and procurement category separately (decisions indexed by effective date): a
  group whose items sum to T or more within `split_window_days` (ending on this item's date) or
  within the calendar (fiscal) year: RED FLAG (化整为零); this item and at least one other of the
  window each in [`split_near_ratio_permille` / 1000 * T, T): YELLOW FLAG. At most one of each
  per decision.
- DEC-07: a decision taking effect before the meeting that made it: RED REJECT; executed before
  that meeting: RED FLAG (先斩后奏). An emergency decision (EMERGENCY_INDIVIDUAL) ratified by a
  collective PASSED decision (its `ratification_ref`, or a collective decision naming it in
  theirs) within `emergency_ratify_days` of its first execution (or effective date): YELLOW
  FLAG; ratified later, or not by then (deadline): RED FLAG.
- DEC-08 RED FLAG: executions summing to more than the amount plus `deviation_ratio_permille`,
  or paying a counterparty other than the decision's (once per decision and execution).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import keys
from contracts.base import BlockContext, Colour, DueEntry, DueRequest, Rule, TxCtx, Verdict, flag, reject
from contracts.calendar import add_days, parse_date, passed_ms
from contracts.config import Config
from contracts.meeting_index import SPEND_DIMS, is_collective
from contracts.rules.procedure import get_meeting, meeting_day
from contracts.state import View

_DECISIONS = ("decision.record", "decision.amend")


def _ref(decision_id: str) -> tuple[str, ...]:
    return (keys.decision(decision_id),)


# ---------------------------------------------------------------------------------------- DEC-06
def _group(view: View, org: str, dim: str, value: str, first: str, last: str, me: str, t: int) -> list[int]:
    prefix = keys.idx_spend(org, dim, value)
    return [
        int(r["amount_fen"])
        for _, r in view.scan_range(prefix + first, prefix + last + "~")
        if r["decision_id"] != me and not r["collective"] and r["amount_fen"] < t
    ]


def dec06(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    org = tx.org_id
    t = config.get_int("large_funds_threshold_fen", org)
    amount = p["amount_fen"]
    if amount is None or amount >= t or is_collective(p):
        return ()
    day = parse_date(p["effective_date"])
    first = add_days(day, 1 - config.get_int("split_window_days", org)).isoformat()
    year = (f"{day.year}-01-01", f"{day.year}-12-31")
    near = config.get_int("split_near_ratio_permille", org)
    is_near = 1000 * amount >= near * t
    red: Verdict | None = None
    yellow: Verdict | None = None
    for dim in SPEND_DIMS:
        value = p[dim]
        if value is None:
            continue
        window = _group(view, org, dim, value, first, day.isoformat(), p["decision_id"], t)
        fiscal = _group(view, org, dim, value, *year, p["decision_id"], t)
        details = {"dimension": dim, "value": value, "window_sum_fen": sum(window) + amount}
        details["year_sum_fen"] = sum(fiscal) + amount
        if red is None and (sum(window) + amount >= t or sum(fiscal) + amount >= t):
            text = f"{dim} {value}: items below the threshold add up to {max(details['window_sum_fen'], details['year_sum_fen'])} fen"
            red = flag(
                "DEC-06",
                Colour.RED,
                "split_amount",
                text,
                record_refs=_ref(p["decision_id"]),
                details=details,
            )
        if yellow is None and is_near and any(1000 * a >= near * t for a in window):
            text = f"{dim} {value}: several items just below the threshold within the window"
            yellow = flag(
                "DEC-06",
                Colour.YELLOW,
                "near_threshold",
                text,
                record_refs=_ref(p["decision_id"]),
                details=details,
            )
    return [v for v in (red, yellow) if v is not None]


# ---------------------------------------------------------------------------------------- DEC-07
def _decided_on(view: View, decision: Any) -> str | None:
    meeting = get_meeting(view, decision["meeting_id"])
    return None if meeting is None else meeting_day(meeting)


def _start(decision: Any) -> str:
    dates = [e["exec_date"] for e in decision["execution"]]
    return min(dates) if dates else str(decision["effective_date"])


def _ratified_on(view: View, decision: Any, extra: Any = None) -> str | None:
    """The first date a collective PASSED decision ratified `decision` (`extra`: one more candidate
    not yet in the state, the transaction's own payload)."""
    ids = [] if decision["ratification_ref"] is None else [decision["ratification_ref"]]
    ids += [r["decision_id"] for _, r in view.scan_prefix(keys.idx_ratifies(decision["decision_id"]))]
    candidates = [view.get(keys.decision(i)) for i in sorted(set(ids))]
    if extra is not None:
        candidates.append(extra)
    dates = [
        _decided_on(view, c) or str(c["effective_date"])
        for c in candidates
        if c is not None and is_collective(c) and c["result"] == "PASSED"
    ]
    return min(dates) if dates else None


def _emergency_verdict(
    view: View, decision: Any, config: Config, org: str, extra: Any = None
) -> Verdict | None:
    ratified = _ratified_on(view, decision, extra)
    if ratified is None:
        return None
    start, did = _start(decision), decision["decision_id"]
    limit = add_days(parse_date(start), config.get_int("emergency_ratify_days", org)).isoformat()
    if ratified <= limit:
        text = f"emergency decision executed {start}, ratified collectively on {ratified}"
        return flag(
            "DEC-07",
            Colour.YELLOW,
            "emergency_ratified",
            text,
            record_refs=_ref(did),
            dedup_key=f"{did}:emergency",
        )
    text = f"emergency decision executed {start}, ratified only on {ratified} (due by {limit})"
    return flag("DEC-07", Colour.RED, "ratified_late", text, record_refs=_ref(did), dedup_key=f"{did}:late")


def dec07(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    did = p["decision_id"]
    out: list[Verdict] = []
    decided = _decided_on(view, p) if p["decision_mode"] == "MEETING" else None
    if decided is not None:
        if p["effective_date"] < decided:
            text = f"takes effect {p['effective_date']}, before it was decided on {decided}"
            return (reject("DEC-07", "effective_before_decision", text, record_refs=_ref(did)),)
        early = sorted(e["exec_id"] for e in p["execution"] if e["exec_date"] < decided)
        if early:
            text = f"executed before the decision of {decided}: {', '.join(early)}"
            out.append(
                flag(
                    "DEC-07",
                    Colour.RED,
                    "executed_before_decision",
                    text,
                    record_refs=_ref(did),
                    dedup_key=f"{did}:early",
                )
            )
    if p["decision_mode"] == "EMERGENCY_INDIVIDUAL":
        v = _emergency_verdict(view, p, config, tx.org_id)
        if v is not None:
            out.append(v)
    ratifies = None if p["ratification_ref"] is None else view.get(keys.decision(p["ratification_ref"]))
    if ratifies is not None and ratifies["decision_mode"] == "EMERGENCY_INDIVIDUAL":
        v = _emergency_verdict(view, ratifies, config, ratifies["org_id"], extra=dict(p, org_id=tx.org_id))
        if v is not None:
            out.append(v)
    return out


def dec07_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    p = tx.payload
    if p["decision_mode"] != "EMERGENCY_INDIVIDUAL":
        return ()
    start = _start(p)
    limit = add_days(parse_date(start), config.get_int("emergency_ratify_days", tx.org_id))
    ref = {"decision_id": p["decision_id"], "start": start}
    return (DueRequest(at_ms=passed_ms(limit), rule_id="DEC-07", tag="ratify", ref=ref, org_id=tx.org_id),)


def dec07_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    decision = view.get(keys.decision(entry.ref["decision_id"]))
    if (
        decision is None
        or decision["decision_mode"] != "EMERGENCY_INDIVIDUAL"
        or _start(decision) != entry.ref["start"]
    ):
        return ()
    ratified = _ratified_on(view, decision)
    limit = add_days(parse_date(entry.ref["start"]), config.get_int("emergency_ratify_days", entry.org_id))
    if ratified is not None and ratified <= limit.isoformat():
        return ()
    did = decision["decision_id"]
    text = (
        f"emergency decision executed {entry.ref['start']} not ratified collectively by {limit.isoformat()}"
    )
    return (flag("DEC-07", Colour.RED, "not_ratified", text, record_refs=_ref(did), dedup_key=f"{did}:late"),)


# ---------------------------------------------------------------------------------------- DEC-08
def dec08(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    did, amount = p["decision_id"], p["amount_fen"]
    out = []
    spent = sum(int(e["amount_fen"]) for e in p["execution"])
    ratio = config.get_int("deviation_ratio_permille", tx.org_id)
    if amount is not None and p["execution"] and 1000 * spent > amount * (1000 + ratio):
        text = f"executed {spent} fen against a decision of {amount} fen"
        out.append(
            flag(
                "DEC-08",
                Colour.RED,
                "execution_exceeds",
                text,
                record_refs=_ref(did),
                dedup_key=f"{did}:exceeds",
            )
        )
    party = p["counterparty_key"]
    for e in p["execution"]:
        if party is not None and e["counterparty_key"] not in (None, party):
            text = f"execution {e['exec_id']} pays {e['counterparty_key']}, the decision names {party}"
            out.append(
                flag(
                    "DEC-08",
                    Colour.RED,
                    "other_counterparty",
                    text,
                    record_refs=_ref(did),
                    dedup_key=f"{did}:{e['exec_id']}",
                )
            )
    return out


def _rule(rule_id: str, colours: tuple[Colour, ...], disposition: str, text: str, fn: Any, **kw: Any) -> Rule:
    return Rule(
        rule_id=rule_id,
        colours=colours,
        disposition=disposition,
        description=text,
        family="DEC",
        tx_types=_DECISIONS,
        fn=fn,
        **kw,
    )


RULES: tuple[Rule, ...] = (
    _rule("DEC-06", (Colour.RED, Colour.YELLOW), "FLAG", "Splitting a large amount (化整为零).", dec06),
    _rule(
        "DEC-07",
        (Colour.RED, Colour.YELLOW),
        "REJECT+FLAG",
        "Executed before it was decided.",
        dec07,
        schedule=dec07_schedule,
        on_due=dec07_due,
    ),
    _rule("DEC-08", (Colour.RED,), "FLAG", "Execution deviates from decision.", dec08),
)
