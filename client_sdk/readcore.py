"""The read flows of the sans-IO core (`client_sdk.core` has the machinery): records, lists,
histories, orgs, users, transactions and alert events, verified by default. Both clients drive
the same flows.

Rules:

- With a `ReadVerifier` (the default) every read asks `proof=true` and returns only what its
  proof establishes (`client_sdk.readproofs`, `client_sdk.readpages`); a failure is
  VerificationError. Without one (`verify_reads=False`) no proof is asked and the node's answer
  is returned as it is (`proven_height` None, `complete` False).
- The caller's scope (the org subtree a list without `org_id` covers: its complete range, the
  orgs every item must belong to) is learnt once per client from its own user record, read with its proof at least at the height the node authenticated
  it (`/v1/auth/whoami` says which); a node key (a genesis node's, or a validator's of a verified epoch) reads as the root ("" = the
  whole tree), and so does any other node key whose own `nodekey/` record, read with its proof
  (`/v1/nodekeys/{pubkey}`), is in force (`wire.nodekeys.node_in_force`: the node's rule too).
- `tx`: a committed or rejected transaction is verified by its proof (`/v1/proofs/tx/{id}`: the
  block's certificate, the inclusion proof, and, once block h + exec_lag exists, the receipt's);
  with `wait_receipt` the flow waits for the receipt's proof until the deadline. A pending
  answer has nothing to prove and is returned marked `"verified": false`.
- An alert event is checked by reading the alert with its proof at `min_height` = its height.
- Epochs: a proof anchored in a block of a validator epoch the client has not verified yet
  (`UnknownEpochError`) makes the flow fetch `/v1/validators`, verify the epoch chain from
  genesis into the client's anchor (`ReadVerifier.learn_epochs`) and check the same answer again,
  once; a node can withhold a later epoch, never forge one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from client_sdk.core import POLL_FIRST_S, POLL_MAX_S, Backoff, Call, Flow, Sleep, params_of, request
from client_sdk.errors import ApiError, NotFoundError, UnknownEpochError, VerificationError
from client_sdk.models import Event, History, Page, Record
from client_sdk.proofs import VerifiedTx, verify_proof_response
from client_sdk.readpages import (
    LIMIT_MAX,
    ListQuery,
    record_path,
    seg,
    start_after,
    verify_entity,
    verify_history,
    verify_page,
    verify_record,
)
from client_sdk.readproofs import (
    ProvenState,
    ReadVerifier,
    alert_event,
    hostile,
    node_key_item,
    want_dict,
)
from wire.genesis import Genesis
from wire.nodekeys import NODE_SCOPE, node_in_force


@dataclass(slots=True)
class ReadState:
    """What a client's reads share: the verifier (None: reads are trusted), the client's public
    key (None: learnt from whoami), and the caller's scope once learnt."""

    verifier: ReadVerifier | None
    key_public: bytes | None = None
    scope: str | None = None


def read_call(path: str, rs: ReadState, min_height: int | None, **params: Any) -> Call:
    proof = True if rs.verifier is not None else None
    return Call("GET", path, params_of(min_height=min_height, proof=proof, **params))


def learn_epochs_flow(v: ReadVerifier, *, deadline: float) -> Flow[None]:
    """Fetch the node's validator epochs and verify them from genesis into the anchor."""
    doc = yield from request(Call("GET", "/v1/validators", params_of(min_height=0)), deadline=deadline)
    v.learn_epochs(doc)


def proven_flow(v: ReadVerifier, doc: Any, *, deadline: float) -> Flow[ProvenState]:
    """The checked proof of answer `doc`, learning the validator epochs once if it needs a later one."""
    try:
        return v.state(doc)
    except UnknownEpochError:
        yield from learn_epochs_flow(v, deadline=deadline)
        return v.state(doc)


def _malformed(what: str, exc: Exception) -> ApiError:
    return ApiError(502, "bad_response", f"malformed {what}: {exc}")


