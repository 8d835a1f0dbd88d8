"""Materials integrity (DOMAIN.md B.3): MAT-01..07.

Rules:

- MAT-01: a personal document (APPLICATION, THOUGHT_REPORT, TALK_RECORD, POLITICAL_REVIEW,
  VOLUNTEER_BOOK, CONVERSION_APPLICATION, TRAINING_CERT, ASSESSMENT) whose `content_hash` is
  already registered (any document or meeting minutes) for other subjects: RED REJECT; only its
  `text_hash` equal (copied text): YELLOW FLAG. Multi-person types themselves are exempt.
- MAT-02: re-registering an existing (doc_id, doc_version) with other content, or a new version
  outside `material.amend`, or an amendment without an approver of the issuing org or above: RED
  REJECT; an authorised amendment: BLUE FLAG; one that changes `doc_date` or `subject_keys`: YELLOW.
- MAT-03 RED REJECT: dated after its registration day, before a subject's birth, an APPLICATION
  before the subject turned 18, or outside the issuing org's existence.
- MAT-04 RED FLAG: dated inconsistently with the subject's stage events (APPLICATION within
  [received - slack, received] and not after S02; POLITICAL_REVIEW in [S07, S12]; VOLUNTEER_BOOK in
  [S13, S15]; THOUGHT_REPORT not before S01). Checked when the document arrives (against the
  subject's active pipeline) and when a step arrives (against the documents of this attempt:
  registered since the person's earlier pipelines closed; of applications, the latest), once per
  document version.
- MAT-05 YELLOW FLAG: registered more than `late_registration_days` after its date; or more than
  `batch_backfill_max` documents of one person registered on one day spanning more than 6 months.
- MAT-06: a signer who is a subject signing what a subject may not sign: RED REJECT; a signer who
  did not hold the role on the document date (posts of the issuing org, introducer / cultivation
  contact / talker of the subject's pipelines): RED FLAG.
- MAT-07 RED REJECT: a step in `stage_required_docs` without the required document types
  registered for the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import keys
from contracts.base import BlockContext, Colour, Rule, TxCtx, Verdict, flag, reject
from contracts.calendar import add_days, add_months, add_years, parse_date
from contracts.config import Config
from contracts.identity import ancestors_or_self, get_org, has_approver_in
from contracts.joining import extra_of
from contracts.materials import PERSONAL_DOC_TYPES
from contracts.records import attempt_docs, birth_date_of, chain_steps, get_archive, get_doc, step_events
from contracts.state import View

BATCH_SPAN_MONTHS = 6
_MATERIAL = ("material.register", "material.amend")
_POSTS = ("SECRETARY", "DEPUTY_SECRETARY", "COMMITTEE_MEMBER", "ORGANISER", "GROUP_LEADER")
_PIPELINE_ROLES = {"INTRODUCER": ("S09",), "CULTIVATION_CONTACT": ("S05",), "TALKER": ("S02", "S16")}
_SUBJECT_MAY_NOT_SIGN = (
    "ASSESSMENT", "POLITICAL_REVIEW", "RECOMMENDATION", "EXTERNAL_INQUIRY", "TRAINING_CERT", "PUBLIC_NOTICE",
)  # fmt: skip
_MAT04_TYPES = ("APPLICATION", "POLITICAL_REVIEW", "VOLUNTEER_BOOK", "THOUGHT_REPORT")


def _doc_ref(p: Any) -> str:
    return keys.doc_version(p["doc_id"], p["doc_version"])


def mat01(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if p["doc_type"] not in PERSONAL_DOC_TYPES:
        return ()
    subjects = sorted(p["subject_keys"])

    def others(prefix: str) -> list[str]:
        return [
            k
            for k, ref in view.scan_prefix(prefix)
            if not (ref["kind"] == "doc" and ref["id"] == p["doc_id"])
            and sorted(ref["subject_keys"]) != subjects
        ]

    same_file = others(keys.content_hash(p["content_hash"]))
    if same_file:
        return (
            reject(
                "MAT-01",
                "document_reused",
                "the same file is registered for another person",
                subject_keys=tuple(subjects),
                record_refs=tuple(same_file[:8]),
            ),
        )
    if p["text_hash"] is None:
        return ()
    same_text = others(keys.text_hash(p["text_hash"]))
    if not same_text:
        return ()
    return (
        flag(
            "MAT-01",
            Colour.YELLOW,
            "text_copied",
            "the text of this document is registered for another person or meeting",
            subject_keys=tuple(subjects),
            record_refs=(_doc_ref(p), *same_text[:8]),
        ),
    )


def mat02(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    head = get_doc(view, p["doc_id"])
    if head is None:
        return ()
    ref = (_doc_ref(p),)
    if tx.tx_type == "material.register":
        same = view.get(keys.doc_version(p["doc_id"], p["doc_version"]))
        if same is not None and same["content_hash"] != p["content_hash"]:
            return (
                reject(
                    "MAT-02",
                    "content_changed",
                    "this document version is registered with other content",
                    record_refs=ref,
                ),
            )
        if same is None:
            return (
                reject(
                    "MAT-02", "unauthorised_version", "a new version needs material.amend", record_refs=ref
                ),
            )
        return ()
    if not has_approver_in(view, tx, ancestors_or_self(head["issuer_org_id"])):
        return (
            reject(
                "MAT-02",
                "amendment_unapproved",
                f"an amendment needs an approver of {head['issuer_org_id']} or above",
                record_refs=ref,
            ),
        )
    out = [
        flag(
            "MAT-02",
            Colour.BLUE,
            "amended",
            "document amended",
            subject_keys=tuple(p["subject_keys"]),
            record_refs=ref,
        )
    ]
    if head["doc_date"] != p["doc_date"] or sorted(head["subject_keys"]) != sorted(p["subject_keys"]):
        out.append(
            flag(
                "MAT-02",
                Colour.YELLOW,
                "key_fields_amended",
                "the amendment changes the document date or its subjects",
                subject_keys=tuple(sorted(set(head["subject_keys"]) | set(p["subject_keys"]))),
                record_refs=ref,
            )
        )
    return out


def mat03(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    doc_date = parse_date(p["doc_date"])
    ref = (_doc_ref(p),)
    if doc_date > tx.today:
        return (
            reject(
                "MAT-03", "future_dated", f"dated {p['doc_date']}, after its registration", record_refs=ref
            ),
        )
    issuer = get_org(view, p["issuer_org_id"])
    if issuer is not None:
        if p["doc_date"] < issuer["founded_date"]:
            return (
                reject("MAT-03", "before_issuer", "dated before the issuing org existed", record_refs=ref),
            )
        if issuer["dissolved_date"] is not None and p["doc_date"] > issuer["dissolved_date"]:
            return (
                reject(
                    "MAT-03", "after_issuer", "dated after the issuing org was dissolved", record_refs=ref
                ),
            )
    for pk in sorted(p["subject_keys"]):
        archive = get_archive(view, pk)
        if archive is None:
            continue
        birth = birth_date_of(archive)
        if doc_date < birth:
            return (
                reject(
                    "MAT-03",
                    "before_birth",
                    "dated before the subject was born",
                    subject_keys=(pk,),
                    record_refs=ref,
                ),
            )
        if p["doc_type"] == "APPLICATION" and doc_date < add_years(birth, 18):
            return (
                reject(
                    "MAT-03",
                    "application_under_18",
                    "application dated before the subject turned 18",
                    subject_keys=(pk,),
                    record_refs=ref,
                ),
            )
    return ()


def _mat04_problem(doc: Any, steps: dict[str, str], received: str | None, slack_days: int) -> str | None:
    d, kind = doc["doc_date"], doc["doc_type"]
    if kind == "APPLICATION" and received is not None:
        earliest = add_days(parse_date(received), -slack_days).isoformat()
        if not earliest <= d <= received:
            return f"application dated {d}, outside [{earliest}, {received}] (received)"
        if "S02" in steps and d > steps["S02"]:
            return f"application dated {d}, after the talk (S02 {steps['S02']})"
    elif kind == "POLITICAL_REVIEW":
        if "S07" in steps and d < steps["S07"]:
            return f"political review dated {d}, before S07 {steps['S07']}"
        if "S12" in steps and d > steps["S12"]:
            return f"political review dated {d}, after S12 {steps['S12']}"
    elif kind == "VOLUNTEER_BOOK":
        if "S13" in steps and d < steps["S13"]:
            return f"volunteer book dated {d}, before S13 {steps['S13']}"
        if "S15" in steps and d > steps["S15"]:
            return f"volunteer book dated {d}, after S15 {steps['S15']}"
    elif kind == "THOUGHT_REPORT" and "S01" in steps and d < steps["S01"]:
        return f"thought report dated {d}, before the application step S01 {steps['S01']}"
    return None


def mat04(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    slack = config.get_int("application_date_slack_days", tx.org_id)
    checks: list[tuple[str, dict[str, str], str | None, Any]] = []  # (person, steps, received, doc)
    p = tx.payload
    if tx.tx_type == "join.step":
        if p["result"] in ("FAIL", "CANCEL"):
            return ()
        pk = p["person_key"]
        steps = dict(chain_steps(view, p["pipeline_id"])) if p["step"] != "S01" else {}
        steps.setdefault(p["step"], p["event_date"])
        received = extra_of(p)["received_date"] if p["step"] == "S01" else _received(view, p["pipeline_id"])
        for kind in _MAT04_TYPES:
            docs = attempt_docs(view, pk, kind, p["pipeline_id"])
            if kind == "APPLICATION" and docs:
                # people apply more than once; the latest application is the one of this attempt
                docs = [max(docs, key=lambda d: (d["doc_date"], d["registered_height"]))]
            checks.extend((pk, steps, received, d) for d in docs)
    elif p["doc_type"] in _MAT04_TYPES:
        for pk in sorted(p["subject_keys"]):
            archive = get_archive(view, pk)
            pid = None if archive is None else archive["active_pipeline"]
            if pid is not None:
                checks.append((pk, chain_steps(view, pid), _received(view, pid), p))
    out = []
    for pk, steps, received, doc in checks:
        problem = _mat04_problem(doc, steps, received, slack)
        if problem is not None:
            ref = _doc_ref(doc)
            out.append(
                flag(
                    "MAT-04",
                    Colour.RED,
                    "inconsistent_date",
                    problem,
                    subject_keys=(pk,),
                    record_refs=(ref,),
                    dedup_key=ref,
                )
            )
    return out


def _received(view: View, pipeline_id: str) -> str | None:
    events = step_events(view, pipeline_id, "S01")
    return None if not events else events[0]["extra"]["received_date"]


def mat05(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    ref = (_doc_ref(p),)
    out = []
    late_days = (tx.today - parse_date(p["doc_date"])).days
    if late_days > config.get_int("late_registration_days", tx.org_id):
        out.append(
            flag(
                "MAT-05",
                Colour.YELLOW,
                "late_registration",
                f"registered {late_days} days after its date",
                subject_keys=tuple(p["subject_keys"]),
                record_refs=ref,
            )
        )
    limit = config.get_int("batch_backfill_max", tx.org_id)
    today = tx.today.isoformat()
    for pk in sorted(p["subject_keys"]):
        dates = {p["doc_id"]: p["doc_date"]}
        for _, entry in view.scan_prefix(keys.person_regday(pk, today)):
            dates.setdefault(entry["doc_id"], entry["doc_date"])
        if len(dates) <= limit:
            continue
        first, last = min(dates.values()), max(dates.values())
        if parse_date(last) > add_months(parse_date(first), BATCH_SPAN_MONTHS):
            out.append(
                flag(
                    "MAT-05",
                    Colour.YELLOW,
                    "batch_backfill",
                    f"{len(dates)} documents registered on {today} dated {first}..{last}",
                    subject_keys=(pk,),
                    dedup_key=f"{pk}:{today}",
                )
            )
    return out


def _held_post(view: View, org_id: str, person: str, post: str, on: str) -> bool:
    rec = view.get(keys.post(org_id, person, post))
    return rec is not None and any(
        t["start"] <= on and (t["end"] is None or on <= t["end"]) for t in rec["terms"]
    )


def _held_pipeline_role(view: View, subjects: list[str], person: str, role: str, on: str) -> bool:
    for pk in subjects:
        for _, ref in view.scan_prefix(keys.person_pipeline(pk)):
            for step in _PIPELINE_ROLES[role]:
                for ev in step_events(view, ref["pipeline_id"], step):
                    if person in ev["actor_keys"] and ev["event_date"] <= on:
                        return True
    return False


def mat06(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    subjects = sorted(p["subject_keys"])
    ref = (_doc_ref(p),)
    out = []
    for signer, role in zip(p["signer_keys"], p["signer_roles"], strict=True):
        if signer in subjects and (
            p["doc_type"] in _SUBJECT_MAY_NOT_SIGN or role not in ("APPLICANT", "SUBJECT", "OTHER")
        ):
            return (
                reject(
                    "MAT-06",
                    "self_signed",
                    f"a subject signs their own {p['doc_type']} as {role}",
                    subject_keys=(signer,),
                    record_refs=ref,
                ),
            )
        if role in _POSTS:
            ok = _held_post(view, p["issuer_org_id"], signer, role, p["doc_date"])
        elif role in _PIPELINE_ROLES:
            ok = _held_pipeline_role(view, subjects, signer, role, p["doc_date"])
        elif role in ("APPLICANT", "SUBJECT"):
            ok = signer in subjects
        else:
            ok = True
        if not ok:
            out.append(
                flag(
                    "MAT-06",
                    Colour.RED,
                    "signer_not_in_role",
                    f"signer {signer[:12]}… was not {role} on {p['doc_date']}",
                    subject_keys=(*subjects, signer),
                    record_refs=ref,
                )
            )
    return out


def mat07(view: View, tx: TxCtx, ctx: BlockContext, config: Config) -> Sequence[Verdict]:
    p = tx.payload
    if p["result"] in ("FAIL", "CANCEL"):
        return ()
    required = config.get_map("stage_required_docs", tx.org_id).get(p["step"], [])
    missing = [t for t in required if not attempt_docs(view, p["person_key"], t, p["pipeline_id"])]
    if not missing:
        return ()
    return (
        reject(
            "MAT-07",
            "material_missing",
            f"{p['step']} needs {', '.join(missing)} registered for the person",
            subject_keys=(p["person_key"],),
            details={"missing": missing},
        ),
    )


RULES: tuple[Rule, ...] = (
    Rule(
        rule_id="MAT-01",
        colours=(Colour.RED, Colour.YELLOW),
        disposition="REJECT+FLAG",
        description="Same document reused for another person.",
        family="MAT",
        tx_types=_MATERIAL,
        fn=mat01,
    ),
    Rule(
        rule_id="MAT-02",
        colours=(Colour.RED, Colour.YELLOW, Colour.BLUE),
        disposition="REJECT+FLAG",
        description="Re-registration with different content (tampering); amendments need an approver.",
        family="MAT",
        tx_types=_MATERIAL,
        fn=mat02,
    ),
    Rule(
        rule_id="MAT-03",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Impossible dates.",
        family="MAT",
        tx_types=_MATERIAL,
        fn=mat03,
    ),
    Rule(
        rule_id="MAT-04",
        colours=(Colour.RED,),
        disposition="FLAG",
        description="Document dated inconsistently with its stage.",
        family="MAT",
        tx_types=(*_MATERIAL, "join.step"),
        fn=mat04,
    ),
    Rule(
        rule_id="MAT-05",
        colours=(Colour.YELLOW,),
        disposition="FLAG",
        description="Late registration (补材料), single or in a batch.",
        family="MAT",
        tx_types=_MATERIAL,
        fn=mat05,
    ),
    Rule(
        rule_id="MAT-06",
        colours=(Colour.RED,),
        disposition="REJECT+FLAG",
        description="Signer not in role on the document date.",
        family="MAT",
        tx_types=_MATERIAL,
        fn=mat06,
    ),
    Rule(
        rule_id="MAT-07",
        colours=(Colour.RED,),
        disposition="REJECT",
        description="Required material missing at a stage transition.",
        family="MAT",
        tx_types=("join.step",),
        fn=mat07,
    ),
)
