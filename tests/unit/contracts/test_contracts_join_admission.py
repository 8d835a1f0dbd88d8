"""JOIN-09..12, JOIN-14..16, JOIN-26, JOIN-27, table-driven (the admission)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import (
    Ledger,
    archive_payload,
    digest,
    doc_payload,
    import_member,
    make_genesis,
    ok,
    person,
    submit_step,
)
from contracts.testing_procedure import (
    committee_approval,
    decision_payload,
    general_vote,
    pipeline_dates,
    run_pipeline,
    step,
)
from tests.support.rule_cases import B1, START, X1, Case, case_ids, named, shown
from wire.types import Receipt

D = pipeline_dates(START)  # S10 2016-05-01 S11 06-01 S12 07-01 S13 07-06 S14 07-11 S15 08-01


def _steps(L: Ledger, first: str, last: str, **overrides: dict[str, Any]) -> Receipt:
    """Play steps `first`..`last` of p1 (ann at B1) with the plan's dates; `overrides[step]` replace
    a step's prepared fields. Returns the last receipt (the others must pass)."""
    order = list(D)
    r: Receipt | None = None
    for s in order[order.index(first) : order.index(last) + 1]:
        r = step(L, B1, "p1", "ann", s, D[s], **overrides.get(s, {}))
        if s != last:
            ok(r, s)
    assert r is not None
    return r


