"""The state key layout (documented in docs/contracts.md). Every key the contracts write is built
here, so the layout has one source.

Rules: keys are UTF-8 paths; ids that may contain `/` are escaped with `seg`; numbers inside keys
are zero-padded so lexicographic order is numeric order (versions and sequence numbers 8 digits,
due times 20 digits of epoch ms).
"""

from __future__ import annotations

from contracts.state import seg

DUE_TIME_DIGITS = 20


def _n(value: int) -> str:
    return f"{value:08d}"


# bookkeeping
def meta_chain() -> str:
    return "meta/chain"


def tx_marker(tx_hex: str) -> str:
    return f"tx/{tx_hex}"


# configuration
def cfg_global(key: str) -> str:
    return f"cfg/g/{key}"


def cfg_org(org_id: str, key: str) -> str:
    return f"cfg/o/{org_id}/{key}"


# organisations and identities
def org(org_id: str) -> str:
    return f"org/{org_id}"


def org_enc_key(org_id: str, version: int) -> str:
    return f"org/{org_id}/enc/{_n(version)}"


def post(org_id: str, person_key: str, post_name: str) -> str:
    return f"post/{org_id}/{person_key}/{post_name}"


def user(pubkey_hex: str) -> str:
    return f"user/{pubkey_hex}"


def user_id(uid: str) -> str:
    return f"userid/{seg(uid)}"


# member archive
def archive(person_key: str) -> str:
    return f"archive/{person_key}"


def archive_version(person_key: str, version: int) -> str:
    return f"archive/{person_key}/v/{_n(version)}"


def idx_name_key(name_key: str, person_key: str = "") -> str:
    return f"idx/name_key/{name_key}/{person_key}"


def idx_volunteer_book(serial: str) -> str:
    return f"idx/vbook/{seg(serial)}"


def idx_s15_item(meeting_id: str, item_id: str) -> str:
    return f"idx/s15item/{seg(meeting_id)}/{seg(item_id)}"


def person_pipeline(person_key: str, pipeline_id: str = "") -> str:
    return (
        f"person/{person_key}/pipeline/{seg(pipeline_id)}"
        if pipeline_id
        else f"person/{person_key}/pipeline/"
    )


def person_doc(person_key: str, doc_type: str, doc_id: str = "") -> str:
    return (
        f"person/{person_key}/doc/{doc_type}/{seg(doc_id)}"
        if doc_id
        else f"person/{person_key}/doc/{doc_type}/"
    )


def person_regday(person_key: str, day: str, doc_id: str = "") -> str:
    return (
        f"person/{person_key}/regday/{day}/{seg(doc_id)}" if doc_id else f"person/{person_key}/regday/{day}/"
    )


# joining procedure
def pipeline(pipeline_id: str) -> str:
    return f"pipeline/{seg(pipeline_id)}"


def pipeline_event(pipeline_id: str, seq: int) -> str:
    return f"pipeline/{seg(pipeline_id)}/ev/{_n(seq)}"


def pipeline_events_prefix(pipeline_id: str) -> str:
    return f"pipeline/{seg(pipeline_id)}/ev/"


# materials
def doc(doc_id: str) -> str:
    return f"doc/{seg(doc_id)}"


def doc_version(doc_id: str, version: int) -> str:
    return f"doc/{seg(doc_id)}/v/{_n(version)}"


def content_hash(h: str, ref: str = "") -> str:
    return f"hash/c/{h}/{seg(ref)}" if ref else f"hash/c/{h}/"


def text_hash(h: str, ref: str = "") -> str:
    return f"hash/t/{h}/{seg(ref)}" if ref else f"hash/t/{h}/"


# transfers
def transfer(transfer_id: str) -> str:
    return f"transfer/{seg(transfer_id)}"


def transfer_in(transfer_id: str, seq: int) -> str:
    return f"transfer/{seg(transfer_id)}/in/{_n(seq)}"


# meetings and decisions
def meeting(meeting_id: str) -> str:
    return f"meeting/{seg(meeting_id)}"


def meeting_version(meeting_id: str, version: int) -> str:
    return f"meeting/{seg(meeting_id)}/v/{_n(version)}"


def decision(decision_id: str) -> str:
    return f"decision/{seg(decision_id)}"


def decision_version(decision_id: str, version: int) -> str:
    return f"decision/{seg(decision_id)}/v/{_n(version)}"


# alerts and deadlines
def alert(alert_id: str) -> str:
    return f"alert/{alert_id}"


def alert_dedup(rule_id: str, dedup_key: str) -> str:
    return f"alertkey/{rule_id}/{seg(dedup_key)}"


def due(at_ms: int, name: str) -> str:
    return f"due/{at_ms:0{DUE_TIME_DIGITS}d}/{name}"


def due_until(time_ms: int) -> str:
    """Exclusive scan bound: every due key with time <= `time_ms` sorts below it."""
    return f"due/{time_ms + 1:0{DUE_TIME_DIGITS}d}/"
