"""Duplicate joining (DOMAIN.md B.2): DUP-01..06.

Rules (the predicates of DOMAIN.md, evaluated on the state before the transaction):

- DUP-01 RED REJECT: a new S01 for a person whose archive is PROBATIONARY, FULL or SUSPENDED.
- DUP-02 RED REJECT: any step (or an archive.create elsewhere) for a person who has another open
  pipeline (not closed, no S17 yet) not linked to this one by a pipeline transfer.
- DUP-03: a new S01 by an expelled person: within 5 years of expulsion, or barred for ever
  (`no_rejoin`): RED REJECT; after 5 years: YELLOW FLAG (needs higher review).
- DUP-04: a new S01 after REMOVED / WITHDRAWN / CANCELLED_PROBATION: BLUE FLAG (allowed, 党龄 does
  not continue); restoring 党籍 from anything but SUSPENDED: RED REJECT.
- DUP-05 YELLOW FLAG: two archives with different person keys but the same `name_key`; raised once
  per pair.
- DUP-06 RED REJECT: two person keys referencing the same volunteer-book serial (archive, material,
  S14) or the same S15 meeting item. It outranks JOIN-14 (two people on one S15 item); JOIN-13,
  the S14 rule, outranks it on an S14.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import keys
from contracts.base import BlockContext, Colour, Rule, TxCtx, Verdict, flag, reject
from contracts.calendar import add_years, parse_date
from contracts.config import Config
from contracts.joining import extra_of
from contracts.records import (
    MEMBER_STATUSES,
    chain_ids,
    get_archive,
    is_open_before_approval,
    person_pipelines,
)
from contracts.state import View

EXPULSION_BAR_YEARS = 5  # 《处分条例》: 开除党籍…五年内不得重新入党
_RESTORABLE_NEVER = ("REMOVED", "WITHDRAWN", "EXPELLED")
_REAPPLY_BLUE = ("REMOVED", "WITHDRAWN", "CANCELLED_PROBATION")


def _is_s01(tx: TxCtx) -> bool:
    return tx.tx_type == "join.step" and tx.payload["step"] == "S01"


def dup01(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not _is_s01(tx):
        return ()
    pk = tx.payload["person_key"]
    archive = get_archive(view, pk)
    if archive is None or archive["status"] not in MEMBER_STATUSES:
        return ()
    return (
        reject(
            "DUP-01",
            "already_member",
            f"the person is already a {archive['status']} member held by {archive['current_org_id']}",
            subject_keys=(pk,),
            record_refs=(keys.archive(pk),),
        ),
    )


def dup02(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    pk = tx.payload["person_key"]
    if tx.tx_type == "archive.create":
        archive = get_archive(view, pk)
        if archive is None or archive["org_id"] == tx.org_id:
            return ()
        linked: list[str] = []
    else:
        linked = chain_ids(view, tx.payload["pipeline_id"])
    for pipe in person_pipelines(view, pk):
        if pipe["pipeline_id"] in linked or not is_open_before_approval(pipe):
            continue
        return (
            reject(
                "DUP-02",
                "parallel_pipeline",
                f"the person has an open pipeline {pipe['pipeline_id']} at {pipe['org_id']}",
                subject_keys=(pk,),
                record_refs=(keys.pipeline(pipe["pipeline_id"]),),
                details={"open_pipeline": pipe["pipeline_id"], "held_by": pipe["org_id"]},
            ),
        )
    return ()


def dup03(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    if not _is_s01(tx):
        return ()
    pk = tx.payload["person_key"]
    archive = get_archive(view, pk)
    if archive is None:
        return ()
    refs = (keys.archive(pk),)
    if archive["no_rejoin"]:
        return (
            reject(
                "DUP-03", "rejoin_barred", "the person may never rejoin", subject_keys=(pk,), record_refs=refs
            ),
        )
    if archive["status"] != "EXPELLED" or archive["expelled_date"] is None:
        return ()
    bar_end = add_years(parse_date(archive["expelled_date"]), EXPULSION_BAR_YEARS)
    details = {"expelled_date": archive["expelled_date"], "bar_ends": bar_end.isoformat()}
    if parse_date(tx.payload["event_date"]) < bar_end:
        return (
            reject(
                "DUP-03",
                "expelled_within_bar",
                f"expelled on {archive['expelled_date']}: no new application before {bar_end.isoformat()}",
                subject_keys=(pk,),
                record_refs=refs,
                details=details,
            ),
        )
    return (
        flag(
            "DUP-03",
            Colour.YELLOW,
            "expelled_reapplies",
            f"a person expelled on {archive['expelled_date']} applies again: higher review needed",
            subject_keys=(pk,),
            record_refs=refs,
            details=details,
        ),
    )


def dup04(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    pk = tx.payload["person_key"]
    archive = get_archive(view, pk)
    if archive is None:
        return ()
    refs = (keys.archive(pk),)
    if tx.tx_type == "archive.event":
        if tx.payload["event"] == "RESTORE" and archive["status"] in _RESTORABLE_NEVER:
            return (
                reject(
                    "DUP-04",
                    "not_restorable",
                    f"党籍 cannot be restored from {archive['status']}; the person must join again",
                    subject_keys=(pk,),
                    record_refs=refs,
                ),
            )
        return ()
    if _is_s01(tx) and archive["status"] in _REAPPLY_BLUE:
        return (
            flag(
                "DUP-04",
                Colour.BLUE,
                "reapplication",
                f"the person was {archive['status']} before: 党龄 does not continue",
                subject_keys=(pk,),
                record_refs=refs,
            ),
        )
    return ()


def dup05(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    pk, name_key = tx.payload["person_key"], tx.payload["name_key"]
    if name_key is None:
        return ()
    out = []
    for _, ref in view.scan_prefix(keys.idx_name_key(name_key)):
        other = ref["person_key"]
        if other == pk:
            continue
        pair = sorted((pk, other))
        out.append(
            flag(
                "DUP-05",
                Colour.YELLOW,
                "same_name_key",
                "another archive has the same name and birth date under a different person key",
                subject_keys=tuple(pair),
                record_refs=(keys.archive(other),),
                dedup_key=":".join(pair),
            )
        )
    return out


def dup06(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    claims: list[tuple[str, str]] = []  # (index key, person claiming it)
    if tx.tx_type in ("archive.create", "archive.amend") and p["volunteer_book_no"] is not None:
        claims.append((keys.idx_volunteer_book(p["volunteer_book_no"]), p["person_key"]))
    elif tx.tx_type in ("material.register", "material.amend"):
        if p["doc_type"] == "VOLUNTEER_BOOK" and p["serial_no"] is not None:
            claims.extend((keys.idx_volunteer_book(p["serial_no"]), s) for s in p["subject_keys"])
    elif tx.tx_type == "join.step" and p["step"] == "S14":
        serial = extra_of(p)["volunteer_book_no"]
        if serial is not None:  # JOIN-13, the S14 rule, outranks this
            claims.append((keys.idx_volunteer_book(serial), p["person_key"]))
    elif tx.tx_type == "join.step" and p["step"] == "S15" and p["decision_ref"] is not None:
        item = extra_of(p)["item_id"]
        if item is not None:  # this outranks JOIN-14's "one person per item"
            claims.append((keys.idx_s15_item(p["decision_ref"], item), p["person_key"]))
    for key, person in claims:
        held = view.get(key)
        if held is not None and held["person_key"] != person:
            return (
                reject(
                    "DUP-06",
                    "join_claimed_twice",
                    "another person already claims this volunteer-book serial or admission item",
                    subject_keys=tuple(sorted((person, held["person_key"]))),
                    record_refs=(key,),
                ),
            )
    return ()


RULES: tuple[Rule, ...] = (
    Rule(
        rule_id="DUP-01",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Already a member: a new application by a probationary, full or suspended member.",
        family="DUP",
        tx_types=("join.step",),
        fn=dup01,
    ),
    Rule(
        rule_id="DUP-02",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Parallel pipeline in another branch while one is open.",
        family="DUP",
        tx_types=("join.step", "archive.create"),
        fn=dup02,
    ),
    Rule(
        rule_id="DUP-03",
        colours=(Colour.RED, Colour.YELLOW),
        disposition="REJECT+FLAG",
        description="Expelled person re-applying within 5 years (or barred for ever).",
        family="DUP",
        tx_types=("join.step",),
        fn=dup03,
    ),
    Rule(
        rule_id="DUP-04",
        colours=(Colour.RED, Colour.BLUE),
        disposition="REJECT+FLAG",
        description="Previously removed / withdrew / probation cancelled; no restoration but from suspension.",
        family="DUP",
        tx_types=("join.step", "archive.event"),
        fn=dup04,
    ),
    Rule(
        rule_id="DUP-05",
        colours=(Colour.YELLOW,),
        disposition="FLAG",
        description="Same person under two keys (equal name_key).",
        family="DUP",
        tx_types=("archive.create", "archive.amend"),
        fn=dup05,
    ),
    Rule(
        rule_id="DUP-06",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Two archives claim the same join (volunteer-book serial or S15 item).",
        family="DUP",
        tx_types=("archive.create", "archive.amend", "material.register", "material.amend", "join.step"),
        fn=dup06,
    ),
)
