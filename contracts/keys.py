"""The state key layout (documented in docs/contracts.md). Every key the contracts write is built
here, so the layout has one source.

Rules: keys are UTF-8 paths; ids that may contain `/` are escaped with `seg`; numbers inside keys
are zero-padded so lexicographic order is numeric order (versions and sequence numbers 8 digits,
due times 20 digits of epoch ms).
"""

from __future__ import annotations

from wire.families import seg
from wire.nodekeys import node_key_state_key

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


def cfg_history(version: int) -> str:
    """The change that produced rule-set version `version` (config.set, a bound rollout, a calendar)."""
    return f"cfg/h/{_n(version)}"


def cfg_rollout() -> str:
    """The pending shadow rollout of a new rule-set version (at most one)."""
    return "cfg/rollout"


def cfg_rollout_done(start_height: int, tx_hex: str) -> str:
    """A finished rollout (BOUND or CANCELLED), kept for the record."""
    return f"cfg/rollouts/{start_height:012d}/{tx_hex}"


def calendar(year: int) -> str:
    """The official working-day calendar of a year (holidays and make-up working days)."""
    return f"cal/{year:04d}"


def calendar_version(year: int, version: int) -> str:
    return f"cal/{year:04d}/v/{_n(version)}"


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


def idx_member(org_id: str, person_key: str = "") -> str:
    """A member (PROBATIONARY/FULL/SUSPENDED) whose relationship the org holds now."""
    return f"idx/member/{org_id}/{person_key}"


def idx_archive(org_id: str, person_key: str = "") -> str:
    """An archive whose `org_id` is `org_id` (every status): the read API proves an org's archives
    complete by a range over this prefix."""
    return f"idx/archive/{org_id}/{person_key}"


def idx_alert(org_id: str, alert_id: str = "") -> str:
    """An alert raised for `org_id`: the read API proves an org's alerts complete by a range over
    this prefix."""
    return f"idx/alert/{org_id}/{alert_id}"


def idx_name_key(name_key: str, person_key: str = "") -> str:
    return f"idx/name_key/{name_key}/{person_key}"


def idx_volunteer_book(serial: str) -> str:
    return f"idx/vbook/{seg(serial)}"


def idx_s15_item(meeting_id: str, item_id: str) -> str:
    return f"idx/s15item/{seg(meeting_id)}/{seg(item_id)}"


def idx_approval_item(ref: str, item_id: str | None) -> str:
    """What an approval (S17/S24) cited: a meeting item (`m/`) or a decision record (`d/`) -> the
    person (JOIN-16/22: one approval item approves one person)."""
    if item_id is None:
        return f"idx/apprv/d/{seg(ref)}"
    return f"idx/apprv/m/{seg(ref)}/{seg(item_id)}"


def idx_roster(org_id: str, person_key: str = "") -> str:
    """Everyone whose relationship the org ever held (a membership of it, open or closed): the
    roster on a past date is read from here (MTG-07/09, JOIN-14/21)."""
    return f"idx/roster/{org_id}/{person_key}"


def idx_admission(org_id: str, day: str = "", pipeline_id: str = "") -> str:
    """S15 PASS events by branch and date (JOIN-26)."""
    if not day:
        return f"idx/s15/{org_id}/"
    return f"idx/s15/{org_id}/{day}/{seg(pipeline_id)}"


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


def idx_meeting_day(org_id: str, series: str, day: str = "", meeting_id: str = "") -> str:
    """Meetings of a series (meeting type, `GROUP:<group id>` for party groups) by org and CST date."""
    base = f"idx/mtgday/{org_id}/{seg(series)}/"
    return base if not day else f"{base}{day}/{seg(meeting_id)}"


def idx_attendance(person_key: str, start_ms: int = -1, meeting_id: str = "") -> str:
    """A person's PRESENT / PRESENT_ONLINE attendance by meeting start (MTG-01)."""
    base = f"idx/attend/{person_key}/"
    return base if start_ms < 0 else f"{base}{start_ms:0{DUE_TIME_DIGITS}d}/{seg(meeting_id)}"


def idx_meeting_print(fingerprint: str, meeting_id: str = "") -> str:
    """Meetings with the same agenda titles and the same attendees (MTG-02)."""
    return f"idx/mtgprint/{fingerprint}/{seg(meeting_id)}"


def meeting_series(org_id: str) -> str:
    """An org's organisational-life tracking: since when, its party groups, series streaks (MTG-06)."""
    return f"mtgseries/{org_id}"


def presence(person_key: str) -> str:
    """The last organisational life of their own branch a member attended or was excused from (MTG-05)."""
    return f"mtgpresence/{person_key}"


def absence_streak(person_key: str, org_id: str, series: str) -> str:
    """Consecutive ABSENT / LEAVE entries of a person in one meeting series (MTG-05)."""
    return f"mtgabsence/{person_key}/{org_id}/{seg(series)}"


def idx_spend(org_id: str, dim: str, value: str, day: str = "", decision_id: str = "") -> str:
    """Decision amounts by org, grouping dimension (counterparty, budget item, procurement
    category), value and date (DEC-06)."""
    base = f"idx/spend/{org_id}/{dim}/{seg(value)}/"
    return base if not day else f"{base}{day}/{seg(decision_id)}"


def idx_ratifies(emergency_id: str, decision_id: str = "") -> str:
    """Collective decisions naming an emergency decision in their `ratification_ref` (DEC-07)."""
    return f"idx/ratifies/{seg(emergency_id)}/{seg(decision_id)}"


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


# data protection (contracts/privacy.py)
def node_key(pubkey_hex: str) -> str:
    """A node's key: `{node_id, org_id, role, status}` (node-signed transaction types need ACTIVE;
    the rule a reader applies is `wire.nodekeys.node_in_force`)."""
    return node_key_state_key(pubkey_hex)


def blob_ref(h: str, ref: str = "") -> str:
    """Records naming an encrypted blob (SHA-256 of the blob), e.g. `hash/b/<h>/doc:<doc_id>`."""
    return f"hash/b/{h}/{seg(ref)}" if ref else f"hash/b/{h}/"


def seal(envelope: str, org_id: str = "", version: int = 0) -> str:
    """An envelope's data key re-sealed to an org key version (`privacy.reseal`)."""
    if not org_id:
        return f"seal/{envelope}/"
    return f"seal/{envelope}/{org_id}/{_n(version)}"


def access_head(node_id: str) -> str:
    """The last anchored access-log segment of a node."""
    return f"access/{seg(node_id)}"


def access_anchor(node_id: str, segment: int) -> str:
    return f"access/{seg(node_id)}/{_n(segment)}"


# the node registry and validator-set epochs (contracts/nodes.py, contracts/nodegov.py)
def node(node_id: str) -> str:
    """A node of the network: org, role, key, addresses, status and its pending change."""
    return f"node/{seg(node_id)}"


def epoch(start: int) -> str:
    """The validator set in force from block `start` (12 digits, so scans run in height order)."""
    return f"valset/epoch/{start:012d}"


EPOCH_PREFIX = "valset/epoch/"


def node_proposal(proposal_id: str) -> str:
    """A node governance proposal with its approvals and outcome."""
    return f"nodeprop/{proposal_id}"


def node_proposal_due(at_ms: int, proposal_id: str) -> str:
    """When an open proposal expires (scanned at the start of every block)."""
    return f"nodeprop_due/{at_ms:0{DUE_TIME_DIGITS}d}/{proposal_id}"


def node_proposal_due_until(time_ms: int) -> str:
    return f"nodeprop_due/{time_ms + 1:0{DUE_TIME_DIGITS}d}/"
