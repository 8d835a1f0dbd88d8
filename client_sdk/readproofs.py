"""Verification of state reads: the proof the read API attaches to an answer with `proof=true`
(docs/api.md "Proofs"), checked against the genesis the client holds (docs/sdk.md "How reads
are verified"). Pure: no IO, no clock.

Rules:

- An answer's `proof` proves the state as of height v (`height`) by `state_root`; block a =
  max(1, v + exec_lag) carries that root as its header's `prev_state_root`. Checked: block a's
  commit certificate verifies against the validator set in force at a (a quorum over the hash of
  the header bytes), the header is block a of this chain and of that validator set, a is what v
  says, and the header carries the root. The set in force at a comes from the client's anchor
  (`client_sdk.proofs.TrustAnchor`: genesis plus the validator epochs verified from it, shared
  with the client); a header naming a set the anchor does not know for a raises
  `UnknownEpochError`, on which the read flows learn the epochs (`learn_epochs`) and check again,
  once. The proof's nodes are then checked against the root by
  `wire.stateproofs.ProofView`: a key or range the nodes do not cover is a VerificationError.
- Values: an item that carries `value` (the stored bytes, hex) is accepted only when the bytes
  hash to the value hash the proof shows for its key, and what the SDK returns is rebuilt from
  those bytes (`wire.records.project`), never taken from the node's rendering; a rendering that
  disagrees with the bytes is refused too. An item without `value` (hash-only callers, auditors)
  is accepted when its `value_hash` is the proven one; then only what the key and the hash prove
  is returned (family, id, parent, state key, value hash), the other columns are None.
- `reflects` w >= v is the node's claim that blocks v+1..w changed no state. The verifier refuses
  it when it knows better: a certified root of a height in (v, w] (from any header it verified)
  that differs from the proven root, or a transaction of this client committed in (v, w] (every
  processed transaction writes its replay marker). Otherwise the claim is reported as the
  answer's `height` and v as its `proven_height`.
- Hostile input (a malformed proof or item, a missing field, a node the proof lacks) raises
  VerificationError and nothing else.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from client_sdk.errors import VerificationError
from client_sdk.models import Event, Record
from client_sdk.proofs import AnchorRef, TrustAnchor, certified_header
from wire import stateproofs
from wire.crypto import HASH_SIZE, sha256
from wire.errors import ProofError, WireError
from wire.genesis import Genesis
from wire.nodekeys import node_key_state_key
from wire.records import classify, decode_value, org_view, project, user_view
from wire.types import BlockHeader

MAX_PROOF_NODES = 200_000
MAX_RANGES = 64
KNOWN_ROOTS_MAX = 4096
CERTIFIED_CACHE_MAX = 256
RECORD_FIELDS = (
    "family",
    "id",
    "org_id",
    "other_org_id",
    "parent_id",
    "person_key",
    "status",
    "kind",
    "colour",
    "day",
    "state_key",
    "value_hash",
    "record",
)
# what an alert keeps from the moment it is raised (status, history and the closing fields change)
ALERT_FIXED = (
    "alert_id",
    "rule_id",
    "colour",
    "reason_code",
    "reason",
    "subject_keys",
    "record_refs",
    "org_id",
    "raised_at",
    "raised_date",
    "raised_height",
    "details",
    "source",
    "rule_set_version",
)
_MALFORMED = (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError, WireError)


@contextmanager
def hostile(what: str) -> Iterator[None]:
    """Turn any parsing failure on node input into VerificationError (`what` names the input)."""
    try:
        yield
    except VerificationError:
        raise
    except ProofError as exc:
        raise VerificationError(f"{what}: {exc.message}") from None
    except _MALFORMED as exc:
        raise VerificationError(f"{what} is malformed ({type(exc).__name__}: {exc})") from None


def want_int(value: Any, what: str, low: int = 0) -> int:
    if type(value) is not int or value < low:
        raise VerificationError(f"{what} is not an integer >= {low}")
    return value


def want_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise VerificationError(f"{what} is not a string")
    return value


def want_hex(value: Any, what: str, size: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(want_str(value, what))
    except ValueError:
        raise VerificationError(f"{what} is not hex") from None
    if size is not None and len(raw) != size:
        raise VerificationError(f"{what} is not {size} bytes")
    return raw


def want_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise VerificationError(f"{what} is not an object")
    return value


def want_list(value: Any, what: str, limit: int) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise VerificationError(f"{what} is not a list of at most {limit} entries")
    return value


# ------------------------------------------------------------------------------------ the proof
@dataclass(frozen=True, slots=True)
class ProvenState:
    """What a checked proof establishes: the state of height `height` (= v) has root `state_root`,
    certified by block `anchor_height`; the proof's nodes answer for some keys and ranges."""

    height: int
    reflects: int
    state_root: bytes
    anchor_height: int
    header: BlockHeader
    ranges: tuple[tuple[bytes, bytes | None], ...]
    view: stateproofs.ProofView

    def value_hash(self, key: bytes) -> bytes | None:
        """The proven hash of `key`'s value, None when the proof shows it absent."""
        with hostile(f"the proof of {key[:80]!r}"):
            return self.view.value_hash(key)

    def entries(self, lo: bytes, hi: bytes | None) -> list[tuple[bytes, bytes]]:
        """Every (key, value hash) with lo <= key < hi, complete."""
        with hostile("the range proof"):
            return self.view.range(lo, hi)