# ------------------------------------------------------------------------------------ records
def record_flow(
    rs: ReadState, family: str, record_id: str, *, min_height: int | None, deadline: float
) -> Flow[Record | None]:
    """One record by id (None: the node says absent or outside the caller's subtree)."""
    try:
        doc = yield from request(read_call(record_path(family, record_id), rs, min_height), deadline=deadline)
    except NotFoundError:
        return None
    if rs.verifier is None:
        try:
            return Record.from_json(doc["item"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed("record", exc) from exc
    state = yield from proven_flow(rs.verifier, doc, deadline=deadline)
    return verify_record(state, doc, family, record_id)


def page_flow(
    rs: ReadState, q: ListQuery, *, cursor: str | None, limit: int, min_height: int | None, deadline: float
) -> Flow[Page]:
    """One page of list `q`."""
    if not 1 <= limit <= LIMIT_MAX:
        raise ValueError(f"limit must be 1..{LIMIT_MAX}")
    v = rs.verifier
    scope = None
    if v is not None and q.org_id is None and q.parent_id is None:  # it covers the caller's subtree
        scope = yield from scope_flow(rs, deadline=deadline)
    after = start_after(q, cursor, scope) if v is not None else None
    call = read_call(q.path, rs, min_height, cursor=cursor, limit=limit, **q.params())
    doc = yield from request(call, deadline=deadline)
    if v is None:
        try:
            items = [Record.from_json(i) if q.what == "record" else dict(i) for i in doc["items"]]
            return Page(items, int(doc["height"]), doc.get("next_cursor"))
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed("page", exc) from exc
    state = yield from proven_flow(v, doc, deadline=deadline)
    return verify_page(state, doc, q, after=after, limit=limit, scope=scope)


def history_flow(rs: ReadState, person_key: str, *, min_height: int | None, deadline: float) -> Flow[History]:
    doc = yield from request(
        read_call(f"/v1/members/{seg(person_key)}/history", rs, min_height), deadline=deadline
    )
    if rs.verifier is None:
        try:
            return History(
                person_key=str(doc["person_key"]),
                height=int(doc["height"]),
                items=[Record.from_json(i) for i in doc["items"]],
                truncated=bool(doc["truncated"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed("history", exc) from exc
    state = yield from proven_flow(rs.verifier, doc, deadline=deadline)
    return verify_history(state, doc, person_key)


def entity_flow(
    rs: ReadState, what: str, ident: str, *, min_height: int | None, deadline: float
) -> Flow[dict[str, Any] | None]:
    """One org (`what` "org") or user ("user") by id; None when the node says absent."""
    path = f"/v1/orgs/{seg(ident)}" if what == "org" else f"/v1/users/{seg(ident)}"
    try:
        doc = yield from request(read_call(path, rs, min_height), deadline=deadline)
    except NotFoundError:
        return None
    if rs.verifier is None:
        try:
            return dict(doc["item"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed(what, exc) from exc
    state = yield from proven_flow(rs.verifier, doc, deadline=deadline)
    return verify_entity(state, doc, what, ident)


def node_key_flow(
    rs: ReadState, pubkey_hex: str, *, min_height: int | None, deadline: float
) -> Flow[dict[str, Any] | None]:
    """A node key's record (`GET /v1/nodekeys/{pubkey}`), proven; None when the node says absent."""
    try:
        doc = yield from request(read_call(f"/v1/nodekeys/{pubkey_hex}", rs, min_height), deadline=deadline)
    except NotFoundError:
        return None
    v = rs.verifier
    assert v is not None
    state = yield from proven_flow(v, doc, deadline=deadline)
    with hostile("the node key answer"):
        item = want_dict(doc, "the answer")["item"]
    return node_key_item(state, item, pubkey_hex)


def scope_flow(rs: ReadState, *, deadline: float) -> Flow[str]:
    """The root of the caller's subtree ("" = the whole tree), learnt once (see the module rules)."""
    if rs.scope is not None:
        return rs.scope
    v = rs.verifier
    assert v is not None
    who = yield from request(Call("GET", "/v1/auth/whoami", params_of(min_height=0)), deadline=deadline)
    with hostile("the whoami answer"):
        pub = rs.key_public if rs.key_public is not None else bytes.fromhex(who["pubkey"])
        height = who.get("height") if type(who.get("height")) is int else None
    if v.is_node_key(pub):
        rs.scope = ""
        return ""
    user = yield from entity_flow(rs, "user", pub.hex(), min_height=height, deadline=deadline)
    if user is None:  # a node key added after genesis: its own proven `nodekey/` record
        node = yield from node_key_flow(rs, pub.hex(), min_height=height, deadline=deadline)
        if node is None or node_in_force(node) is None:
            raise VerificationError(
                "the node proves neither the caller's user record nor a node key in force"
            )
        rs.scope = NODE_SCOPE
        return rs.scope
    org = str(user["org_id"])
    rs.scope = "" if org == v.root_org else org
    return rs.scope


# ------------------------------------------------------------------------------------ transactions
def tx_flow(
    rs: ReadState, genesis: Genesis, tx_id: bytes, *, wait_receipt: bool, deadline: float
) -> Flow[dict[str, Any] | None]:
    """A transaction's status: verified by its proof when committed or rejected (module rules)."""
    hexid = tx_id.hex()
    try:
        doc = yield from request(Call("GET", f"/v1/tx/{hexid}", params_of(min_height=0)), deadline=deadline)
    except NotFoundError:
        return None
    status = doc.get("status")
    if rs.verifier is None or status not in ("committed", "rejected"):
        return {**doc, "verified": False, "receipt_verified": False}
    poll = Backoff(POLL_FIRST_S, POLL_MAX_S)
    call = Call("GET", f"/v1/proofs/tx/{hexid}", params_of(min_height=0))
    while True:
        try:
            proof = yield from request(call, deadline=deadline)
        except NotFoundError:
            raise VerificationError(
                f"the node says transaction {hexid[:16]}… is {status} but has no proof"
            ) from None
        try:
            verified = verify_proof_response(proof, genesis, tx_id, anchor=rs.verifier.anchor)
        except UnknownEpochError:
            yield from learn_epochs_flow(rs.verifier, deadline=deadline)
            verified = verify_proof_response(proof, genesis, tx_id, anchor=rs.verifier.anchor)
        rs.verifier.learn_header(verified.header)
        if verified.root_header is not None:
            rs.verifier.learn_header(verified.root_header)
        wait = poll.wait()
        if verified.receipt is not None or not wait_receipt or time.monotonic() + wait > deadline:
            return tx_answer(verified, proof)
        yield Sleep(wait)


def tx_answer(verified: VerifiedTx, doc: dict[str, Any]) -> dict[str, Any]:
    """What `tx()` returns for a verified transaction: everything from the verified proof."""
    body = None if verified.tx is None else verified.tx.body
    receipt = None if verified.receipt is None else verified.receipt.to_json()
    accepted = receipt is None or receipt["status"] == "ACCEPTED"
    return {
        "tx_id": verified.tx_id.hex(),
        "status": "committed" if accepted else "rejected",
        "block_height": verified.block_height,
        "index": verified.index,
        "org_id": None if body is None else body.org_id,
        "tx_type": None if body is None else body.tx_type,
        "tx_bytes": bytes.fromhex(str(doc["tx_bytes"])).hex(),  # the bytes the proof verified
        "receipt": receipt,
        "verified": True,
        "receipt_verified": receipt is not None,
        "height": doc.get("height"),
    }


# ------------------------------------------------------------------------------------ events
def alert_event_flow(rs: ReadState, event: Event, *, deadline: float) -> Flow[Event]:
    """An alert event, checked against the alert read with its proof (min_height = its height)."""
    with hostile("the alert event"):
        alert_id = str(want_dict(event.data, "the alert event")["alert_id"])
    rec = yield from record_flow(rs, "alert", alert_id, min_height=event.height, deadline=deadline)
    if rec is None:
        raise VerificationError(f"the node streamed alert {alert_id} but does not serve it")
    return alert_event(event, rec)


__all__ = [
    "ReadState",
    "alert_event_flow",
    "entity_flow",
    "history_flow",
    "learn_epochs_flow",
    "node_key_flow",
    "page_flow",
    "proven_flow",
    "read_call",
    "record_flow",
    "scope_flow",
    "tx_answer",
    "tx_flow",
]
