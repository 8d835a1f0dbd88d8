"""Rosters on the meeting date (DOMAIN.md 2026-12): MTG-07's entitled voters are voting full members
of the org on the meeting date for every vote (ordinary, branch committee, county committee,
admission, conversion); MTG-09 counts the branch's full members on the meeting date; MTG-03 never
judges OBSERVER attendance. Minutes recorded after the roster changed are judged on the meeting
date, both ways."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger, import_member, ms, ok, outcome, person
from contracts.testing_procedure import meeting_payload
from tests.support.rule_cases import B1, B2, X1
from wire.types import Receipt

P2B = "cn.p2.c1.x1.b1"
DAY = "2016-03-01"


def _full(L: Ledger, n: int, org: str = B1, prefix: str = "f") -> list[str]:
    for i in range(n):
        import_member(L, f"{prefix}{i}", org)
    return [person(f"{prefix}{i}") for i in range(n)]


def _probationary(L: Ledger, n: int, org: str = B1) -> list[str]:
    for i in range(n):
        import_member(L, f"p{i}", org, status="PROBATIONARY", join="2015-06-01", full=None)  # type: ignore[arg-type]
    return [person(f"p{i}") for i in range(n)]


def _vote(
    L: Ledger,
    entitled: list[str],
    present: list[str],
    yes: int,
    *,
    kind: str = "BRANCH_GENERAL",
    org: str = B1,
    day: str = DAY,
    at: str | None = None,
    mid: str = "m",
    **fields: Any,
) -> Receipt:
    """An ordinary resolution (an item naming nobody) put to the vote."""
    item = {
        "item_id": "1",
        "ballot_method": "SHOW_OF_HANDS",
        "yes": yes,
        "no": 0,
        "abstain": 0,
        "result": "PASSED",
    }
    att = [{"person_key": k, "status": "PRESENT" if k in present else "ABSENT"} for k in entitled]
    p = meeting_payload(
        mid, kind, ms(day, hour=8), entitled_voter_keys=entitled, attendance=att, items=[item]
    )
    p.update(fields)
    return L.submit(f"{org}/operator", "meeting.record", p, at=at or day)


def _move(L: Ledger, name: str, src: str, dst: str, report: str, tid: str = "T1") -> None:
    out = {"transfer_id": tid, "person_key": person(name), "member_status": "FULL", "from_org_id": src}
    out |= {"to_org_id": dst, "issue_date": report, "valid_until": report, "reason": "JOB_CHANGE"}
    ok(L.submit(f"{src}/operator", "transfer.out", out | {"dues_paid_through": report[:7]}, at=report))
    into = {"transfer_id": tid, "person_key": person(name), "to_org_id": dst, "report_date": report}
    ok(
        L.submit(
            f"{dst}/operator", "transfer.in", into | {"receipt_date": report, "accepted": True}, at=report
        )
    )


# ------------------------------------------------------------------------------ MTG-07, every vote
@pytest.mark.parametrize(
    ("roster", "expected"),
    [
        ("padded", "REJECT"),  # 7 of 13 on paper: 3 probationary members listed and present
        ("honest-4-of-10", "REJECT"),  # really 4 of 10: no quorum
        ("honest-7-of-10", "PASS"),
    ],
)
def test_an_ordinary_resolution_padded_with_probationary_members(roster: str, expected: str) -> None:
    L = Ledger()
    full, prob = _full(L, 10), _probationary(L, 3)
    if roster == "padded":
        r = _vote(L, full + prob, full[:4] + prob, 7)
        assert (r.rule_id, r.reason_code) == ("MTG-07", "bad_roster")
    elif roster == "honest-4-of-10":
        r = _vote(L, full, full[:4], 4)
        assert (r.rule_id, r.reason_code) == ("MTG-07", "no_quorum")
    else:
        r = _vote(L, full, full[:7], 7)
    assert outcome(r, "MTG-07") == expected


@pytest.mark.parametrize(("with_probationary", "expected"), [(True, "REJECT"), (False, "PASS")])
def test_a_branch_committee_vote_lists_only_voting_members(with_probationary: bool, expected: str) -> None:
    L = Ledger()
    full, prob = _full(L, 7), _probationary(L, 1)
    committee = full[:2] + prob if with_probationary else full[:3]
    assert outcome(_vote(L, committee, committee, 3, kind="BRANCH_COMMITTEE"), "MTG-07") == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("outsider", "REJECT"),  # no archive: not a member at all
        ("probationary-in-subtree", "REJECT"),
        ("full-in-subtree", "PASS"),
        ("full-elsewhere-with-post", "PASS"),  # relationship in another province, a committee post here
        ("full-elsewhere-without-post", "REJECT"),
    ],
)
def test_a_county_committee_vote_lists_only_voting_members(who: str, expected: str) -> None:
    L = Ledger()
    _full(L, 1, org=B1, prefix="in")
    _probationary(L, 1, org=B1)
    _full(L, 1, org=P2B, prefix="away")
    key = {
        "outsider": person("outsider"),
        "probationary-in-subtree": person("p0"),
        "full-in-subtree": person("in0"),
        "full-elsewhere-with-post": person("away0"),
        "full-elsewhere-without-post": person("away0"),
    }[who]
    if who == "full-elsewhere-with-post":
        post = {
            "org_id": X1,
            "person_key": key,
            "post": "COMMITTEE_MEMBER",
            "action": "APPOINT",
            "date": "2015-01-01",
        }
        ok(L.submit(f"{X1}/operator", "org.set_post", post))
    r = _vote(L, [key], [key], 1, kind="COMMITTEE", org=X1)
    assert outcome(r, "MTG-07") == expected


def test_a_stranger_listed_as_entitled_at_a_vote_is_mtg07_not_mtg03() -> None:
    L = Ledger()
    full = _full(L, 3)
    r = _vote(L, [*full, person("stranger")], full, 3)
    assert (r.status, r.rule_id, r.reason_code) == ("REJECTED", "MTG-07", "bad_roster")


# ---------------------------------------------------------------- late minutes, roster changed since
@pytest.mark.parametrize(("listed", "expected"), [(True, "PASS"), (False, "REJECT")])
def test_a_member_who_left_after_the_meeting_is_still_entitled_on_its_date(
    listed: bool, expected: str
) -> None:
    L = Ledger()
    full = _full(L, 4)
    _move(L, "f3", B1, B2, "2016-04-01")  # after the 2016-03-01 meeting, before its minutes
    entitled = full if listed else full[:3]
    r = _vote(L, entitled, full[:3], 3, at="2016-04-10")
    assert outcome(r, "MTG-07") == expected


@pytest.mark.parametrize(("listed", "expected"), [(True, "REJECT"), (False, "PASS")])
def test_a_member_full_only_after_the_meeting_has_no_vote_on_its_date(listed: bool, expected: str) -> None:
    L = Ledger()
    full = _full(L, 3)
    import_member(L, "late", B1, join="2015-06-01", full="2016-06-01")  # probationary on 2016-03-01
    entitled = [*full, person("late")] if listed else full
    r = _vote(L, entitled, entitled, len(entitled), at="2016-07-01")
    assert outcome(r, "MTG-07") == expected


# ------------------------------------------------------------------------- MTG-03 and OBSERVER
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("OBSERVER", ("ACCEPTED", "")),
        ("PRESENT", ("REJECTED", "XFER-04")),
        ("LEAVE", ("REJECTED", "XFER-04")),
    ],
)
def test_a_former_member_observing_is_not_judged(status: str, expected: tuple[str, str]) -> None:
    L = Ledger()
    full = _full(L, 3)
    _move(L, "f2", B1, B2, "2016-02-01")
    att = [{"person_key": k, "status": "PRESENT"} for k in full[:2]] + [
        {"person_key": full[2], "status": status}
    ]
    r = L.submit(
        f"{B1}/operator",
        "meeting.record",
        meeting_payload("m", "THEME_DAY", ms(DAY, 8), attendance=att),
        at=DAY,
    )
    assert (r.status, r.rule_id) == expected
    if r.accepted:
        assert outcome(r, "MTG-03") == "PASS"


@pytest.mark.parametrize(("status", "expected"), [("OBSERVER", "PASS"), ("PRESENT", "FLAG:YELLOW")])
def test_a_guest_observing_a_county_committee_is_not_judged(status: str, expected: str) -> None:
    L = Ledger()
    full = _full(L, 1)
    att = [{"person_key": full[0], "status": "PRESENT"}, {"person_key": person("guest"), "status": status}]
    r = L.submit(
        f"{X1}/operator",
        "meeting.record",
        meeting_payload("m", "COMMITTEE", ms(DAY, 8), attendance=att),
        at=DAY,
    )
    assert outcome(r, "MTG-03") == expected


# ------------------------------------------------------------------------------ MTG-09 on the date
def _committee_meeting(L: Ledger, day: str, at: str) -> Receipt:
    return L.submit(
        f"{B1}/operator",
        "meeting.record",
        meeting_payload(f"bc-{day}", "BRANCH_COMMITTEE", ms(day, 8)),
        at=at,
    )


@pytest.mark.parametrize(
    ("day", "expected"),
    [("2016-03-31", "PASS"), ("2016-04-01", "FLAG:YELLOW")],  # 8 full members, then 6 from 2016-04-01
)
def test_mtg09_counts_the_members_leaving_after_the_meeting(day: str, expected: str) -> None:
    L = Ledger()
    _full(L, 8)
    _move(L, "f6", B1, B2, "2016-04-01", "T1")
    _move(L, "f7", B1, B2, "2016-04-01", "T2")
    assert outcome(_committee_meeting(L, day, "2016-04-10"), "MTG-09") == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [("2016-03-31", "FLAG:YELLOW"), ("2016-04-01", "PASS")],  # 6 full members, then 7 from 2016-04-01
)
def test_mtg09_counts_the_members_arriving_after_the_meeting(day: str, expected: str) -> None:
    L = Ledger()
    _full(L, 6)
    _full(L, 1, org=B2, prefix="newcomer")
    _move(L, "newcomer0", B2, B1, "2016-04-01")
    assert outcome(_committee_meeting(L, day, "2016-04-10"), "MTG-09") == expected


# ------------------------------------------------------------- JOIN-03/07 and JOIN-26 on the date
@pytest.mark.parametrize(("full_on_the_day", "expected"), [(6, "PASS"), (8, "REJECT")])
def test_join03_the_general_meeting_decides_while_the_branch_had_no_committee_that_day(
    full_on_the_day: int, expected: str
) -> None:
    # 6 full members on 2015-04-01 (no committee: the general meeting decides); two more arrive on
    # 2015-04-15, before the step is recorded: the branch's size that day is what counts
    from contracts.testing import step_payload
    from contracts.testing_procedure import general_vote, run_pipeline

    L = Ledger()
    run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S02")  # the secretary and two introducers
    _full(L, full_on_the_day - 3, prefix="early")
    _full(L, 2, org=B2, prefix="arriving")
    ok(general_vote(L, B1, "m-s03", "ann", "2015-04-01"))
    _move(L, "arriving0", B2, B1, "2015-04-15", "T1")
    _move(L, "arriving1", B2, B1, "2015-04-15", "T2")
    s03 = step_payload("p1", "ann", "S03", "2015-04-01", decision_ref="m-s03", extra={"item_id": "1"})
    assert outcome(L.submit(f"{B1}/operator", "join.step", s03, at="2015-05-10"), "JOIN-03") == expected


@pytest.mark.parametrize(
    ("others_joined", "expected"), [("2016-09-01", "FLAG:YELLOW"), ("2016-07-01", "PASS")]
)
def test_join26_the_share_of_members_is_taken_on_the_admission_date(
    others_joined: str, expected: str
) -> None:
    from contracts.testing import make_genesis
    from contracts.testing_procedure import run_pipeline, step

    L = Ledger(make_genesis(rule_config={"rush_max_permille": 150}))
    run_pipeline(L, "ann", B1, "p1", "2015-02-01", until="S14")  # S15 on 2016-08-01
    _full(L, 2, prefix="old")
    for i in range(20):
        import_member(L, f"new{i}", B1, status="PROBATIONARY", join=others_joined, full=None)  # type: ignore[arg-type]
    # 1 admission of 5 members on the day is more than 15 %; of 25 it is not
    assert outcome(step(L, B1, "p1", "ann", "S15", "2016-08-01"), "JOIN-26") == expected
