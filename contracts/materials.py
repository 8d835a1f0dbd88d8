"""The material registration family (DOMAIN.md A.2): documents by hash, versioned.

Rules:

- `material.register`: an operator/admin of the registering org (the record's org; the issuer may
  be another org, e.g. the county that concluded a political review). Version 1 of a new doc id.
  Registering an existing (doc_id, doc_version) again with the same content is refused
  (`already_registered`); with other content, or a higher version without an amendment, MAT-02.
- `material.amend`: the registering org writes version `prev_version + 1` with `amend_reason`;
  MAT-02 decides whether the approver signature it needs is there. Versions never overwrite:
  `doc/<doc_id>/v/<version>` is immutable, `doc/<doc_id>` is the current version.
- Every registration indexes its content and text hashes (`hash/c/..`, `hash/t/..`, MAT-01), the
  documents of each subject person by type (MAT-07) and the day of registration (MAT-05 batches).
- `signer_keys[i]` signed in role `signer_roles[i]`: the two lists have the same length.
- `blob` (optional) names the encrypted file in the blob store, indexed at `hash/b/<hash>/doc:<id>`
  with the registering org (who may download it); `sealed` carries encrypted fields (the file's
  key, its name, free text). `content_hash` stays the hash of the plain file (MAT-01 compares it).
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import TxCtx, TxSpec
from contracts.config import Config
from contracts.errors import TxRejected
from contracts.identity import require_org, require_own_org, require_role
from contracts.privacy import BLOB_REF, sealed_field
from contracts.records import DOC_TYPES, get_doc
from contracts.schema import ID_PATTERN, ORG_PATTERN, Date, Enum, Field, Hex, Int, List, Obj, Str, opt, req
from contracts.state import View

SIGNER_ROLES = (
    "SECRETARY",
    "DEPUTY_SECRETARY",
    "COMMITTEE_MEMBER",
    "ORGANISER",
    "GROUP_LEADER",
    "INTRODUCER",
    "CULTIVATION_CONTACT",
    "TALKER",
    "APPLICANT",
    "SUBJECT",
    "OTHER",
)
PERSONAL_DOC_TYPES = (
    "APPLICATION",
    "THOUGHT_REPORT",
    "TALK_RECORD",
    "POLITICAL_REVIEW",
    "VOLUNTEER_BOOK",
    "CONVERSION_APPLICATION",
    "TRAINING_CERT",
    "ASSESSMENT",
)

CONTENT: tuple[Field, ...] = (
    req("doc_id", Str(128, pattern=ID_PATTERN), "logical document id, stable across versions"),
    req("doc_version", Int(1, 1_000_000)),
    req("doc_type", Enum(DOC_TYPES)),
    req("subject_keys", List(Hex(32), 256, unique=True), "person keys the document is about"),
    req("content_hash", Hex(32), "SHA-256 of the exact file bytes"),
    opt("text_hash", Hex(32), "SHA-256 of the normalised extracted text"),
    req("doc_date", Date(), "落款日期"),
    req("issuer_org_id", Str(164, pattern=ORG_PATTERN)),
    opt("signer_keys", List(Hex(32), 16), default=[]),
    opt("signer_roles", List(Enum(SIGNER_ROLES), 16), default=[]),
    opt("serial_no", Str(64)),
    opt("notice_start_date", Date(), "PUBLIC_NOTICE: first day of the notice period (JOIN-12)"),
    opt("notice_end_date", Date(), "PUBLIC_NOTICE: last day of the notice period"),
    opt("blob", BLOB_REF, "the encrypted file in the node blob store (docs/privacy.md)"),
    sealed_field(),
)
MATERIAL_REGISTER = Obj(CONTENT)
MATERIAL_AMEND = Obj(
    (*CONTENT, req("prev_version", Int(1, 1_000_000)), req("amend_reason", Str(1024, text=True)))
)


def _check_common(view: View, tx: TxCtx) -> None:
    require_role(view, tx)
    p = tx.payload
    require_org(view, p["issuer_org_id"])
    if len(p["signer_keys"]) != len(p["signer_roles"]):
        raise TxRejected("bad_value", "signer_keys and signer_roles must have the same length")
    start, end = p["notice_start_date"], p["notice_end_date"]
    if start is not None and end is not None and end < start:
        raise TxRejected("bad_value", "a notice period ends on or after its first day")


def _check_register(view: View, tx: TxCtx, config: Config) -> None:
    _check_common(view, tx)
    p = tx.payload
    if get_doc(view, p["doc_id"]) is None and p["doc_version"] != 1:
        raise TxRejected("bad_version", "a new document starts at version 1")


def _check_amend(view: View, tx: TxCtx, config: Config) -> None:
    _check_common(view, tx)
    p = tx.payload
    head = get_doc(view, p["doc_id"])
    if head is None:
        raise TxRejected("unknown_doc", f"document {p['doc_id']} is not registered")
    require_own_org(tx, head["org_id"], "document")
    if p["prev_version"] != head["doc_version"] or p["doc_version"] != head["doc_version"] + 1:
        raise TxRejected(
            "bad_version", f"the document is at version {head['doc_version']}; amend it to the next version"
        )


def doc_record(tx: TxCtx, amended: bool) -> dict[str, Any]:
    p = tx.payload
    rec = {f.name: p[f.name] for f in CONTENT}
    rec.update(
        record_type="MATERIAL",
        schema_version=1,
        org_id=tx.org_id,
        registered_at=tx.today.isoformat(),
        registered_height=tx.height,
        submitted_at=tx.time_ms,
        tx_id=tx.tx_hex,
        prev_version=p["prev_version"] if amended else None,
        amend_reason=p["amend_reason"] if amended else None,
    )
    return rec


def _write(view: View, tx: TxCtx, amended: bool) -> None:
    p = tx.payload
    existing = view.get(keys.doc_version(p["doc_id"], p["doc_version"]))
    if existing is not None:
        raise TxRejected("already_registered", f"{p['doc_id']} version {p['doc_version']} is registered")
    rec = doc_record(tx, amended)
    view.put(keys.doc_version(p["doc_id"], p["doc_version"]), rec)
    view.put(keys.doc(p["doc_id"]), rec)
    ref = {"kind": "doc", "id": p["doc_id"], "version": p["doc_version"], "doc_type": p["doc_type"]}
    ref["subject_keys"] = p["subject_keys"]
    view.put(keys.content_hash(p["content_hash"], "doc:" + p["doc_id"]), ref)
    if p["text_hash"] is not None:
        view.put(keys.text_hash(p["text_hash"], "doc:" + p["doc_id"]), ref)
    if p["blob"] is not None:
        view.put(
            keys.blob_ref(p["blob"]["hash"], "doc:" + p["doc_id"]),
            {"kind": "doc", "id": p["doc_id"], "version": p["doc_version"], "org_id": tx.org_id},
        )
    serial = p["serial_no"]
    personal_book = p["doc_type"] == "VOLUNTEER_BOOK" and len(p["subject_keys"]) == 1
    if personal_book and serial is not None and not view.exists(keys.idx_volunteer_book(serial)):
        view.put(keys.idx_volunteer_book(serial), {"person_key": p["subject_keys"][0], "source": p["doc_id"]})
    for person in p["subject_keys"]:
        view.put(keys.person_doc(person, p["doc_type"], p["doc_id"]), {"doc_id": p["doc_id"]})
        view.put(
            keys.person_regday(person, rec["registered_at"], p["doc_id"]),
            {"doc_id": p["doc_id"], "doc_date": p["doc_date"]},
        )


def _apply_register(view: View, tx: TxCtx, config: Config) -> None:
    _write(view, tx, amended=False)


def _apply_amend(view: View, tx: TxCtx, config: Config) -> None:
    _write(view, tx, amended=True)


TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec(
        name="material.register",
        family="material",
        description="Register a document by its hashes (version 1 of a doc id).",
        signers="an operator or admin of the registering org",
        schema=MATERIAL_REGISTER,
        check=_check_register,
        apply=_apply_register,
    ),
    TxSpec(
        name="material.amend",
        family="material",
        description="Register the next version of a document (prev_version, amend_reason; MAT-02).",
        signers="an operator or admin of the registering org, plus an approver of the issuer or above",
        schema=MATERIAL_AMEND,
        check=_check_amend,
        apply=_apply_amend,
    ),
)