def _review(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        if kind.startswith("stale"):
            months = 2 if kind == "stale" else 3
            L.__init__(make_genesis(rule_config={"political_review_validity_months": months}))  # type: ignore[misc]
        run_pipeline(L, "ann", B1, "p1", START, until="S09")
        if kind == "unqualified":
            return _steps(L, "S10", "S12", S10={"extra": {"conclusion": "UNQUALIFIED"}})
        if kind == "no-doc":
            ok(submit_step(L, B1, "p1", "ann", "S10", D["S10"], extra={"conclusion": "QUALIFIED"}))
            return _steps(L, "S11", "S12")
        return _steps(L, "S10", "S15" if kind.startswith("stale") else "S12")

    expected = {"fine": "PASS", "unqualified": "REJECT", "no-doc": "REJECT", "stale": "FLAG:YELLOW"}
    return ("JOIN-09", named(f"review_{kind}", build), expected.get(kind, "PASS"))


def _training(days: int, hours: int, special: bool = False) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S10")
        extra = {"days": days, "hours": hours, "special_case": special}
        return _steps(L, "S11", "S15", S11={"extra": extra})

    enough = days >= 3 or hours >= 24
    expected = "PASS" if enough else ("FLAG:YELLOW" if special else "REJECT")
    return ("JOIN-10", named(f"training_{days}d_{hours}h_special={special}", build), expected)


def _order(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S12")
        if kind == "prereview-n_a":
            return _steps(L, "S13", "S14", S13={"result": "N_A"})
        ok(step(L, B1, "p1", "ann", "S13", D["S13"]))
        return step(L, B1, "p1", "ann", "S14", "2016-07-05" if kind == "early" else D["S14"])

    return ("JOIN-11", named(f"order_{kind}", build), "PASS" if kind == "fine" else "REJECT")


def _notice(kind: str) -> Case:
    """The public notice before the pre-review (S13 on 2016-07-06, a Wednesday)."""

    def build(L: Ledger) -> Receipt:
        cfg = {"public_notice_working_days": False} if kind == "calendar-days" else None
        if cfg:
            L.__init__(make_genesis(rule_config=cfg))  # type: ignore[misc]
        if kind == "holiday":
            cal = {"year": 2016, "holidays": ["2016-06-29"], "workdays": [], "reason": "test"}
            ok(L.submit("cn/admin", "calendar.set", cal, at="2015-01-05"))
        run_pipeline(L, "ann", B1, "p1", START, until="S11")
        spans = {
            "short": ("2016-06-29", "2016-07-01"),  # Wed-Fri: 3 working days
            "five": ("2016-06-27", "2016-07-01"),  # Mon-Fri: 5
            "holiday": ("2016-06-27", "2016-07-01"),  # Mon-Fri less a holiday: 4
            "calendar-days": ("2016-06-25", "2016-06-29"),  # Sat-Wed: 5 days, 3 working days
            "calendar-days-as-working": ("2016-06-25", "2016-06-29"),
            "after-s13": ("2016-07-01", "2016-07-08"),
        }
        if kind in spans:
            start, end = spans[kind]
            notice = doc_payload("notice", "PUBLIC_NOTICE", ["ann"], start, B1, notice_start_date=start)
            notice["notice_end_date"] = end
            ok(L.submit(f"{B1}/operator", "material.register", notice, at="2016-07-01"))
        if kind == "fine":
            ok(step(L, B1, "p1", "ann", "S12", D["S12"]))
        else:
            ok(submit_step(L, B1, "p1", "ann", "S12", D["S12"]))  # without the helper's notice
        if kind == "after-s13":
            L.block(at="2016-07-09")
        return step(L, B1, "p1", "ann", "S13", D["S13"] if kind != "after-s13" else "2016-07-06")

    ok_kinds = ("fine", "five", "calendar-days")
    return ("JOIN-12", named(f"notice_{kind}", build), "PASS" if kind in ok_kinds else "FLAG:YELLOW")


def _notice_working_days_only(L: Ledger) -> Receipt:
    """The same Saturday-to-Wednesday notice counted in working days (the default): too short."""
    return _notice("calendar-days-as-working")[1](L)


def _vote(kind: str, *, mtg07: bool = True) -> Case:
    """The S15 general meeting of a branch with four voting members (secretary, two introducers, m4).
    A padded or short roster is refused with the meeting itself (MTG-07, every vote: DOMAIN 2026-12);
    with MTG-07 switched off, JOIN-14 still refuses the admission that cites it."""

    def build(L: Ledger) -> Receipt:
        if not mtg07:
            L.__init__(make_genesis(rule_config={"rule_modes": {"MTG-07": "OFF"}}))  # type: ignore[misc]
        import_member(L, "m4", B1)
        if kind == "probationary-counted":
            import_member(L, "prob", B1, status="PROBATIONARY", join="2016-01-01", full=None)  # type: ignore[arg-type]
        run_pipeline(L, "ann", B1, "p1", START, until="S14")
        everyone = [person(n) for n in ("secretary@" + B1, "p1-intro-a", "p1-intro-b", "m4")]
        entitled, present, yes = list(everyone), list(everyone), 4
        item: dict[str, Any] = {"item_id": "1", "subject_key": person("ann"), "ballot_method": "SECRET"}
        fields: dict[str, Any] = {}
        match kind:
            case "three-of-four":
                present, yes = everyone[:3], 3
            case "half-present-with-written":
                present, yes = everyone[:2], 2
                written = {"person_key": everyone[3], "vote": "YES", "submitted_at": 0}
                fields["written_opinions"] = [written]
            case "not-approved":
                present, yes = everyone[:3], 2
                item["result"] = "REJECTED"
            case "show-of-hands":
                item["ballot_method"] = "SHOW_OF_HANDS"
            case "probationary-counted":
                entitled = [*everyone, person("prob")]
                present = entitled
            case "voter-left-out" | "voter-left-out-with-roster":
                entitled, present, yes = everyone[:3], everyone[:3], 3
                if kind.endswith("roster"):
                    fields["roster_snapshot_hash"] = digest("roster with exclusion reasons")
            case "other-person":
                item["subject_key"] = person("somebody")
        item.update(yes=yes, no=len(present) - yes if kind == "not-approved" else 0, abstain=0)
        item.setdefault("result", "PASSED")
        attendance = [{"person_key": k, "status": "PRESENT" if k in present else "ABSENT"} for k in entitled]
        meeting = general_vote(
            L,
            B1,
            "vote",
            "ann",
            D["S15"],
            entitled_voter_keys=entitled,
            attendance=attendance,
            items=[item],
            **fields,
        )
        if not meeting.accepted:
            return meeting
        ref = None if kind == "no-vote" else "vote"
        day = "2016-08-02" if kind == "other-day" else D["S15"]
        return submit_step(L, B1, "p1", "ann", "S15", day, decision_ref=ref, extra={"item_id": "1"})

    expected = {
        "all": "PASS",
        "three-of-four": "PASS",
        "voter-left-out-with-roster": "PASS",
        "show-of-hands": "FLAG:RED",
    }
    rule = "MTG-07" if mtg07 and kind in ("probationary-counted", "voter-left-out") else "JOIN-14"
    name = f"vote_{kind}" + ("" if mtg07 else "_mtg07_off")
    return (rule, named(name, build), expected.get(kind, "REJECT"))


def _talk(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S15")
        if kind == "no-talk":
            return step(L, B1, "p1", "ann", "S17", D["S17"])
        talker = [person("nobody")] if kind == "no-post" else None
        return step(L, B1, "p1", "ann", "S16", D["S16"], **({"actor_keys": talker} if talker else {}))

    return ("JOIN-15", named(f"talk_{kind}", build), "PASS" if kind == "fine" else "REJECT")


def _approval(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        run_pipeline(L, "ann", B1, "p1", START, until="S16")
        if kind == "fine":
            return step(L, B1, "p1", "ann", "S17", D["S17"])
        if kind == "none":
            return step(L, B1, "p1", "ann", "S17", D["S17"], decision_ref=None)
        ok(committee_approval(L, X1, "county-meeting", "ann", D["S17"]))
        mode = "MEETING" if kind == "decision-at-meeting" else "CIRCULATION"
        dec = decision_payload("approve-ann", D["S17"], decision_mode=mode, meeting_id="county-meeting")
        ok(L.submit(f"{X1}/operator", "decision.record", dec, at=D["S17"]))
        return step(L, B1, "p1", "ann", "S17", D["S17"], decision_ref="approve-ann")

    ok_kinds = ("fine", "decision-at-meeting")
    return ("JOIN-16", named(f"approval_{kind}", build), "PASS" if kind in ok_kinds else "REJECT")


def _rush(second_start: str, **cfg: int) -> Case:
    def build(L: Ledger) -> Receipt:
        L.__init__(make_genesis(rule_config=dict(cfg)))  # type: ignore[misc]
        run_pipeline(L, "ann", B1, "p1", START, until="S14")
        run_pipeline(L, "bob", B1, "p2", second_start, until="S14")
        ok(step(L, B1, "p1", "ann", "S15", D["S15"]))
        return step(L, B1, "p2", "bob", "S15", pipeline_dates(second_start)["S15"])

    within = pipeline_dates(second_start)["S15"] < "2016-08-31"
    expected = (
        "FLAG:YELLOW" if cfg.get("rush_max_permille") or (within and cfg.get("rush_max", 3) < 2) else "PASS"
    )
    name = f"rush_{second_start}_" + "_".join(f"{k}={v}" for k, v in cfg.items())
    return ("JOIN-26", named(name, build), expected)


def _leaving(departure: str | None) -> Case:
    def build(L: Ledger) -> Receipt:
        fields = {} if departure is None else {"expected_departure_date": departure}
        ok(
            L.submit(
                f"{B1}/operator", "archive.create", archive_payload("ann", "1990-01-01", **fields), at=START
            )
        )
        run_pipeline(L, "ann", B1, "p1", START, until="S14", birth=None)
        return step(L, B1, "p1", "ann", "S15", D["S15"])

    soon = departure is not None and departure < "2016-11-01"  # S15 2016-08-01 + 3 months
    return ("JOIN-27", named(f"leaving_{departure}", build), "FLAG:YELLOW" if soon else "PASS")


CASES: list[Case] = [
    _review("fine"),
    _review("unqualified"),
    _review("no-doc"),
    _review("stale"),  # validity 2 months: 2016-05-01 + 2 < 2016-08-01
    _review("stale-boundary"),  # validity 3 months: exactly at the limit
    _training(3, 0),
    _training(0, 24),
    _training(2, 23),
    _training(1, 8, special=True),
    _order("fine"),
    _order("prereview-n_a"),
    _order("early"),
    _notice("fine"),
    _notice("missing"),
    _notice("short"),
    _notice("five"),
    _notice("holiday"),
    _notice("calendar-days"),
    _notice("after-s13"),
    ("JOIN-12", named("notice_sat_to_wed_in_working_days", _notice_working_days_only), "FLAG:YELLOW"),
    *(
        _vote(k)
        for k in (
            "all",
            "three-of-four",
            "half-present-with-written",
            "not-approved",
            "show-of-hands",
            "probationary-counted",
            "voter-left-out",
            "voter-left-out-with-roster",
            "other-person",
            "no-vote",
            "other-day",
        )
    ),
    _vote("probationary-counted", mtg07=False),
    _vote("voter-left-out", mtg07=False),
    _talk("fine"),
    _talk("no-post"),
    _talk("no-talk"),
    _approval("fine"),
    _approval("none"),
    _approval("decision-at-meeting"),
    _approval("decision-by-circulation"),
    _rush("2015-02-10"),
    _rush("2015-02-10", rush_max=1),
    _rush("2015-03-15", rush_max=1),  # S15s 45 days apart
    _rush("2015-02-10", rush_max=10, rush_max_permille=100),
    _leaving(None),
    _leaving("2016-10-31"),
    _leaving("2016-11-01"),
]


@pytest.mark.parametrize(("rule_id", "case", "expected"), CASES, ids=case_ids(CASES))
def test_join_admission_rules(rule_id: str, case: object, expected: str) -> None:
    L = Ledger()
    receipt = case(L)  # type: ignore[operator]
    assert shown(L, receipt, rule_id) == expected, receipt
