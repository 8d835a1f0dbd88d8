"""Long scenarios of issue 6: a branch's year of meetings, a county approving an admission four
months after the branch vote, three fund payments of 90% of the threshold in a month, and a
deadline crossing a quiet month, identical on replay and after a restart from a snapshot."""

from __future__ import annotations

from typing import Any

from contracts import BlockContext, execute_block, genesis_state
from contracts.testing import Ledger, MemoryState, digest, import_member, ms, ok, person
from contracts.testing_procedure import decision_payload, meeting_payload, pipeline_dates, run_pipeline, step
from tests.support.rule_cases import just_after, just_before
from wire.types import Receipt

B1, X1, C1 = "cn.p1.c1.x1.b1", "cn.p1.c1.x1", "cn.p1.c1"
MEMBERS = [f"member-{i}" for i in range(8)]  # eight full members: the branch has a committee
COMMITTEE = MEMBERS[:3]


def _alerts(L: Ledger, *rules: str) -> list[tuple[str, str, str]]:
    return [
        (a["rule_id"], a["colour"], a["reason_code"])
        for a in L.alerts()
        if not rules or a["rule_id"] in rules
    ]


# ------------------------------------------------------------------------------ a year of meetings
def _meeting(L: Ledger, mid: str, kind: str, day: str, absent: tuple[str, ...] = (), **kw: Any) -> Receipt:
    people = COMMITTEE if kind == "BRANCH_COMMITTEE" else MEMBERS
    att = [{"person_key": person(n), "status": "ABSENT" if n in absent else "PRESENT"} for n in people]
    p = meeting_payload(mid, kind, ms(day, hour=8), attendance=att, **kw)
    if kind in ("BRANCH_GENERAL", "BRANCH_COMMITTEE"):
        keys = [person(n) for n in people]
        present = len(keys) - len(absent)
        item = {
            "item_id": "1",
            "ballot_method": "SHOW_OF_HANDS",
            "yes": present,
            "no": 0,
            "abstain": 0,
            "result": "PASSED",
        }
        p.update(entitled_voter_keys=keys, items=[item])
    return L.submit(f"{B1}/operator", "meeting.record", p, at=day)


def test_a_branch_year_of_meetings_with_copied_minutes_and_a_member_absent_three_times() -> None:
    L = Ledger()
    for n in MEMBERS:
        import_member(L, n, B1)
    secretary = {"org_id": B1, "person_key": person(MEMBERS[0]), "post": "SECRETARY", "action": "APPOINT"}
    ok(L.submit(f"{B1}/operator", "org.set_post", secretary | {"date": "2010-01-01"}))
    copied_from = None
    for month in range(1, 13):
        ym = f"2018-{month:02d}"
        # member-7 misses the theme days of March, April and May (and nothing else)
        absent = ("member-7",) if month in (3, 4, 5) else ()
        fields: dict[str, Any] = {}
        if month == 9:  # September's theme-day minutes are August's text under a new layout
            fields["minutes_text_hash"] = copied_from
        r = ok(_meeting(L, f"td-{ym}", "THEME_DAY", f"{ym}-05", absent, **fields), f"theme day {ym}")
        if month == 8:
            copied_from = digest("minutes-text:" + f"td-{ym}")
        if month == 5:
            assert [(a.rule_id, a.colour) for a in r.alerts] == [("MTG-05", "YELLOW")]
        ok(_meeting(L, f"bc-{ym}", "BRANCH_COMMITTEE", f"{ym}-08"), f"committee {ym}")
        ok(_meeting(L, f"gr-{ym}", "GROUP", f"{ym}-12", group_id="group-1"), f"group {ym}")
        if month % 3 == 1:
            ok(_meeting(L, f"bg-{ym}", "BRANCH_GENERAL", f"{ym}-15"), f"general {ym}")
            lesson = {"lecturer_key": person(MEMBERS[0])}
            ok(_meeting(L, f"pl-{ym}", "PARTY_LESSON", f"{ym}-20", **lesson), f"lesson {ym}")
    ok(_meeting(L, "ol-2018", "ORG_LIFE", "2018-12-20"))
    ok(_meeting(L, "dr-2018", "DEMOCRATIC_REVIEW", "2018-12-21"))
    # an attempt to register October's minutes file again as November's is refused outright
    dup = meeting_payload(
        "td-dup", "THEME_DAY", ms("2018-11-25", hour=8), minutes_content_hash=digest("minutes:td-2018-10")
    )
    refused = L.submit(f"{B1}/operator", "meeting.record", dup, at="2018-11-25")
    assert (refused.status, refused.rule_id, refused.reason_code) == ("REJECTED", "MTG-02", "minutes_reused")
    L.block(at=just_after("2019-01-07"))  # December counted
    assert _alerts(L) == [("MTG-05", "YELLOW", "absent_streak"), ("MTG-02", "RED", "minutes_copied")]
    (absence,) = L.alerts("MTG-05")
    assert absence["subject_keys"] == [person("member-7")] and absence["org_id"] == B1
    (copied,) = L.alerts("MTG-02")
    assert copied["record_refs"] == ["meeting/td-2018-09", "meeting/td-2018-08"]