class ReadVerifier:
    """Checks proofs against one genesis; remembers what it learnt (certified headers, state roots
    of heights, this client's own commits) to check later claims. One per client."""

    def __init__(self, genesis: Genesis, anchor: AnchorRef | None = None) -> None:
        self._anchor = anchor if anchor is not None else AnchorRef(TrustAnchor.from_genesis(genesis))
        self.lag = genesis.consensus.exec_lag
        self.root_org = next((o.org_id for o in genesis.orgs if "." not in o.org_id), "")
        self._genesis_node_keys = frozenset(n.pubkey for n in genesis.nodes)
        self._certified: OrderedDict[tuple[int, bytes, bytes], BlockHeader] = OrderedDict()
        self._roots: OrderedDict[int, bytes] = OrderedDict()  # state height -> its certified root
        self._changed: OrderedDict[int, None] = OrderedDict()  # heights this client's txs changed

    @property
    def anchor(self) -> TrustAnchor:
        """The genesis and the validator epochs verified so far (shared with the client)."""
        return self._anchor.anchor

    def is_node_key(self, pubkey: bytes) -> bool:
        """A genesis node's key, or a validator key of an epoch verified from genesis."""
        return pubkey in self._genesis_node_keys or any(
            pubkey in e.validators.pubkeys for e in self.anchor.epochs
        )

    def learn_epochs(self, doc: Any) -> None:
        """Extend the anchor from a node's `/v1/validators` answer (verified from genesis)."""
        self._anchor.anchor = self._anchor.anchor.from_validators_doc(doc)

    # -- what the client learns elsewhere
    def learn_header(self, header: BlockHeader) -> None:
        """A verified header of block h carries the state root of height max(0, h - exec_lag)."""
        self._remember(self._roots, max(0, header.height - self.lag), header.prev_state_root)

    def learn_commit(self, height: int) -> None:
        """A transaction of this client was committed (and processed) at `height`: the state changed."""
        self._remember(self._changed, height, None)

    @staticmethod
    def _remember(table: OrderedDict[int, Any], key: int, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > KNOWN_ROOTS_MAX:
            table.popitem(last=False)

    # -- an answer's proof
    def state(self, doc: Any) -> ProvenState:
        """The checked `proof` of answer `doc` (see the module rules)."""
        with hostile("the proof"):
            proof = doc.get("proof") if isinstance(doc, dict) else None
            if proof is None:
                raise VerificationError("the node sent no proof with its answer")
            return self._state(want_dict(proof, "the proof"))

    def _state(self, proof: dict[str, Any]) -> ProvenState:
        v = want_int(proof["height"], "the proven height")
        w = want_int(proof["reflects"], "the height the answer reflects", v)
        root = want_hex(proof["state_root"], "the state root", HASH_SIZE)
        anc = want_dict(proof["anchor"], "the anchor")
        a = want_int(anc["height"], "the anchor height", 1)
        if a != max(1, v + self.lag):
            raise VerificationError(f"the state of height {v} is certified by block {v + self.lag}, not {a}")
        header = self.certify(
            a,
            want_hex(anc["header_bytes"], "the anchor header"),
            want_hex(anc["certificate_bytes"], "the certificate"),
        )
        if header.prev_state_root != root:
            raise VerificationError(f"block {a} does not carry the proven state root")
        nodes = [
            want_hex(n, "a proof node") for n in want_list(proof["nodes"], "the proof nodes", MAX_PROOF_NODES)
        ]
        ranges = []
        for r in want_list(proof["ranges"], "the proof ranges", MAX_RANGES):
            r = want_dict(r, "a proof range")
            hi = r["hi"]
            ranges.append(
                (want_hex(r["lo"], "a range bound"), None if hi is None else want_hex(hi, "a range bound"))
            )
        self._check_claim(v, w, root)
        return ProvenState(
            height=v,
            reflects=w,
            state_root=root,
            anchor_height=a,
            header=header,
            ranges=tuple(ranges),
            view=stateproofs.ProofView(root, nodes),
        )

    def certify(self, height: int, header_bytes: bytes, cert_bytes: bytes) -> BlockHeader:
        """Block `height`'s header, its certificate verified (cached by the bytes' hashes)."""
        key = (height, sha256(header_bytes), sha256(cert_bytes))
        found = self._certified.get(key)
        if found is None:
            found, _ = certified_header(
                header_bytes, cert_bytes, height, self.anchor, f"header of block {height}"
            )
            self._certified[key] = found
            while len(self._certified) > CERTIFIED_CACHE_MAX:
                self._certified.popitem(last=False)
            self.learn_header(found)
        return found

    def _check_claim(self, v: int, w: int, root: bytes) -> None:
        known = self._roots.get(v)
        if known is not None and known != root:
            raise VerificationError(f"two certified headers carry different state roots of height {v}")
        for height, other in self._roots.items():
            if v < height <= w and other != root:
                raise VerificationError(
                    f"the node says its answer reflects height {w}, but the state changed at {height} "
                    f"(a certified header says so) after the proven height {v}"
                )
        for height in self._changed:
            if v < height <= w:
                raise VerificationError(
                    f"the node says its answer reflects height {w}, but this client's transaction "
                    f"changed the state at {height}, after the proven height {v}"
                )


# ------------------------------------------------------------------------------------ items
def _same(item: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    for name, value in expected.items():
        if name in item and item[name] != value:
            raise VerificationError(f"{what}: the node's {name} differs from the proven value")


def proven_value(state: ProvenState, key: str, item: dict[str, Any]) -> bytes | None:
    """The item's value bytes (None for a hash-only item), checked against the proof of `key`."""
    proven = state.value_hash(key.encode("utf-8"))
    if proven is None:
        raise VerificationError(f"the proof shows {key[:80]} absent, the node served it")
    value = item.get("value")
    if value is None:
        if item.get("record") is not None:
            raise VerificationError(f"{key[:80]}: contents without the bytes to check them")
        if want_hex(item.get("value_hash"), "value_hash", HASH_SIZE) != proven:
            raise VerificationError(f"{key[:80]}: the value hash does not match its proof")
        return None
    raw = want_hex(value, "value")
    if sha256(raw) != proven:
        raise VerificationError(f"{key[:80]}: the value does not match its proof")
    return raw


def record_item(state: ProvenState, item: Any, key: str | None = None, org_id: str | None = None) -> Record:
    """A record item checked against the proof and rebuilt from the proven bytes. `key`: the
    state key it must be; `org_id`: the org a proven index key gives it (hash-only items)."""
    with hostile("a record item"):
        item = want_dict(item, "a record item")
        state_key = want_str(item["state_key"], "state_key")
        if key is not None and state_key != key:
            raise VerificationError(f"the node served {state_key[:80]} for {key[:80]}")
        raw = proven_value(state, state_key, item)
        if raw is None:
            target = classify(state_key)
            if target is None or target.table != "record":
                raise VerificationError(f"{state_key[:80]} is not the key of a record")
            return Record(
                family=target.family,
                id=target.rid,
                org_id=org_id,
                state_key=state_key,
                value_hash=want_hex(item["value_hash"], "value_hash").hex(),
                parent_id=target.parent_id,
                proven_height=state.height,
            )
        proj = project(state_key, raw, state.height)
        if proj is None or proj.table != "record":
            raise VerificationError(f"the proven value of {state_key[:80]} is not a record")
        row = proj.row
        record = Record(
            family=row["family"],
            id=row["rid"],
            org_id=row["org_id"],
            state_key=state_key,
            value_hash=row["value_hash"],
            other_org_id=row["other_org_id"],
            parent_id=row["parent_id"],
            person_key=row["person_key"],
            status=row["status"],
            kind=row["kind"],
            colour=row["colour"],
            day=row["day"],
            record=json.loads(row["body"]),
            proven_height=state.height,
            persons=tuple(proj.persons),
        )
        _same(item, {f: getattr(record, f) for f in RECORD_FIELDS}, state_key[:80])
        return record


def _entity(
    state: ProvenState, item: Any, key: str, table: str, render: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    with hostile(f"the {table} item"):
        item = want_dict(item, f"the {table} item")
        raw = proven_value(state, key, item)
        if raw is None:
            raise VerificationError(f"{key[:80]}: the node sent no value to check")
        proj = project(key, raw, state.height)
        if proj is None or proj.table != table:
            raise VerificationError(f"the proven value of {key[:80]} is not an {table}")
        out = {**render(proj.row), "value": raw.hex()}
        _same(item, out, key[:80])
        return out


def org_item(state: ProvenState, item: Any, org_id: str | None = None) -> dict[str, Any]:
    """An org item (of `org_id` when given) checked against the proof, rebuilt from its bytes."""
    with hostile("the org item"):
        oid = org_id if org_id is not None else want_str(want_dict(item, "the org item")["org_id"], "org_id")
    return _entity(state, item, f"org/{oid}", "org", org_view)


def user_item(state: ProvenState, item: Any, pubkey: str | None = None) -> dict[str, Any]:
    """A user item (of `pubkey` when given) checked against the proof, rebuilt from its bytes."""
    with hostile("the user item"):
        pk = pubkey if pubkey is not None else want_str(want_dict(item, "the user item")["pubkey"], "pubkey")
    return _entity(state, item, f"user/{pk.lower()}", "user", user_view)


def node_key_item(state: ProvenState, item: Any, pubkey_hex: str) -> dict[str, Any]:
    """The record of node key `pubkey_hex` (`wire.nodekeys`), decoded from its proven bytes."""
    key = node_key_state_key(pubkey_hex.lower())
    with hostile("the node key item"):
        raw = proven_value(state, key, want_dict(item, "the node key item"))
    record = None if raw is None else decode_value(raw)
    if record is None:
        raise VerificationError(f"the proven value of {key[:80]} is not a node key record")
    return record


def alert_event(event: Event, proven: Record) -> Event:
    """An alert event checked against the alert read with its proof at or after the event's height:
    the same alert, raised at that height, with the same fixed fields; its data is the proven record."""
    rec = proven.record
    if rec is None or proven.family != "alert" or proven.id != event.alert_id:
        raise VerificationError(f"alert event {event.alert_id}: the proven record is another one")
    if rec.get("raised_height") != event.height:
        raise VerificationError(f"alert {event.alert_id} was not raised at height {event.height}")
    for name in ALERT_FIXED:
        if name in event.data and event.data[name] != rec.get(name):
            raise VerificationError(f"alert event {event.alert_id}: its {name} differs from the proven alert")
    return Event("alert", event.height, {**rec, "height": event.height}, proven_height=proven.proven_height)


__all__ = [
    "ProvenState",
    "ReadVerifier",
    "alert_event",
    "hostile",
    "node_key_item",
    "org_item",
    "proven_value",
    "record_item",
    "user_item",
]
