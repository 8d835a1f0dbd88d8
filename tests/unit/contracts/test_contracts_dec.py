"""DEC-01..12 (三重一大 decisions), table-driven from one clean committee decision of the county
X1: five members, all present and in favour, the principal speaking last, materials two days
ahead, minutes registered."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger, doc_payload, make_genesis, ms, ok, outcome, person
from contracts.testing_procedure import decision_payload, meeting_payload
from tests.support.rule_cases import X1, X2, Case, case_ids, fired, just_after, named, shown
from wire.types import Receipt

OP = f"{X1}/operator"
T = 10_000_000  # large_funds_threshold_fen default (¥100,000)
DAY = "2016-03-10"  # the committee meets 08:00 CST
C = [person(f"c{i}") for i in range(1, 7)]  # C[0] is the principal (书记)


def _setup(L: Ledger, *, meeting: dict[str, Any] | None = None, day: str = DAY) -> None:
    if L.get("meeting/cm") is None:
        ok(
            L.submit(
                OP, "meeting.record", meeting or meeting_payload("cm", "COMMITTEE", ms(day, hour=8)), at=day
            )
        )
    if L.get("doc/dm") is None:
        ok(L.submit(OP, "material.register", doc_payload("dm", "DECISION_MINUTES", [], day, X1)))


def clean(decision_id: str = "d1", **kw: Any) -> dict[str, Any]:
    members = C[:5]
    p = decision_payload(
        decision_id,
        DAY,
        category="MAJOR_PROJECT",
        meeting_id="cm",
        members_entitled=members,
        members_present=members,
        votes=[{"person_key": k, "vote": "YES"} for k in members],
        speaking_order=[{"person_key": k, "seq": 5 - i, "opinion": "AGREE"} for i, k in enumerate(members)],
        principal_key=C[0],
        materials_sent_at=ms(DAY, hour=8) - 2 * 86_400_000,
        minutes_doc="dm",
    )
    p.update(kw)
    return p


def _decide(rule_id: str, expected: str, name: str, cfg: dict[str, Any] | None = None, **kw: Any) -> Case:
    def build(L: Ledger) -> Receipt:
        if cfg:
            L.__init__(make_genesis(rule_config=cfg))  # type: ignore[misc]
        _setup(L)
        return L.submit(OP, "decision.record", clean(**kw), at=DAY)

    return (rule_id, named(name, build), expected)


def _present(n: int, of: int = 5) -> dict[str, Any]:
    members = C[:of]
    return {
        "members_entitled": members,
        "members_present": members[:n],
        "votes": [{"person_key": k, "vote": "YES"} for k in members[:n]],
        "speaking_order": [
            {"person_key": k, "seq": n - i, "opinion": "AGREE"} for i, k in enumerate(members[:n])
        ],
    }


def _yes(n: int) -> dict[str, Any]:
    return {"votes": [{"person_key": k, "vote": "YES" if i < n else "NO"} for i, k in enumerate(C[:5])]}


def _notice(start: str, end: str) -> dict[str, Any]:
    return {"public_notice": {"start_date": start, "end_date": end, "doc_id": "notice"}}


# ------------------------------------------------------------------------------------ DEC-06 / 07
def _payments(*items: tuple[str, int, str], collective: bool = False) -> Case:
    """Decisions by one leader (INDIVIDUAL), category OTHER, paying `items` (date, fen, party)."""

    def build(L: Ledger) -> Receipt:
        _setup(L)
        r: Receipt | None = None
        for i, (d, amount, party) in enumerate(items):
            fields: dict[str, Any] = (
                {"decision_mode": "MEETING", "meeting_id": "cm"}
                if collective
                else {"decision_mode": "INDIVIDUAL"}
            )
            p = decision_payload(f"pay-{i}", d, amount_fen=amount, counterparty_key=party, **fields)
            r = L.submit(OP, "decision.record", p, at=max(d, DAY))
            if i < len(items) - 1:
                ok(r)
        assert r is not None
        return r

    return (
        "DEC-06",
        named("pay_" + "_".join(f"{d}:{a}:{p}" for d, a, p in items) + f"_coll={collective}", build),
        "",
    )


def _split(expected: str, *items: tuple[str, int, str], collective: bool = False) -> Case:
    rule, build, _ = _payments(*items, collective=collective)
    return (rule, build, expected)


def _emergency(ratified: str | None, *, reverse: bool = False) -> Case:
    """An emergency decision executed on 03-10, ratified by a committee decision on `ratified`."""

    def build(L: Ledger) -> Receipt:
        _setup(L)
        execution = [{"exec_id": "e1", "exec_date": DAY, "amount_fen": 5_000_000}]
        emerg = decision_payload(
            "em",
            DAY,
            decision_mode="EMERGENCY_INDIVIDUAL",
            category="LARGE_FUNDS",
            amount_fen=5_000_000,
            execution=execution,
            minutes_doc="dm",
        )
        ok(L.submit(OP, "decision.record", emerg, at=DAY))
        L.mark = L.height  # a late ratification meets the deadline's alert first
        if ratified is None:
            return L.submit(OP, "decision.amend", emerg | {"prev_version": 1, "amend_reason": "noted"})
        meeting = meeting_payload("rm", "COMMITTEE", ms(ratified, hour=8))
        ok(L.submit(OP, "meeting.record", meeting, at=ratified))
        ratify = clean(
            "ratify",
            meeting_id="rm",
            effective_date=ratified,
            materials_sent_at=ms(ratified, hour=8) - 2 * 86_400_000,
        )
        if reverse:
            return L.submit(OP, "decision.record", ratify | {"ratification_ref": "em"}, at=ratified)
        ok(L.submit(OP, "decision.record", ratify, at=ratified))
        return L.submit(
            OP,
            "decision.amend",
            emerg | {"ratification_ref": "ratify", "prev_version": 1, "amend_reason": "ratified"},
        )

    expected = "PASS" if ratified is None else ("FLAG:YELLOW" if ratified <= "2016-04-09" else "FLAG:RED")
    return ("DEC-07", named(f"emergency_ratified_{ratified}_reverse={reverse}", build), expected)


def _topic_added(minutes: int) -> Case:
    def build(L: Ledger) -> Receipt:
        start = ms(DAY, hour=8)
        topics = [
            {
                "topic_id": "t1",
                "title_hash": "ab" * 32,
                "category": "LARGE_FUNDS",
                "added_at": start + minutes * 60_000,
            }
        ]
        return L.submit(
            OP, "meeting.record", meeting_payload("cm", "COMMITTEE", start, topics=topics), at=DAY
        )

    return (
        "DEC-09",
        named(f"topic_added_{minutes}min_after_start", build),
        "FLAG:YELLOW" if minutes >= 0 else "PASS",
    )


def _legal(doc_date: str | None) -> Case:
    def build(L: Ledger) -> Receipt:
        _setup(L)
        if doc_date is not None:
            ok(
                L.submit(
                    OP,
                    "material.register",
                    doc_payload("legal", "OTHER", [], doc_date, X1),
                    at=max(doc_date, DAY),
                )
            )
        p = clean(major_administrative=True, legal_review_doc="legal" if doc_date else None)
        return L.submit(OP, "decision.record", p, at=max(doc_date or DAY, DAY))

    return (
        "DEC-12",
        named(f"legal_review_{doc_date}", build),
        "PASS" if doc_date and doc_date <= DAY else "FLAG:YELLOW",
    )


def _reconsider(agree: int, known: bool = True) -> Case:
    def build(L: Ledger) -> Receipt:
        _setup(L)
        ok(
            L.submit(
                OP, "decision.record", clean("d0", category="PERSONNEL", personnel_kind="APPOINTMENT"), at=DAY
            )
        )
        p = clean(
            category="PERSONNEL",
            personnel_kind="APPOINTMENT",
            reconsiders="d0" if known else "nope",
            agree_to_reconsider=C[:agree],
        )
        return L.submit(OP, "decision.record", p, at=DAY)

    return (
        "DEC-03",
        named(f"reconsider_agree_{agree}_known={known}", build),
        "PASS" if agree >= 3 and known else "REJECT",
    )


def _written_in_committee(cfg: bool) -> Case:
    def build(L: Ledger) -> Receipt:
        if cfg:
            L.__init__(make_genesis(rule_config={"count_written_opinions_in_committee": True}))  # type: ignore[misc]
        written = [{"person_key": C[4], "vote": "YES", "submitted_at": ms(DAY, hour=7)}]
        post = {
            "org_id": X1,
            "person_key": C[4],
            "post": "COMMITTEE_MEMBER",
            "action": "APPOINT",
            "date": "2015-01-01",
        }
        ok(L.submit(OP, "org.set_post", post))
        _setup(L, meeting=meeting_payload("cm", "COMMITTEE", ms(DAY, hour=8), written_opinions=written))
        p = clean(**_present(4)) | _yes(2)
        p["votes"] = p["votes"][:4]
        return L.submit(OP, "decision.record", p, at=DAY)

    return ("DEC-03", named(f"written_opinion_counted={cfg}", build), "PASS" if cfg else "REJECT")


TWO_THIRDS = {"dec_quorum": "TWO_THIRDS"}
PERSONNEL = {"category": "PERSONNEL", "personnel_kind": "APPOINTMENT"}
CASES: list[Case] = [
    _decide("DEC-01", "PASS", "clean"),
    _decide("DEC-01", "REJECT", "circulation", decision_mode="CIRCULATION"),
    _decide("DEC-01", "REJECT", "individual", decision_mode="INDIVIDUAL"),
    _decide(
        "DEC-01",
        "PASS",
        "small_other_individual",
        decision_mode="INDIVIDUAL",
        category="OTHER",
        amount_fen=T - 1,
    ),
    _decide(
        "DEC-01",
        "REJECT",
        "threshold_other_individual",
        decision_mode="INDIVIDUAL",
        category="OTHER",
        amount_fen=T,
    ),
    _decide("DEC-01", "REJECT", "no_meeting", meeting_id=None),
    _decide("DEC-01", "PASS", "emergency", decision_mode="EMERGENCY_INDIVIDUAL", meeting_id=None),
    _decide("DEC-02", "PASS", "three_of_five", **_present(3)),
    _decide("DEC-02", "REJECT", "two_of_five", **_present(2)),
    _decide("DEC-02", "FLAG:YELLOW", "exactly_half", result="REJECTED", **_present(2, of=4)),
    _decide(
        "DEC-02",
        "REJECT",
        "exactly_half_strict",
        cfg={"quorum_half_inclusive": False},
        result="REJECTED",
        **_present(2, of=4),
    ),
    _decide("DEC-02", "PASS", "two_thirds_four_of_five", cfg=TWO_THIRDS, **_present(4)),
    _decide("DEC-02", "REJECT", "two_thirds_three_of_five", cfg=TWO_THIRDS, **_present(3)),
    _decide("DEC-02", "PASS", "personnel_exactly_two_thirds", **PERSONNEL, **_present(4, of=6)),
    _decide(
        "DEC-02",
        "REJECT",
        "personnel_strict_reading",
        cfg={"personnel_quorum_above_two_thirds": True},
        **PERSONNEL,
        **_present(4, of=6),
    ),
    _decide("DEC-02", "REJECT", "personnel_half", **PERSONNEL, **_present(3, of=6)),
    _decide(
        "DEC-02", "REJECT", "no_members", members_entitled=[], members_present=[], votes=[], speaking_order=[]
    ),
    _decide(
        "DEC-02",
        "FLAG:YELLOW",
        "recusal_reduces_n",
        result="REJECTED",
        recusals=[{"person_key": C[4], "reason": "kin"}],
        **_present(2),
    ),
    _decide(
        "DEC-02",
        "REJECT",
        "recusal_kept_in_n",
        cfg={"dec_recusal_reduces_n": False},
        result="REJECTED",
        recusals=[{"person_key": C[4], "reason": "kin"}],
        **_present(2),
    ),
    _decide("DEC-03", "PASS", "three_yes", **_yes(3)),
    _decide("DEC-03", "REJECT", "two_yes_passed", **_yes(2)),
    _decide("DEC-03", "PASS", "two_yes_rejected", result="REJECTED", **_yes(2)),
    _written_in_committee(False),
    _written_in_committee(True),
    _reconsider(2),
    _reconsider(3),
    _reconsider(3, known=False),
    _decide(
        "DEC-04",
        "PASS",
        "interest_recused",
        interests=[{"person_key": C[5], "relation": "kin"}],
        recusals=[{"person_key": C[5], "reason": "kin"}],
    ),
    _decide("DEC-04", "REJECT", "interest_not_recused", interests=[{"person_key": C[5], "relation": "kin"}]),
    _decide(
        "DEC-04",
        "REJECT",
        "interest_voted",
        interests=[{"person_key": C[4], "relation": "kin"}],
        recusals=[{"person_key": C[4], "reason": "kin"}],
    ),
    _decide(
        "DEC-04",
        "REJECT",
        "interest_spoke",
        interests=[{"person_key": C[5], "relation": "kin"}],
        recusals=[{"person_key": C[5], "reason": "kin"}],
        speaking_order=[
            {"person_key": C[5], "seq": 0, "opinion": "AGREE"},
            {"person_key": C[0], "seq": 9, "opinion": "AGREE"},
        ],
    ),
    _decide("DEC-05", "PASS", "principal_last"),
    _decide("DEC-05", "FLAG:YELLOW", "principal_first", principal_key=C[4]),
    _decide(
        "DEC-05", "FLAG:RED", "principal_first_personnel", principal_key=C[4], **PERSONNEL, public_notice=None
    ),
    _decide("DEC-05", "FLAG:YELLOW", "no_principal", principal_key=None),
    _decide(
        "DEC-05",
        "FLAG:YELLOW",
        "silent_member",
        speaking_order=[{"person_key": k, "seq": 4 - i, "opinion": "AGREE"} for i, k in enumerate(C[:4])],
    ),
    _decide(
        "DEC-05",
        "FLAG:YELLOW",
        "divided",
        speaking_order=[
            {"person_key": k, "seq": 5 - i, "opinion": o}
            for i, (k, o) in enumerate(
                zip(C[:5], ["AGREE", "AGREE", "DISAGREE", "DEFER", "DISAGREE"], strict=True)
            )
        ],
    ),
    _split("PASS", ("2016-03-10", 9 * T // 10, "acme")),
    _split("FLAG:RED+YELLOW", ("2016-03-10", 9 * T // 10, "acme"), ("2016-04-08", 9 * T // 10, "acme")),
    _split(
        "FLAG:RED+YELLOW", ("2016-03-10", 8 * T // 10, "acme"), ("2016-03-20", 8 * T // 10, "acme")
    ),  # exactly 0.8 T
    _split("FLAG:RED", ("2016-03-10", T // 2, "acme"), ("2016-03-20", T // 2, "acme")),  # exactly T
    _split("PASS", ("2016-03-10", T // 2, "acme"), ("2016-03-20", T // 2 - 1, "acme")),
    _split("FLAG:RED", ("2016-03-10", T // 2, "acme"), ("2016-09-20", T // 2, "acme")),  # the fiscal year
    _split("PASS", ("2016-12-20", T // 2, "acme"), ("2017-01-25", T // 2, "acme")),
    _split("PASS", ("2016-03-10", 9 * T // 10, "acme"), ("2016-03-20", 9 * T // 10, "other")),
    _split("PASS", ("2016-03-10", 9 * T // 10, "acme"), ("2016-03-20", 9 * T // 10, "acme"), collective=True),
    _decide("DEC-07", "REJECT", "effective_before_meeting", effective_date="2016-03-09"),
    _decide(
        "DEC-07",
        "FLAG:RED",
        "executed_before_meeting",
        execution=[{"exec_id": "e1", "exec_date": "2016-03-09", "amount_fen": 1}],
    ),
    _decide(
        "DEC-07",
        "PASS",
        "executed_on_the_day",
        execution=[{"exec_id": "e1", "exec_date": DAY, "amount_fen": 1}],
    ),
    _emergency("2016-04-09"),  # 30 days after execution
    _emergency("2016-04-10"),
    _emergency("2016-03-20", reverse=True),
    _emergency(None),
    _decide(
        "DEC-08",
        "PASS",
        "executed_110_percent",
        amount_fen=1000,
        execution=[{"exec_id": "e1", "exec_date": DAY, "amount_fen": 1100}],
    ),
    _decide(
        "DEC-08",
        "FLAG:RED",
        "executed_111_percent",
        amount_fen=1000,
        execution=[{"exec_id": "e1", "exec_date": DAY, "amount_fen": 1110}],
    ),
    _decide(
        "DEC-08",
        "FLAG:RED",
        "other_counterparty",
        amount_fen=1000,
        counterparty_key="acme",
        execution=[{"exec_id": "e1", "exec_date": DAY, "amount_fen": 900, "counterparty_key": "shell-co"}],
    ),
    _decide("DEC-09", "PASS", "materials_a_day_ahead", materials_sent_at=ms(DAY, hour=8) - 86_400_000),
    _decide(
        "DEC-09", "FLAG:YELLOW", "materials_23h_ahead", materials_sent_at=ms(DAY, hour=8) - 23 * 3_600_000
    ),
    _decide("DEC-09", "FLAG:YELLOW", "materials_unrecorded", materials_sent_at=None),
    _topic_added(-10),
    _topic_added(0),
    _decide(
        "DEC-10",
        "PASS",
        "notice_five_working_days",
        category="PERSONNEL",
        **_notice("2016-03-01", "2016-03-07"),
    ),
    _decide(
        "DEC-10",
        "FLAG:RED",
        "notice_four_working_days",
        category="PERSONNEL",
        **_notice("2016-03-01", "2016-03-04"),
    ),
    _decide(
        "DEC-10",
        "FLAG:RED",
        "notice_after_effect",
        category="PERSONNEL",
        **_notice("2016-03-07", "2016-03-14"),
    ),
    _decide("DEC-10", "FLAG:RED", "no_notice", category="PERSONNEL", personnel_kind="PROMOTION"),
    _decide("DEC-10", "PASS", "removal_needs_no_notice", category="PERSONNEL", personnel_kind="REMOVAL"),
    _decide("DEC-11", "PASS", "minutes_recorded"),
    _decide("DEC-11", "FLAG:YELLOW", "no_minutes", minutes_doc=None),
    _decide("DEC-11", "PASS", "routine_item", category="OTHER", minutes_doc=None),
    _legal("2016-03-01"),
    _legal("2016-03-11"),
    _legal(None),
    _decide("DEC-12", "PASS", "not_administrative"),
]


@pytest.mark.parametrize(("rule_id", "case", "expected"), CASES, ids=case_ids(CASES))
def test_decision_rules(rule_id: str, case: object, expected: str) -> None:
    L = Ledger()
    receipt = case(L)  # type: ignore[operator]
    assert shown(L, receipt, rule_id) == expected, receipt


def test_dec01_decided_at_another_orgs_meeting() -> None:
    L = Ledger()
    ok(
        L.submit(
            f"{X2}/operator", "meeting.record", meeting_payload("other", "COMMITTEE", ms(DAY, hour=8)), at=DAY
        )
    )
    _setup(L)
    r = L.submit(OP, "decision.record", clean(meeting_id="other"), at=DAY)
    assert (r.rule_id, r.reason_code) == ("DEC-01", "meeting_of_another_org")


def test_dec07_unratified_emergency_deadline() -> None:
    L = Ledger()
    _emergency(None)[1](L)
    assert fired(L, "DEC-07", just_after("2016-04-08")) == []
    assert fired(L, "DEC-07", just_after("2016-04-09")) == [("RED", "not_ratified")]


def test_dec07_ratified_in_time_deadline_stays_quiet() -> None:
    L = Ledger()
    _emergency("2016-03-20")[1](L)
    L.block(at=just_after("2016-05-01"))
    assert [(a["colour"], a["reason_code"]) for a in L.alerts("DEC-07")] == [("YELLOW", "emergency_ratified")]


def test_dec_flags_raised_once_per_decision_across_amendments() -> None:
    L = Ledger()
    _setup(L)
    p = clean(minutes_doc=None, principal_key=C[4])
    ok(L.submit(OP, "decision.record", p, at=DAY))
    r = ok(L.submit(OP, "decision.amend", p | {"prev_version": 1, "amend_reason": "typo"}))
    assert r.alerts == () and sorted(a["rule_id"] for a in L.alerts()) == ["DEC-05", "DEC-11"]


def test_workload_style_decisions_raise_nothing() -> None:
    L = Ledger()
    p = decision_payload("w", DAY, decision_body="BRANCH_COMMITTEE", amount_fen=50_000)
    r = ok(L.submit("cn.p1.c1.x1.b1/operator", "decision.record", p, at=DAY))
    assert r.alerts == ()


def test_dec07_backfilled_emergency_ratified_late_flags_on_its_own_receipt() -> None:
    """Recorded after the ratification (in the same transaction that names it), the emergency
    decision's own receipt carries the RED; the deadline, already past, then stays quiet."""
    L = Ledger()
    _setup(L)
    ok(
        L.submit(
            OP,
            "meeting.record",
            meeting_payload("rm", "COMMITTEE", ms("2016-04-15", hour=8)),
            at="2016-04-15",
        )
    )
    ratify = clean("ratify", meeting_id="rm", effective_date="2016-04-15", materials_sent_at=ms("2016-04-13"))
    ok(L.submit(OP, "decision.record", ratify, at="2016-04-15"))
    execution = [{"exec_id": "e1", "exec_date": DAY, "amount_fen": 5_000_000}]
    emerg = decision_payload("em", DAY, decision_mode="EMERGENCY_INDIVIDUAL", amount_fen=5_000_000)
    emerg.update(category="LARGE_FUNDS", execution=execution, minutes_doc="dm", ratification_ref="ratify")
    r = ok(L.submit(OP, "decision.record", emerg, at="2016-05-01"))
    assert outcome(r, "DEC-07") == "FLAG:RED"
    L.block(at=just_after("2016-06-01"))
    assert [(a["colour"], a["reason_code"]) for a in L.alerts("DEC-07")] == [("RED", "ratified_late")]
