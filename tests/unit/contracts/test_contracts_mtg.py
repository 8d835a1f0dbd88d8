"""MTG-01..04 and MTG-07..09, table-driven (one meeting at a time)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger, digest, import_member, make_genesis, ms, ok, outcome, person
from contracts.testing_procedure import meeting_payload
from tests.support.rule_cases import B1, B2, X1, Case, case_ids, named
from wire.types import Receipt

MEMBERS = ("a", "b", "c", "d")
HOUR = 3_600_000


def _branch(L: Ledger, n: int = 4, org: str = B1) -> list[str]:
    names = [f"{org}-m{i}" for i in range(n)]
    for name in names:
        import_member(L, name, org)
    return [person(x) for x in names]


def _meeting(
    L: Ledger,
    mid: str,
    kind: str,
    day: str,
    *,
    hour: int = 8,
    org: str = B1,
    at: str | None = None,
    **fields: Any,
) -> Receipt:
    p = meeting_payload(mid, kind, ms(day, hour=hour), **fields)
    return L.submit(f"{org}/operator", "meeting.record", p, at=at or day)


def _present(*keys: str, status: str = "PRESENT") -> list[dict[str, Any]]:
    return [{"person_key": k, "status": status} for k in keys]


# ---------------------------------------------------------------------------------------- MTG-01
def _overlap(minutes: int, *, second_status: str = "PRESENT") -> Case:
    def build(L: Ledger) -> Receipt:
        a, b = _branch(L, 2)
        ok(_meeting(L, "m1", "BRANCH_GENERAL", "2016-03-01", hour=6, attendance=_present(a, b)))
        start = ms("2016-03-01", hour=6) + 50 * 60_000 - minutes * 60_000
        p = meeting_payload("m2", "GROUP", start, attendance=[{"person_key": a, "status": second_status}])
        return L.submit(f"{B1}/operator", "meeting.record", p, at="2016-03-01")

    expected = (
        "PASS"
        if minutes <= 0 or second_status != "PRESENT"
        else ("FLAG:YELLOW" if minutes <= 10 else "FLAG:RED")
    )
    return ("MTG-01", named(f"overlap_{minutes}min_{second_status}", build), expected)


# ---------------------------------------------------------------------------------------- MTG-02
def _minutes(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        a, b = _branch(L, 2)
        topics = [{"topic_id": "t1", "title_hash": digest("study the charter")}]
        same = {"topics": topics, "attendance": _present(a, b)}
        ok(_meeting(L, "m1", "THEME_DAY", "2016-03-01", **same))
        if kind == "third-same-agenda":
            ok(_meeting(L, "m2", "THEME_DAY", "2016-04-01", **same))
        fields: dict[str, Any] = dict(same) if kind.endswith("same-agenda") else {}
        if kind == "same-file":
            fields["minutes_content_hash"] = digest("minutes:m1")
        if kind == "same-text":
            fields["minutes_text_hash"] = digest("minutes-text:m1")
        return _meeting(L, "m3", "THEME_DAY", "2016-05-01", **fields)

    expected = {"fine": "PASS", "same-file": "REJECT", "same-text": "FLAG:RED"}
    expected |= {"second-same-agenda": "PASS", "third-same-agenda": "FLAG:YELLOW"}
    return ("MTG-02", named(f"minutes_{kind}", build), expected[kind])


# ---------------------------------------------------------------------------------------- MTG-03
def _attendee(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        (a,) = _branch(L, 1)
        import_member(L, "later", B1, join="2020-01-01", full="2021-01-01")
        stranger, later = person("stranger"), person("later")
        match kind:
            case "member":
                return _meeting(L, "m", "BRANCH_GENERAL", "2016-03-01", attendance=_present(a))
            case "stranger-present":
                return _meeting(L, "m", "THEME_DAY", "2016-03-01", attendance=_present(a, stranger))
            case "stranger-observer":
                att = [*_present(a), {"person_key": stranger, "status": "OBSERVER"}]
                return _meeting(L, "m", "THEME_DAY", "2016-03-01", attendance=att)
            case "stranger-voter" | "not-yet-joined-voter":
                who = stranger if kind == "stranger-voter" else later
                return _meeting(
                    L,
                    "m",
                    "PARTY_LESSON",
                    "2016-03-01",
                    attendance=_present(a, who),
                    entitled_voter_keys=[a, who],
                )
            case "leadership-outsider":
                return _meeting(L, "m", "LEADERSHIP", "2016-03-01", attendance=_present(a, stranger))
            case "county-committee-post":
                post = {"org_id": X1, "person_key": stranger, "post": "COMMITTEE_MEMBER", "action": "APPOINT"}
                ok(L.submit(f"{X1}/operator", "org.set_post", post | {"date": "2015-01-01"}))
                return _meeting(L, "m", "COMMITTEE", "2016-03-01", org=X1, attendance=_present(a, stranger))
        raise AssertionError(kind)

    expected = {
        "stranger-present": "FLAG:YELLOW",
        "stranger-voter": "REJECT",
        "not-yet-joined-voter": "REJECT",
    }
    return ("MTG-03", named(f"attendee_{kind}", build), expected.get(kind, "PASS"))


# ---------------------------------------------------------------------------------------- MTG-04
def _registered_after(days: int) -> Case:
    def build(L: Ledger) -> Receipt:
        from tests.support.rule_cases import day

        return _meeting(L, "m", "THEME_DAY", "2016-03-01", at=day("2016-03-01", days=days))

    expected = "PASS" if days <= 7 else ("FLAG:YELLOW" if days <= 30 else "FLAG:RED")
    return ("MTG-04", named(f"registered_{days}_days_later", build), expected)


# ---------------------------------------------------------------------------------------- MTG-07
def _vote(
    kind: str, present: int, yes: int, *, written: str | None = None, cfg: Any = None, result: str = "PASSED"
) -> Case:
    def build(L: Ledger) -> Receipt:
        if cfg:
            L.__init__(make_genesis(rule_config=cfg))  # type: ignore[misc]
        people = _branch(L, 4)
        entitled = people if kind != "BRANCH_COMMITTEE" else people[:3]
        attendance = [
            {"person_key": k, "status": "PRESENT" if i < present else "ABSENT"}
            for i, k in enumerate(entitled)
        ]
        item = {
            "item_id": "1",
            "ballot_method": "SECRET",
            "yes": yes,
            "no": 0,
            "abstain": 0,
            "result": result,
        }
        fields: dict[str, Any] = {"entitled_voter_keys": entitled, "attendance": attendance, "items": [item]}
        if written is not None:
            at = ms("2016-03-01", hour=7) if written == "before" else ms("2016-03-01", hour=9)
            fields["written_opinions"] = [{"person_key": entitled[-1], "vote": "YES", "submitted_at": at}]
        if kind == "no-entitled":
            fields.update(entitled_voter_keys=[], attendance=[])
        return _meeting(L, "m", "BRANCH_GENERAL" if kind == "no-entitled" else kind, "2016-03-01", **fields)

    return (kind, present, yes, written, cfg, result, build)  # type: ignore[return-value]


def _vote_case(expected: str, *args: Any, **kw: Any) -> Case:
    kind, present, yes, written, cfg, result, build = _vote(*args, **kw)  # type: ignore[misc]
    name = f"{kind}_present{present}_yes{yes}_written={written}_{result}" + ("_cfg" if cfg else "")
    return ("MTG-07", named(name, build), expected)


def _ballots_exceed(L: Ledger) -> Receipt:
    people = _branch(L, 4)
    item = {"item_id": "1", "ballot_method": "SECRET", "yes": 3, "no": 1, "abstain": 0, "result": "PASSED"}
    att = [{"person_key": k, "status": "PRESENT" if i < 3 else "ABSENT"} for i, k in enumerate(people)]
    return _meeting(
        L, "m", "BRANCH_GENERAL", "2016-03-01", entitled_voter_keys=people, attendance=att, items=[item]
    )


# ---------------------------------------------------------------------------------------- MTG-08
def _times(kind: str) -> Case:
    def build(L: Ledger) -> Receipt:
        (a,) = _branch(L, 1)
        start = ms("2016-03-01", hour=8)
        fields: dict[str, Any] = {}
        match kind:
            case "end-before-start":
                fields["end"] = start - 1
            case "25-hours":
                fields["end"] = start + 25 * HOUR
            case "future":
                start = ms("2016-03-01", hour=11)
            case "before-founded":
                return _meeting(L, "m", "THEME_DAY", "1999-12-31", at="2016-03-01")
            case "early-sign-in" | "sign-in-ok":
                ahead = 3 if kind == "early-sign-in" else 1
                fields["attendance"] = [
                    {"person_key": a, "status": "PRESENT", "sign_in_at": start - ahead * HOUR}
                ]
        p = meeting_payload("m", "THEME_DAY", start, **fields)
        return L.submit(f"{B1}/operator", "meeting.record", p, at="2016-03-01")

    expected = {"fine": "PASS", "sign-in-ok": "PASS", "early-sign-in": "FLAG:YELLOW"}
    return ("MTG-08", named(f"times_{kind}", build), expected.get(kind, "REJECT"))


# ---------------------------------------------------------------------------------------- MTG-09
def _structure(full: int, kind: str, *, probationary: int = 0, org: str = B1) -> Case:
    def build(L: Ledger) -> Receipt:
        _branch(L, full, org=org) if full else None
        for i in range(probationary):
            import_member(L, f"p{i}", org, status="PROBATIONARY", join="2015-06-01", full=None)  # type: ignore[arg-type]
        return _meeting(L, "m", kind, "2016-03-01", org=org)

    members = full + probationary
    if members == 0:
        expected = "PASS"
    else:
        colours = (["YELLOW"] if kind == "BRANCH_COMMITTEE" and full < 7 else []) + (
            ["BLUE"] if members > 50 else []
        )
        colours += ["BLUE"] if full < 3 else []
        expected = "FLAG:" + "+".join(sorted(colours)) if colours else "PASS"
    return ("MTG-09", named(f"structure_{full}full_{probationary}prob_{kind}_{org}", build), expected)


def _structure_once_a_year(L: Ledger) -> Receipt:
    _branch(L, 2)
    ok(_meeting(L, "m1", "THEME_DAY", "2016-03-01"))
    return _meeting(L, "m2", "THEME_DAY", "2016-04-01")


CASES: list[Case] = [
    _overlap(0),
    _overlap(10),
    _overlap(11),
    _overlap(50),
    _overlap(30, second_status="ABSENT"),
    _overlap(30, second_status="OBSERVER"),
    _minutes("fine"),
    _minutes("same-file"),
    _minutes("same-text"),
    _minutes("second-same-agenda"),
    _minutes("third-same-agenda"),
    *(
        _attendee(k)
        for k in (
            "member",
            "stranger-present",
            "stranger-observer",
            "stranger-voter",
            "not-yet-joined-voter",
            "leadership-outsider",
            "county-committee-post",
        )
    ),
    _registered_after(0),
    _registered_after(7),
    _registered_after(8),
    _registered_after(30),
    _registered_after(31),
    _vote_case("PASS", "BRANCH_GENERAL", 4, 4),
    _vote_case("PASS", "BRANCH_GENERAL", 3, 3),
    _vote_case("FLAG:YELLOW", "BRANCH_GENERAL", 2, 2, written="before"),  # exactly half present
    _vote_case("REJECT", "BRANCH_GENERAL", 2, 2, written="before", cfg={"quorum_half_inclusive": False}),
    _vote_case("REJECT", "BRANCH_GENERAL", 1, 1),
    _vote_case("REJECT", "BRANCH_GENERAL", 3, 2),  # 2 of 4 entitled is not more than half
    _vote_case("PASS", "BRANCH_GENERAL", 3, 2, result="REJECTED"),
    _vote_case("PASS", "BRANCH_GENERAL", 3, 2, written="before"),
    _vote_case("REJECT", "BRANCH_GENERAL", 3, 2, written="after"),
    _vote_case("REJECT", "BRANCH_COMMITTEE", 2, 1, written="before"),
    _vote_case(
        "PASS", "BRANCH_COMMITTEE", 2, 1, written="before", cfg={"count_written_opinions_in_committee": True}
    ),
    _vote_case("REJECT", "no-entitled", 0, 0),
    ("MTG-07", named("ballots_exceed_present", _ballots_exceed), "REJECT"),
    *(
        _times(k)
        for k in (
            "fine",
            "end-before-start",
            "25-hours",
            "future",
            "before-founded",
            "early-sign-in",
            "sign-in-ok",
        )
    ),
    _structure(4, "BRANCH_COMMITTEE"),
    _structure(7, "BRANCH_COMMITTEE"),
    _structure(2, "THEME_DAY"),
    _structure(3, "THEME_DAY"),
    _structure(3, "THEME_DAY", probationary=48),
    _structure(0, "THEME_DAY", org=B2),  # no roster on the ledger yet
    ("MTG-09", named("structure_blue_once_a_year", _structure_once_a_year), "PASS"),
]


@pytest.mark.parametrize(("rule_id", "case", "expected"), CASES, ids=case_ids(CASES))
def test_meeting_rules(rule_id: str, case: object, expected: str) -> None:
    L = Ledger()
    receipt = case(L)  # type: ignore[operator]
    assert outcome(receipt, rule_id) == expected, receipt


def test_mtg01_alert_names_both_meetings_once() -> None:
    L = Ledger()
    _overlap(50)[1](L)
    amend = meeting_payload("m2", "GROUP", ms("2016-03-01", hour=6), attendance=_present(person(f"{B1}-m0")))
    ok(L.submit(f"{B1}/operator", "meeting.amend", amend | {"prev_version": 1, "amend_reason": "typo"}))
    (alert,) = L.alerts("MTG-01")
    assert alert["record_refs"] == ["meeting/m1", "meeting/m2"] and alert["subject_keys"] == [
        person(f"{B1}-m0")
    ]
