"""Joining procedure rules of this issue (DOMAIN.md B.1): JOIN-01, JOIN-08, JOIN-13, JOIN-24.

Rules:

- JOIN-01 RED REJECT: S01 `event_date >= addYears(birth_date, 18)` (the birthday counts unless
  `age_from_day_after_birthday`); the birth date is the earliest recorded one (ARC-03).
- JOIN-08 RED REJECT: S09 names exactly two distinct introducers, neither the applicant, each a
  FULL member (full since at least the S09 date) not under 留党察看 and not suspended; at S15 the
  S09 introducers must still be so.
- JOIN-13 RED REJECT: the S14 volunteer-book serial is not used by another person.
- JOIN-24 stage ordering: a step needs every mandatory predecessor of the chain S01→S02→S03→S05→
  S07→S09→S10→S11→S12→S13→S14→S15→S16→S17→S20→S22→S23→S24→S25 in the same pipeline (or its
  predecessors across a pipeline transfer) dated no later than itself, must not be future-dated,
  and (except the repeatable S06/S21 and an S23 after an extension) must not be recorded twice:
  RED REJECT. The required-but-late steps S04 S06 S08 S18 S19 S21 only anchor on their own
  predecessors; when a later stage starts without one of them: BLUE FLAG (a reminder, once per
  pipeline and step; DOMAIN's index lists JOIN-24 as REJECT, the BLUE case cannot be one).
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import keys
from contracts.base import BlockContext, Colour, Rule, TxCtx, Verdict, flag, reject
from contracts.calendar import is_adult, parse_date
from contracts.config import Config
from contracts.joining import extra_of
from contracts.records import REPEATABLE_STEPS, birth_date_of, chain_steps, get_archive, step_events
from contracts.state import View

CHAIN = (
    "S01", "S02", "S03", "S05", "S07", "S09", "S10", "S11", "S12", "S13",
    "S14", "S15", "S16", "S17", "S20", "S22", "S23", "S24", "S25",
)  # fmt: skip
LATE_ANCHOR = {"S04": "S03", "S06": "S03", "S08": "S07", "S18": "S17", "S19": "S17", "S21": "S17"}
STAGE = {
    f"S{i:02d}": (1 if i <= 2 else 2 if i <= 6 else 3 if i <= 11 else 4 if i <= 18 else 5)
    for i in range(1, 26)
}
_CONVERSION = ("S23", "S24", "S25")


def _step(tx: TxCtx) -> str | None:
    return str(tx.payload["step"]) if tx.tx_type == "join.step" else None


def join01(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if _step(tx) != "S01":
        return ()
    pk = tx.payload["person_key"]
    archive = get_archive(view, pk)
    if archive is None:
        return ()
    birth = birth_date_of(archive)
    strict = config.get_bool("age_from_day_after_birthday", tx.org_id)
    if is_adult(birth, parse_date(tx.payload["event_date"]), from_day_after_birthday=strict):
        return ()
    return (
        reject(
            "JOIN-01",
            "under_18",
            f"born {birth.isoformat()}: not yet 18 on {tx.payload['event_date']}",
            subject_keys=(pk,),
            record_refs=(keys.archive(pk),),
        ),
    )


def _introducer_problem(view: View, key: str, applicant: str, on: str) -> str | None:
    if key == applicant:
        return "the applicant cannot introduce themself"
    archive = get_archive(view, key)
    if archive is None:
        return f"introducer {key[:12]}… has no archive"
    if archive["status"] != "FULL":
        return f"introducer {key[:12]}… is {archive['status']}, not a full member"
    if archive["full_date"] is not None and archive["full_date"] > on:
        return f"introducer {key[:12]}… was not yet a full member on {on}"
    if archive["party_standing"] == "PROBATION_WITHIN_PARTY":
        return f"introducer {key[:12]}… is under 留党察看"
    return None


def join08(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    step = _step(tx)
    p = tx.payload
    if step == "S09":
        introducers = sorted(set(p["actor_keys"]))
        if len(introducers) != 2:
            return (reject("JOIN-08", "introducer_count", f"{len(introducers)} distinct introducers, not 2"),)
    elif step == "S15" and p["result"] == "PASS":
        events = step_events(view, p["pipeline_id"], "S09")
        introducers = sorted(set(events[-1]["actor_keys"])) if events else []
    else:
        return ()
    for key in introducers:
        problem = _introducer_problem(view, key, p["person_key"], p["event_date"])
        if problem is not None:
            return (
                reject(
                    "JOIN-08",
                    "bad_introducer",
                    problem,
                    subject_keys=(p["person_key"], key),
                    record_refs=(keys.archive(key),),
                ),
            )
    return ()


def join13(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if _step(tx) != "S14":
        return ()
    serial = extra_of(tx.payload)["volunteer_book_no"]
    if serial is None:
        return ()
    held = view.get(keys.idx_volunteer_book(serial))
    if held is None or held["person_key"] == tx.payload["person_key"]:
        return ()
    return (
        reject(
            "JOIN-13",
            "volunteer_book_reused",
            f"volunteer book {serial} is already used by another person",
            subject_keys=(tx.payload["person_key"], held["person_key"]),
            record_refs=(keys.idx_volunteer_book(serial),),
        ),
    )


def _predecessors(step: str) -> tuple[str, ...]:
    if step in CHAIN:
        return CHAIN[: CHAIN.index(step)]
    anchor = LATE_ANCHOR[step]
    return CHAIN[: CHAIN.index(anchor) + 1]


def join24(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    step = _step(tx)
    if step is None:
        return ()
    p = tx.payload
    pk, pid, day = p["person_key"], p["pipeline_id"], p["event_date"]
    refs = (keys.pipeline(pid),)
    if parse_date(day) > tx.today:
        return (reject("JOIN-24", "future_date", f"{step} is dated {day}, after today", record_refs=refs),)
    done = chain_steps(view, pid) if step != "S01" else {}
    if step in done and step not in REPEATABLE_STEPS:
        earlier = step_events(view, pid, step)
        if not (step == "S23" and all(e["result"] == "EXTEND" for e in earlier)):
            return (reject("JOIN-24", "step_repeated", f"{step} is already recorded", record_refs=refs),)
    for pred in _predecessors(step):
        if pred not in done:
            return (
                reject(
                    "JOIN-24",
                    "missing_step",
                    f"{step} needs {pred} first",
                    subject_keys=(pk,),
                    record_refs=refs,
                ),
            )
        if done[pred] > day:
            return (
                reject(
                    "JOIN-24",
                    "out_of_order",
                    f"{step} on {day} precedes {pred} on {done[pred]}",
                    subject_keys=(pk,),
                    record_refs=refs,
                ),
            )
    out = []
    if step in CHAIN:
        for late, anchor in sorted(LATE_ANCHOR.items()):
            due = STAGE[step] > STAGE[late] or (STAGE[late] == 5 and step in _CONVERSION)
            if due and late not in done and CHAIN.index(anchor) < CHAIN.index(step):
                out.append(
                    flag(
                        "JOIN-24",
                        Colour.BLUE,
                        "late_step_missing",
                        f"{late} is not recorded yet ({step} already reached)",
                        subject_keys=(pk,),
                        record_refs=refs,
                        dedup_key=f"{pid}:{late}",
                    )
                )
    return out


RULES: tuple[Rule, ...] = (
    Rule(
        rule_id="JOIN-01",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Applicant at least 18 at application.",
        family="JOIN",
        tx_types=("join.step",),
        fn=join01,
    ),
    Rule(
        rule_id="JOIN-08",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Two introducers, full members in good standing, not the applicant.",
        family="JOIN",
        tx_types=("join.step",),
        fn=join08,
    ),
    Rule(
        rule_id="JOIN-13",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Volunteer book serial unique.",
        family="JOIN",
        tx_types=("join.step",),
        fn=join13,
    ),
    Rule(
        rule_id="JOIN-24",
        colours=(Colour.RED, Colour.BLUE),
        disposition="REJECT",
        description="Stage ordering, no skipping (late filing steps: BLUE reminder).",
        family="JOIN",
        tx_types=("join.step",),
        fn=join24,
    ),
)
