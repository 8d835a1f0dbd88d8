"""Archive integrity (DOMAIN.md B.3): ARC-01..04.

Rules:

- ARC-01 RED REJECT: when the person has a pipeline with an S15 on the ledger, the archive's
  `join_date` must equal the S15 date and a recorded `full_date` the probation end.
- ARC-02 RED FLAG: `join_date` before the 18th birthday (catches archives imported without a
  pipeline); raised once per archive and join date.
- ARC-03: changing `birth_date`, `join_date` or `full_date` needs an evidence document and an
  approver of the archive-managing org (nearest ancestor-or-self with approval authority): without
  them RED REJECT, with them YELLOW FLAG (every such change is reviewed). The earliest recorded
  birth date stays the authoritative one for the age rules.
- ARC-04 (deadlines): dues paid through month M; with no newer payment, at the start of month
  M + `dues_yellow_months` + 1 (CST) YELLOW FLAG, at M + 7 (more than 6 months behind: 《党章》第九条)
  RED FLAG, unless the member is abroad (ABROAD_KEPT) or no longer a member.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import keys
from contracts.archive import KEY_DATES, changed_fields, key_date_approved
from contracts.base import BlockContext, Colour, DueEntry, DueRequest, Rule, TxCtx, Verdict, flag, reject
from contracts.calendar import add_years, day_start_ms, month_index, month_of, month_start, parse_date
from contracts.config import Config
from contracts.records import MEMBER_STATUSES, get_archive, person_pipelines
from contracts.state import View

DUES_RED_MONTHS = 6  # 《党章》第九条: 连续六个月不交纳党费 → 自行脱党 handling
_ARCHIVE = ("archive.create", "archive.amend")


def arc01(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    pk = p["person_key"]
    admitted = [
        pipe
        for pipe in person_pipelines(view, pk)
        if pipe["s15_date"] is not None and pipe["status"] != "FAILED"
    ]
    if not admitted:
        return ()
    pipe = max(admitted, key=lambda x: (x["s15_date"], x["pipeline_id"]))
    refs = (keys.pipeline(pipe["pipeline_id"]),)
    if p["join_date"] != pipe["s15_date"]:
        return (
            reject(
                "ARC-01",
                "join_date_mismatch",
                f"join_date must be the S15 date {pipe['s15_date']}",
                subject_keys=(pk,),
                record_refs=refs,
            ),
        )
    if (
        p["full_date"] is not None
        and pipe["probation_end"] is not None
        and p["full_date"] != pipe["probation_end"]
    ):
        return (
            reject(
                "ARC-01",
                "full_date_mismatch",
                f"full_date must be the probation end {pipe['probation_end']}",
                subject_keys=(pk,),
                record_refs=refs,
            ),
        )
    return ()


def arc02(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if p["join_date"] is None:
        return ()
    archive = get_archive(view, p["person_key"]) if tx.tx_type == "archive.amend" else None
    birth = parse_date(archive["birth_date_first"] if archive is not None else p["birth_date"])
    if parse_date(p["join_date"]) >= add_years(birth, 18):
        return ()
    return (
        flag(
            "ARC-02",
            Colour.RED,
            "joined_under_18",
            f"joined {p['join_date']} before turning 18 (born {birth.isoformat()})",
            subject_keys=(p["person_key"],),
            record_refs=(keys.archive(p["person_key"]),),
            dedup_key=f"{p['person_key']}:{p['join_date']}",
        ),
    )


def arc03(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    archive = get_archive(view, p["person_key"])
    if archive is None:
        return ()
    changed = [f for f in changed_fields(archive, p) if f in KEY_DATES and archive[f] is not None]
    if not changed:
        return ()
    refs = (keys.archive(p["person_key"]),)
    details = {f: {"from": archive[f], "to": p[f]} for f in changed}
    if not key_date_approved(view, tx, archive):
        return (
            reject(
                "ARC-03",
                "key_date_change_unapproved",
                f"changing {', '.join(changed)} needs an evidence document and an approver of the managing org",
                subject_keys=(p["person_key"],),
                record_refs=refs,
                details=details,
            ),
        )
    return (
        flag(
            "ARC-03",
            Colour.YELLOW,
            "key_date_changed",
            f"key dates changed: {', '.join(changed)}",
            subject_keys=(p["person_key"],),
            record_refs=refs,
            details=details,
        ),
    )


def arc04_schedule(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[DueRequest]:
    pk = tx.payload["person_key"]
    archive = get_archive(view, pk)
    if archive is None or archive["dues_paid_through"] is None:
        return ()
    paid = month_index(archive["dues_paid_through"])
    yellow = config.get_int("dues_yellow_months", archive["org_id"])
    ref = {"person_key": pk, "paid_through": archive["dues_paid_through"]}
    return (
        DueRequest(
            at_ms=day_start_ms(month_start(paid + yellow + 1)),
            rule_id="ARC-04",
            tag="yellow",
            ref=ref,
            org_id=archive["org_id"],
        ),
        DueRequest(
            at_ms=day_start_ms(month_start(paid + DUES_RED_MONTHS + 1)),
            rule_id="ARC-04",
            tag="red",
            ref=ref,
            org_id=archive["org_id"],
        ),
    )


def arc04_due(view: View, entry: DueEntry, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    pk = entry.ref["person_key"]
    archive = get_archive(view, pk)
    if (
        archive is None
        or archive["status"] not in MEMBER_STATUSES
        or archive["relationship_state"] == "ABROAD_KEPT"
    ):
        return ()
    if archive["dues_paid_through"] != entry.ref["paid_through"]:
        return ()  # paid since: the deadline was met
    behind = month_of(ctx.today) - month_index(archive["dues_paid_through"])
    colour = Colour.RED if entry.tag == "red" else Colour.YELLOW
    return (
        flag(
            "ARC-04",
            colour,
            "dues_overdue",
            f"dues paid through {archive['dues_paid_through']}: {behind} months behind",
            subject_keys=(pk,),
            record_refs=(keys.archive(pk),),
            org_id=archive["current_org_id"] or archive["org_id"],
            dedup_key=f"{pk}:{archive['dues_paid_through']}:{colour.value}",
        ),
    )


RULES: tuple[Rule, ...] = (
    Rule(
        rule_id="ARC-01",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Archive join date matches the pipeline.",
        family="ARC",
        tx_types=_ARCHIVE,
        fn=arc01,
    ),
    Rule(
        rule_id="ARC-02",
        colours=(Colour.RED,),
        disposition="FLAG",
        description="Age at joining.",
        family="ARC",
        tx_types=_ARCHIVE,
        fn=arc02,
    ),
    Rule(
        rule_id="ARC-03",
        colours=(Colour.RED, Colour.YELLOW),
        disposition="REJECT+FLAG",
        description="Key dates immutable (三龄二历一身份) without evidence and approval.",
        family="ARC",
        tx_types=("archive.amend",),
        fn=arc03,
    ),
    Rule(
        rule_id="ARC-04",
        colours=(Colour.RED, Colour.YELLOW),
        disposition="FLAG",
        description="Dues overdue (more than 3 months: YELLOW; more than 6: RED).",
        family="ARC",
        tx_types=("archive.create", "archive.dues"),
        schedule=arc04_schedule,
        on_due=arc04_due,
    ),
)