# ----------------------------------------------------------------- an approval four months late
def test_county_committee_approves_an_admission_four_months_after_the_branch_vote() -> None:
    L = Ledger()
    dates = run_pipeline(L, "ann", B1, "p1", "2016-01-04", until="S16")
    s15 = dates["S15"]  # 2017-07-04
    assert s15 == "2017-07-04"
    L.block(at=just_after("2017-09-04"))  # two months: reminder
    L.block(at=just_after("2017-10-04"))  # three months: overdue
    r = ok(step(L, B1, "p1", "ann", "S17", "2017-11-04"))  # four months, no special reason
    assert [(a.rule_id, a.colour) for a in r.alerts] == [("JOIN-17", "RED")]
    assert _alerts(L, "JOIN-17") == [
        ("JOIN-17", "BLUE", "approval_due_soon"),
        ("JOIN-17", "YELLOW", "approval_overdue"),
        ("JOIN-17", "RED", "approval_late"),
    ]
    red = L.get(f"alert/{r.alerts[0].alert_id}")
    assert red is not None and red["org_id"] == X1 and red["details"] == {}
    # the county cannot close its own RED; the city above it can, with evidence, and it is kept
    close = {
        "alert_id": red["alert_id"],
        "reason": "approved late: committee vacancy",
        "evidence_hash": "aa" * 32,
    }
    refused = L.submit(f"{X1}/approver", "alert.resolve", close)
    assert (refused.status, refused.reason_code) == ("REJECTED", "higher_org_required")
    ok(L.submit(f"{C1}/admin", "alert.resolve", close))
    rec = L.get(f"alert/{red['alert_id']}")
    assert rec is not None and rec["status"] == "RESOLVED" and rec["closed_by_org"] == C1
    assert L.get("archive/" + person("ann"))["status"] == "PROBATIONARY"  # type: ignore[index]
    # the same delay with a recorded special reason is only a risk
    L2 = Ledger()
    run_pipeline(L2, "ann", B1, "p1", "2016-01-04", until="S16")
    r2 = ok(step(L2, B1, "p1", "ann", "S17", "2017-11-04", extra={"special_extension_reason": "vacancy"}))
    assert [(a.rule_id, a.colour) for a in r2.alerts] == [("JOIN-17", "YELLOW")]


