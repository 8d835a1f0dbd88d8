"""The joining procedure family (DOMAIN.md A.3): the 25 stage events and pipeline transfers.

Rules:

- `join.step` records one step of one pipeline (one attempt to join) for one person. S01 opens
  the pipeline (its id must be new, the person must have an archive, `extra.received_date` is
  required); every later step needs the open pipeline of the same person.
- Who signs: branch steps are written by an operator/admin of the pipeline's current org (the
  transaction's org). Committee steps (S04 S08 S13 S16 S17 S18 S24) are written by a strict
  ancestor org of the pipeline's org; the approvals among them (S13 pre-review, S17 admission,
  S24 conversion) only by the nearest ancestor-or-self org with approval authority, with an
  `approver` of that org as signer or approval signature. A county approving another county's
  admission is outside its subtree and refused. Such refusals name the rule that says who writes
  the step (`WRITER_RULE`: S04 JOIN-03, S08 JOIN-07, S13 JOIN-11, S16 JOIN-15, S17 JOIN-16, S24
  JOIN-22) on the receipt, with the structural reason code (`not_in_subtree`,
  `no_approval_authority`); a missing approver signature names none.
- Step-specific fields: S01 `extra.received_date`; S10 `extra.conclusion`; S14
  `extra.volunteer_book_no`; S23 EXTEND `extra.extension_months`; results other than PASS/FAIL/
  N_A/CANCEL only where they mean something (EXTEND only on S23). Referenced documents and meetings
  must be registered.
- Effects on the archive (statuses are derived from steps, never set directly): S01 APPLICANT,
  S03 ACTIVIST, S07 DEV_TARGET, S15 PASS PENDING_APPROVAL with `join_date` = S15 date, S17 PASS
  PROBATIONARY (membership of the pipeline's org from the join date; probation ends 12 months
  after S15 plus extensions), S23 EXTEND moves the probation end, S24 PASS FULL with `full_date` =
  probation end, S25 completes the pipeline. FAIL or CANCEL closes the pipeline; after S17 it
  means CANCELLED_PROBATION. S15 PASS is indexed by branch and date (JOIN-26); what an S17 or S24
  cites (a meeting item or a decision record) by the person it approved (JOIN-16/22).
- `join.pipeline_transfer` (入党积极分子/发展对象 change of unit): the current org hands the open
  pipeline to another org, either continuing under the same id or under `new_pipeline_id`, linked
  both ways so time counts continuously and DUP-02 sees one attempt. After approval (S17) the
  pipeline follows the member's organisational relationship: an accepted `transfer.in` moves it
  (contracts.transfer), and a handover (under the same id) is accepted only to the org holding
  the relationship (a pipeline left behind catching up); to anywhere else it is refused as XFER-04.
- A pipeline that followed its member away is written only by the receiving branch and its
  higher committees: a step or handover by the old branch or its county is refused as XFER-04.
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import TxCtx, TxSpec
from contracts.calendar import add_months, parse_date
from contracts.config import Config
from contracts.errors import TxRejected
from contracts.identity import (
    approval_org,
    has_approver_in,
    require_org,
    require_own_org,
    require_role,
)
from contracts.records import (
    APPROVAL_STEPS,
    COMMITTEE_STEPS,
    RESULTS,
    STEPS,
    approval_citation,
    close_membership,
    get_pipeline,
    moved_away_from,
    open_membership,
    require_archive,
    require_docs,
    write_archive,
)
from contracts.schema import ID_PATTERN, ORG_PATTERN, Bool, Date, Enum, Hex, Int, List, Obj, Str, opt, req
from contracts.state import View
from wire.genesis import is_ancestor_or_self

MAX_MONTHS = 120  # a sanity bound for month counts (10 years); the legal ranges are the rules' (JOIN-23)
EXTRA = Obj(
    (
        opt("received_date", Date(), "S01: date the application was received"),
        opt("conclusion", Enum(("QUALIFIED", "UNQUALIFIED")), "S10: political review conclusion"),
        opt("days", Int(0, 366), "S11: training days"),
        opt("hours", Int(0, 10_000), "S11: class hours"),
        opt("special_case", Bool(), "S11: individual special case without training"),
        opt("volunteer_book_no", Str(64), "S14: 入党志愿书编号"),
        opt("item_id", Str(64, pattern=ID_PATTERN), "S15/S17/S23/S24: the meeting item voted on"),
        opt("reported_date", Date(), "S15: date the resolution was reported upward"),
        opt("special_extension_reason", Str(1024, text=True), "S17: reason for approval after 3 months"),
        # the legal 6..12 months are JOIN-23's to judge (a refusal that names the rule), not the schema's
        opt("extension_months", Int(0, MAX_MONTHS), "S23 EXTEND: months of extension"),
    )
)
JOIN_STEP = Obj(
    (
        req("pipeline_id", Str(128, pattern=ID_PATTERN)),
        req("person_key", Hex(32)),
        req("step", Enum(STEPS)),
        req("event_date", Date(), "date the step legally happened"),
        opt("decision_ref", Str(128, pattern=ID_PATTERN), "meeting (or decision) that decided the step"),
        opt("doc_refs", List(Str(128, pattern=ID_PATTERN), 32, unique=True), default=[]),
        opt("actor_keys", List(Hex(32), 16), "talker, contacts, introducers...", default=[]),
        opt("result", Enum(RESULTS), default="PASS"),
        opt("extra", EXTRA, default={}),
    )
)
PIPELINE_TRANSFER = Obj(
    (
        req("pipeline_id", Str(128, pattern=ID_PATTERN)),
        req("person_key", Hex(32)),
        req("from_org_id", Str(164, pattern=ORG_PATTERN)),
        req("to_org_id", Str(164, pattern=ORG_PATTERN)),
        req("handover_date", Date()),
        opt("doc_refs", List(Str(128, pattern=ID_PATTERN), 32, unique=True), default=[]),
        opt("new_pipeline_id", Str(128, pattern=ID_PATTERN), "continue under a new id (linked)"),
    )
)
_STATUS_AFTER = {"S01": "APPLICANT", "S03": "ACTIVIST", "S07": "DEV_TARGET", "S15": "PENDING_APPROVAL"}
# The rule that says who writes a committee step (the higher committee files, pre-reviews, talks,
# approves): a refusal of the wrong writer names it. S18 (filing) has no REJECT rule.
WRITER_RULE = {
    "S04": "JOIN-03",
    "S08": "JOIN-07",
    "S13": "JOIN-11",
    "S16": "JOIN-15",
    "S17": "JOIN-16",
    "S24": "JOIN-22",
}


def extra_of(p: Any) -> dict[str, Any]:
    """The normalised `extra` (every field present, None when absent)."""
    extra = p["extra"] or {}
    return {f.name: extra.get(f.name) for f in EXTRA.fields}


def probation_end(s15_date: str, extension_months: int) -> str:
    return add_months(parse_date(s15_date), 12 + extension_months).isoformat()


# ------------------------------------------------------------------------------------ join.step
def _check_step(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    step, result, extra = p["step"], p["result"], extra_of(p)
    require_archive(view, p["person_key"])
    if step == "S01":
        require_role(view, tx)
        if get_pipeline(view, p["pipeline_id"]) is not None:
            raise TxRejected("pipeline_exists", f"pipeline {p['pipeline_id']} already exists")
        if extra["received_date"] is None:
            raise TxRejected("missing_field", "S01 needs extra.received_date")
    else:
        pipe = _open_pipeline(view, p["pipeline_id"], p["person_key"])
        _check_step_signer(view, tx, step, pipe)
    if result == "EXTEND" and step != "S23":
        raise TxRejected("bad_result", "only S23 can extend the probation")
    if step == "S23" and result == "EXTEND" and extra["extension_months"] is None:
        raise TxRejected("missing_field", "S23 EXTEND needs extra.extension_months")
    if step == "S10" and extra["conclusion"] is None:
        raise TxRejected("missing_field", "S10 needs extra.conclusion")
    if step == "S14" and extra["volunteer_book_no"] is None:
        raise TxRejected("missing_field", "S14 needs extra.volunteer_book_no")
    require_docs(view, p["doc_refs"])
    ref = p["decision_ref"]
    if ref is not None and not (view.exists(keys.meeting(ref)) or view.exists(keys.decision(ref))):
        raise TxRejected("unknown_meeting", f"decision_ref {ref} is neither a meeting nor a decision")


def _open_pipeline(view: View, pipeline_id: str, person_key: str) -> dict[str, Any]:
    pipe = get_pipeline(view, pipeline_id)
    if pipe is None:
        raise TxRejected("unknown_pipeline", f"pipeline {pipeline_id} does not exist")
    if pipe["person_key"] != person_key:
        raise TxRejected("wrong_person", f"pipeline {pipeline_id} belongs to another person")
    if pipe["status"] != "OPEN":
        raise TxRejected("pipeline_closed", f"pipeline {pipeline_id} is {pipe['status']}")
    return pipe


def _left_branch_acts(tx: TxCtx, pipe: dict[str, Any], what: str) -> TxRejected:
    return TxRejected(
        "left_branch_acts",
        f"{tx.org_id} may not write {what}: the member's relationship and pipeline moved to "
        f"{pipe['org_id']} (never in two branches at once)",
        rule_id="XFER-04",
    )


def _check_step_signer(view: View, tx: TxCtx, step: str, pipe: dict[str, Any]) -> None:
    """Who writes a step. Refusals a rule describes name it: the old branch or its county after
    the pipeline followed its member away (XFER-04); an org other than the higher committee
    writing a committee step, or other than the approving org writing an approval (WRITER_RULE)."""
    pipe_org = pipe["org_id"]
    if step not in COMMITTEE_STEPS:
        require_role(view, tx)
        if tx.org_id != pipe_org and moved_away_from(pipe, tx.org_id):
            raise _left_branch_acts(tx, pipe, step)
        require_own_org(tx, pipe_org, "pipeline")
        return
    require_role(view, tx, ("operator", "admin", "approver"))
    if moved_away_from(pipe, tx.org_id):
        raise _left_branch_acts(tx, pipe, step)
    rule = WRITER_RULE.get(step, "")
    if tx.org_id == pipe_org or not is_ancestor_or_self(tx.org_id, pipe_org):
        raise TxRejected(
            "not_in_subtree", f"step {step} is written by a higher committee of {pipe_org}", rule_id=rule
        )
    if step in APPROVAL_STEPS:
        org = approval_org(view, pipe_org)
        if org != tx.org_id:
            raise TxRejected(
                "no_approval_authority",
                f"{tx.org_id} does not approve for {pipe_org} ({org} does)",
                rule_id=rule,
            )
        if not has_approver_in(view, tx, (org,)):
            raise TxRejected("approval_required", f"step {step} needs an approver of {org}")


def _apply_step(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    pid, step, result, day = p["pipeline_id"], p["step"], p["result"], p["event_date"]
    archive = require_archive(view, p["person_key"])
    if step == "S01":
        pipe: dict[str, Any] = {
            "pipeline_id": pid,
            "person_key": p["person_key"],
            "org_id": tx.org_id,
            "status": "OPEN",
            "predecessor": None,
            "successor": None,
            "steps": {},
            "event_count": 0,
            "s15_date": None,
            "probation_end": None,
            "extension_months": 0,
            "created_height": tx.height,
        }
        view.put(keys.person_pipeline(p["person_key"], pid), {"pipeline_id": pid})
        archive["org_id"] = tx.org_id
        archive["active_pipeline"] = pid
    else:
        pipe = view.require(keys.pipeline(pid))
    extra = extra_of(p)
    pipe["event_count"] += 1
    event = {
        "seq": pipe["event_count"],
        "kind": "STEP",
        "pipeline_id": pid,
        "person_key": p["person_key"],
        "step": step,
        "event_date": day,
        "org_id": tx.org_id,
        "decision_ref": p["decision_ref"],
        "doc_refs": p["doc_refs"],
        "actor_keys": p["actor_keys"],
        "result": result,
        "extra": extra,
        "tx_id": tx.tx_hex,
        "registered_at": tx.today.isoformat(),
        "registered_height": tx.height,
    }
    view.put(keys.pipeline_event(pid, pipe["event_count"]), event)
    if result != "FAIL" and (step not in pipe["steps"] or step in ("S06", "S21")):
        pipe["steps"][step] = day
    if step in ("S17", "S24"):  # one approval item (or decision) approves one person
        cited = approval_citation(view, p["decision_ref"], p["person_key"], extra["item_id"])
        if cited is not None and not view.exists(cited):
            view.put(cited, {"person_key": p["person_key"], "pipeline_id": pid, "step": step})
    _effects(view, tx, pipe, archive, event)
    pipe["updated_height"] = tx.height
    view.put(keys.pipeline(pid), pipe)
    write_archive(view, archive, tx, f"step:{step}", {"pipeline_id": pid, "result": result})


def _effects(
    view: View, tx: TxCtx, pipe: dict[str, Any], archive: dict[str, Any], ev: dict[str, Any]
) -> None:
    step, result, day, extra = ev["step"], ev["result"], ev["event_date"], ev["extra"]
    post_approval = "S17" in pipe["steps"] and step != "S17"
    if result in ("FAIL", "CANCEL"):
        pipe["status"] = "CANCELLED" if result == "CANCEL" else "FAILED"
        if post_approval:
            archive["status"] = "CANCELLED_PROBATION"
            close_membership(archive, day)
        elif archive["active_pipeline"] == pipe["pipeline_id"]:
            archive["status"] = "NONE"
        archive["status_since"] = day
        archive["active_pipeline"] = None
        return
    if step in _STATUS_AFTER and result == "PASS":
        archive["status"] = _STATUS_AFTER[step]
        archive["status_since"] = day
    if step == "S14":
        serial = extra["volunteer_book_no"]
        archive["volunteer_book_no"] = serial
        view.put(
            keys.idx_volunteer_book(serial), {"person_key": ev["person_key"], "source": ev["pipeline_id"]}
        )
    elif step == "S15" and result == "PASS":
        pipe["s15_date"] = day
        archive["join_date"] = day
        view.put(
            keys.idx_admission(pipe["org_id"], day, ev["pipeline_id"]),
            {"pipeline_id": ev["pipeline_id"], "person_key": ev["person_key"]},
        )
        if ev["decision_ref"] is not None and extra["item_id"] is not None:
            view.put(
                keys.idx_s15_item(ev["decision_ref"], extra["item_id"]),
                {"person_key": ev["person_key"], "pipeline_id": ev["pipeline_id"]},
            )
    elif step == "S17" and result == "PASS":
        s15 = pipe["s15_date"] or day
        pipe["probation_end"] = probation_end(s15, 0)
        archive.update(status="PROBATIONARY", status_since=day, probation_end=pipe["probation_end"])
        open_membership(archive, pipe["org_id"], s15)
    elif step == "S23" and result == "EXTEND":
        pipe["extension_months"] += extra["extension_months"] or 0
        pipe["probation_end"] = probation_end(pipe["s15_date"] or day, pipe["extension_months"])
        archive["probation_extension_months"] = pipe["extension_months"]
        archive["probation_end"] = pipe["probation_end"]
    elif step == "S24" and result == "PASS":
        archive.update(status="FULL", status_since=day, full_date=pipe["probation_end"])
    elif step == "S25":
        pipe["status"] = "COMPLETED"
        archive["active_pipeline"] = None
    archive["voting_rights"] = (
        archive["status"] == "FULL" and archive["party_standing"] != "PROBATION_WITHIN_PARTY"
    )


# ------------------------------------------------------------------------- join.pipeline_transfer
def _check_transfer(view: View, tx: TxCtx, config: Config) -> None:
    require_role(view, tx)
    p = tx.payload
    pipe = _open_pipeline(view, p["pipeline_id"], p["person_key"])
    require_own_org(tx, p["from_org_id"], "handover")
    if pipe["org_id"] != p["from_org_id"]:
        if moved_away_from(pipe, p["from_org_id"]):
            raise _left_branch_acts(tx, pipe, "the pipeline")
        raise TxRejected("wrong_org", f"pipeline {p['pipeline_id']} is held by {pipe['org_id']}")
    if "S17" in pipe["steps"]:
        holder = require_archive(view, p["person_key"])["current_org_id"]
        if p["to_org_id"] != holder:
            raise TxRejected(
                "relationship_elsewhere",
                f"after approval the pipeline follows the member's relationship (held by {holder}): "
                "it moves with the accepted transfer-in",
                rule_id="XFER-04",
            )
        if p["new_pipeline_id"] is not None:
            raise TxRejected("bad_value", "after approval a pipeline continues under its own id")
    require_org(view, p["to_org_id"])
    if p["to_org_id"] == p["from_org_id"]:
        raise TxRejected("bad_value", "a handover goes to another org")
    require_docs(view, p["doc_refs"])
    new_id = p["new_pipeline_id"]
    if new_id is not None and get_pipeline(view, new_id) is not None:
        raise TxRejected("pipeline_exists", f"pipeline {new_id} already exists")


def _apply_transfer(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    pid, new_id, to_org = p["pipeline_id"], p["new_pipeline_id"], p["to_org_id"]
    pipe = view.require(keys.pipeline(pid))
    archive = require_archive(view, p["person_key"])
    pipe["event_count"] += 1
    event = {
        "seq": pipe["event_count"],
        "kind": "TRANSFER",
        "pipeline_id": pid,
        "person_key": p["person_key"],
        "from_org_id": p["from_org_id"],
        "to_org_id": to_org,
        "handover_date": p["handover_date"],
        "doc_refs": p["doc_refs"],
        "new_pipeline_id": new_id,
        "tx_id": tx.tx_hex,
        "registered_at": tx.today.isoformat(),
        "registered_height": tx.height,
    }
    view.put(keys.pipeline_event(pid, pipe["event_count"]), event)
    if "S17" in pipe["steps"]:  # catching up with the relationship: the old branch writes no more
        pipe["moved_from"] = [*pipe.get("moved_from", []), pipe["org_id"]]
    if new_id is None:
        pipe["org_id"] = to_org
    else:
        pipe["status"] = "TRANSFERRED"
        pipe["successor"] = new_id
        succ = dict(pipe, pipeline_id=new_id, org_id=to_org, status="OPEN", predecessor=pid, successor=None)
        succ.update(steps={}, event_count=0, created_height=tx.height)
        view.put(keys.pipeline(new_id), succ)
        view.put(keys.person_pipeline(p["person_key"], new_id), {"pipeline_id": new_id})
        archive["active_pipeline"] = new_id
    pipe["updated_height"] = tx.height
    view.put(keys.pipeline(pid), pipe)
    archive["org_id"] = to_org
    write_archive(view, archive, tx, "pipeline_transfer", {"pipeline_id": pid, "to_org_id": to_org})


TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec(
        name="join.step",
        family="join",
        description="Record one of the 25 joining-procedure steps of a pipeline.",
        signers="branch steps: an operator/admin of the pipeline's org; committee steps: a higher org; "
        "S13/S17/S24: the approving org with an approver",
        schema=JOIN_STEP,
        check=_check_step,
        apply=_apply_step,
    ),
    TxSpec(
        name="join.pipeline_transfer",
        family="join",
        description="Hand an open pipeline (activist / development target) to another unit.",
        signers="an operator or admin of the org holding the pipeline",
        schema=PIPELINE_TRANSFER,
        check=_check_transfer,
        apply=_apply_transfer,
    ),
)