# ---------------------------------------------------------------- three payments of 90% in a month
def test_three_fund_payments_of_ninety_percent_of_the_threshold_in_a_month() -> None:
    L = Ledger()
    threshold = 10_000_000  # ¥100,000 (large_funds_threshold_fen)
    got = []
    for i, day in enumerate(("2018-06-01", "2018-06-12", "2018-06-28")):
        p = decision_payload(
            f"pay-{i}",
            day,
            decision_body="MGMT_MEETING",
            decision_mode="INDIVIDUAL",
            amount_fen=threshold * 9 // 10,
            counterparty_key="supplier-7",
            budget_item="renovation",
        )
        r = ok(L.submit(f"{X1}/operator", "decision.record", p, at=day))
        got.append(sorted((a.rule_id, a.colour) for a in r.alerts))
    assert got == [[], [("DEC-06", "RED"), ("DEC-06", "YELLOW")], [("DEC-06", "RED"), ("DEC-06", "YELLOW")]]
    red = [a for a in L.alerts("DEC-06") if a["colour"] == "RED"]
    assert red[-1]["details"]["window_sum_fen"] == 3 * threshold * 9 // 10
    assert red[-1]["details"]["dimension"] == "counterparty_key"


# ------------------------------------------------------------------ a deadline across a quiet month
def _replay(
    genesis: Any, blocks: list[tuple[BlockContext, tuple[Any, ...]]], state: MemoryState | None = None
) -> tuple[MemoryState, list[Any]]:
    state = state or MemoryState(genesis_state(genesis))
    outs = []
    for ctx, txs in blocks:
        out = execute_block(state, ctx, txs)
        state.apply(out.writes)
        outs.append(out)
    return state, outs


def test_deadline_fires_in_exactly_one_block_after_a_quiet_month_same_id_on_replay_and_restart() -> None:
    L = Ledger()
    run_pipeline(L, "ann", B1, "p1", "2018-03-01", until="S01")  # application received 03-01
    for n in MEMBERS[:3]:
        import_member(L, n, B1)
    ok(_meeting(L, "td-first", "THEME_DAY", "2018-03-02"))  # and the branch goes live (MTG-06)
    L.block(at=ms("2018-03-20"))
    L.block(at=just_before("2018-04-01"))  # the last instant of "within one month"
    quiet_from = L.height
    L.block(at=ms("2018-05-15"))  # a quiet month and a half later: one block
    L.block(at=ms("2018-05-16"))
    talk = [a for a in L.alerts("JOIN-02")]
    assert [(a["colour"], a["reason_code"], a["raised_height"]) for a in talk] == [
        ("YELLOW", "talk_overdue", quiet_from + 1)
    ]
    assert talk[0]["raised_at"] == ms("2018-05-15") and talk[0]["source"]["due"].startswith("due/")
    # April's theme day was also missing: counted in the same block, after its grace days
    assert sorted((a["details"]["period"], a["colour"], a["raised_height"]) for a in L.alerts("MTG-06")) == [
        ("2018-04/1", "BLUE", quiet_from + 1),
        ("2018-04/1", "YELLOW", quiet_from + 1),
    ]
    ids = [a["alert_id"] for a in L.alerts()]

    # replay on a fresh node: same writes, receipts and alert ids
    state, outs = _replay(L.genesis, L.blocks)
    assert [o.writes for o in outs] == [o.writes for o in L.outcomes]
    assert [o.receipts for o in outs] == [o.receipts for o in L.outcomes]
    assert sorted(k for k, _ in state.items() if k.startswith(b"alert/")) == sorted(
        f"alert/{i}".encode() for i in ids
    )

    # a restart: a node rebuilt from a snapshot of its entries just before the quiet month
    before, _ = _replay(L.genesis, L.blocks[:quiet_from])
    restarted = MemoryState(before.items())
    _, tail = _replay(L.genesis, L.blocks[quiet_from:], state=restarted)
    assert [o.writes for o in tail] == [o.writes for o in L.outcomes[quiet_from:]]
    assert sorted(k for k, _ in restarted.items()) == sorted(k for k, _ in L.state.items())
    assert pipeline_dates("2018-03-01")["S02"] == "2018-03-21"
