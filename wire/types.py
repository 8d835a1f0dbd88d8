"""The signed and hashed objects of ARCHITECTURE section 3: transactions, blocks, certificates, receipts.

Every type is a frozen dataclass with `encode()` (canonical bytes, a positional array
`[tag, version, field...]`) and a strict `decode(bytes)` classmethod. Rules:

- Transaction: the body `(chain_id, tx_type, org_id, signer, nonce, client_time_ms, payload)` is
  encoded on its own; the signature covers those body bytes (domain `tx`), and the transaction id
  is SHA-256 of the body bytes. Approver signatures (domain `tx-approval`) cover the transaction
  id, so adding or reordering approvals never changes the id: one id, applied at most once.
  The payload is a canonical value (maps with sorted str keys) of at most `MAX_TX_BYTES`.
- Block header `(chain_id, height, view, timestamp_ms, prev_block_hash, tx_root, prev_state_root,
  prev_results_root, validators_hash, proposer, next_validators_hash)`; the block hash is SHA-256
  of the header bytes. `validators_hash` is the hash of the validator set in force at `height`,
  `next_validators_hash` that of the set in force at `height + 1` (they differ only in the last
  block of an epoch, `wire.epochs`), so a certified header proves the next set.
  `tx_root` is the RFC 6962 root over the transactions' encoded bytes. `prev_state_root` and
  `prev_results_root` are the roots after executing block `height - exec_lag` (genesis parameter;
  `exec_lag = 1` is Tendermint's lag-one rule; a larger lag lets consensus pipeline blocks
  without waiting for execution). Heights below `exec_lag` carry the genesis roots.
- Commit certificate `(height, view, block_hash, [(validator_index, signature)])`: each signature
  is a `commit` signature over `commit_vote_bytes(height, view, block_hash)`; valid with at least
  q distinct validators of the set in force (see `wire.certificate`).
- Receipt: status, rule id and reason code when rejected, alerts raised, keys written, and the
  verdicts of rules running in shadow mode. The results root is the RFC 6962 root over a block's
  encoded receipts in transaction order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, TypeVar

import msgpack

from wire import codec
from wire.codec import (
    want_bytes,
    want_int,
    want_list,
    want_record,
    want_str,
)
from wire.crypto import HASH_SIZE, PUBKEY_SIZE, SIGNATURE_SIZE, Domain, Signer, sha256, verify
from wire.errors import DecodeError
from wire.merkle import merkle_root

MAX_TX_BYTES = 64 * 1024
MAX_APPROVALS = 8
MAX_BLOCK_TXS = 10_000
MAX_BLOCK_BYTES = 16 * 1024 * 1024
MAX_VALIDATORS = 256
MAX_ID_LEN = 128
MAX_RECEIPT_ITEMS = 256

TAG_TX_BODY = 1
TAG_SIGNED_TX = 2
TAG_HEADER = 3
TAG_BLOCK = 4
TAG_CERTIFICATE = 5
TAG_RECEIPT = 6
TAG_COMMIT_VOTE = 7
TAG_APPROVAL = 8

ZERO_HASH = bytes(HASH_SIZE)

_T = TypeVar("_T")


def _u64(value: Any, name: str) -> int:
    return want_int(value, name, 0, 2**64 - 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class TxBody:
    """What a transaction's signer signs."""

    TAG: ClassVar[int] = TAG_TX_BODY
    VERSION: ClassVar[int] = 1

    chain_id: str
    tx_type: str
    org_id: str
    signer: bytes
    nonce: int
    client_time_ms: int
    payload: Any

    def encode(self) -> bytes:
        return codec.encode(
            [
                self.TAG,
                self.VERSION,
                self.chain_id,
                self.tx_type,
                self.org_id,
                self.signer,
                self.nonce,
                self.client_time_ms,
                self.payload,
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> TxBody:
        if len(data) > MAX_TX_BYTES:
            raise DecodeError(f"transaction body exceeds {MAX_TX_BYTES} bytes", code="too_large")
        f = want_record(codec.decode(data), "tx body", cls.TAG, cls.VERSION, 7)
        return cls(
            chain_id=want_str(f[0], "chain_id", 64, 1),
            tx_type=want_str(f[1], "tx_type", 64, 1),
            org_id=want_str(f[2], "org_id", MAX_ID_LEN, 1),
            signer=want_bytes(f[3], "signer", PUBKEY_SIZE),
            nonce=_u64(f[4], "nonce"),
            client_time_ms=_u64(f[5], "client_time_ms"),
            payload=f[6],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """An extra signature by an approver over the transaction id (domain `tx-approval`)."""

    signer: bytes
    signature: bytes

    def to_wire(self) -> list[Any]:
        return [TAG_APPROVAL, 1, self.signer, self.signature]

    @classmethod
    def from_wire(cls, value: Any) -> Approval:
        f = want_record(value, "approval", TAG_APPROVAL, 1, 2)
        return cls(
            signer=want_bytes(f[0], "approval.signer", PUBKEY_SIZE),
            signature=want_bytes(f[1], "approval.signature", SIGNATURE_SIZE),
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class SignedTransaction:
    """A transaction as submitted and stored: body bytes, signature, approvals."""

    TAG: ClassVar[int] = TAG_SIGNED_TX
    VERSION: ClassVar[int] = 1

    body_bytes: bytes
    signature: bytes
    approvals: tuple[Approval, ...] = ()

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SignedTransaction)
            and self.body_bytes == other.body_bytes
            and self.signature == other.signature
            and self.approvals == other.approvals
        )

    def __hash__(self) -> int:
        # from the id, not hash(bytes): that depends on PYTHONHASHSEED, and the pure core may not
        return int.from_bytes(self.tx_id[:8], "big")

    @cached_property
    def body(self) -> TxBody:
        return TxBody.decode(self.body_bytes)

    @cached_property
    def tx_id(self) -> bytes:
        return sha256(self.body_bytes)

    def _with_body(self, body: TxBody) -> SignedTransaction:
        self.__dict__["body"] = body  # fill the cache: the body was just decoded or built
        return self

    def derived(self, name: str, make: Callable[[], _T]) -> _T:
        """`make()`, computed once per object and remembered under `name`. Only for values that are
        a pure function of this transaction's bytes (the contracts' normalised payload), which the
        caller must not mutate: admission and execution share the decoded object
        (node/runtime/sigcache.py), so such a value is computed once per node, not once per stage.
        A `make` that raises remembers nothing."""
        memo: dict[str, Any] = self.__dict__.setdefault("_derived", {})
        if name not in memo:
            memo[name] = make()
        return memo[name]  # type: ignore[no-any-return]

    def encode(self) -> bytes:
        return codec.encode_trusted(
            [self.TAG, self.VERSION, self.body_bytes, self.signature, [a.to_wire() for a in self.approvals]]
        )

    @classmethod
    def decode(cls, data: bytes) -> SignedTransaction:
        if len(data) > MAX_TX_BYTES + 1024:
            raise DecodeError(f"transaction exceeds {MAX_TX_BYTES} bytes", code="too_large")
        f = want_record(codec.decode(data), "transaction", cls.TAG, cls.VERSION, 3)
        body_bytes = want_bytes(f[0], "body", max_len=MAX_TX_BYTES)
        body = TxBody.decode(body_bytes)
        approvals = tuple(Approval.from_wire(a) for a in want_list(f[2], "approvals", MAX_APPROVALS))
        signers = [a.signer for a in approvals]
        if len(set(signers)) != len(signers):
            raise DecodeError("an approver appears twice", code="duplicate_approval")
        return cls(
            body_bytes=body_bytes,
            signature=want_bytes(f[1], "signature", SIGNATURE_SIZE),
            approvals=approvals,
        )._with_body(body)

    @classmethod
    def create(cls, body: TxBody, signer: Signer, approvers: Sequence[Signer] = ()) -> SignedTransaction:
        """Sign `body` with `signer` (whose public key must be `body.signer`) and each approver."""
        if signer.public != body.signer:
            raise ValueError("the signing key is not the body's signer")
        body_bytes = body.encode()
        tx_id = sha256(body_bytes)
        approvals = tuple(
            Approval(signer=a.public, signature=a.sign(Domain.TX_APPROVAL, body.chain_id, tx_id))
            for a in approvers
        )
        return cls(
            body_bytes=body_bytes,
            signature=signer.sign(Domain.TX, body.chain_id, body_bytes),
            approvals=approvals,
        )._with_body(body)

    def signature_ok(self) -> bool:
        """The main signature and every approval verify (chain id taken from the body)."""
        body = self.body
        if not verify(Domain.TX, body.chain_id, body.signer, self.body_bytes, self.signature):
            return False
        tx_id = self.tx_id
        return all(
            verify(Domain.TX_APPROVAL, body.chain_id, a.signer, tx_id, a.signature) for a in self.approvals
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockHeader:
    TAG: ClassVar[int] = TAG_HEADER
    VERSION: ClassVar[int] = 2

    chain_id: str
    height: int
    view: int
    timestamp_ms: int
    prev_block_hash: bytes
    tx_root: bytes
    prev_state_root: bytes
    prev_results_root: bytes
    validators_hash: bytes
    proposer: int
    next_validators_hash: bytes = b""  # empty: the same set as `validators_hash` (no change)

    def __post_init__(self) -> None:
        if not self.next_validators_hash:
            object.__setattr__(self, "next_validators_hash", self.validators_hash)

    def to_wire(self) -> list[Any]:
        return [
            self.TAG,
            self.VERSION,
            self.chain_id,
            self.height,
            self.view,
            self.timestamp_ms,
            self.prev_block_hash,
            self.tx_root,
            self.prev_state_root,
            self.prev_results_root,
            self.validators_hash,
            self.proposer,
            self.next_validators_hash,
        ]

    @classmethod
    def from_wire(cls, value: Any) -> BlockHeader:
        f = want_record(value, "header", cls.TAG, cls.VERSION, 11)
        return cls(
            chain_id=want_str(f[0], "chain_id", 64, 1),
            height=_u64(f[1], "height"),
            view=_u64(f[2], "view"),
            timestamp_ms=_u64(f[3], "timestamp_ms"),
            prev_block_hash=want_bytes(f[4], "prev_block_hash", HASH_SIZE),
            tx_root=want_bytes(f[5], "tx_root", HASH_SIZE),
            prev_state_root=want_bytes(f[6], "prev_state_root", HASH_SIZE),
            prev_results_root=want_bytes(f[7], "prev_results_root", HASH_SIZE),
            validators_hash=want_bytes(f[8], "validators_hash", HASH_SIZE),
            proposer=want_int(f[9], "proposer", 0, MAX_VALIDATORS - 1),
            next_validators_hash=want_bytes(f[10], "next_validators_hash", HASH_SIZE),
        )

    def encode(self) -> bytes:
        return codec.encode_trusted(self.to_wire())

    @classmethod
    def decode(cls, data: bytes) -> BlockHeader:
        return cls.from_wire(codec.decode(data))

    @property
    def hash(self) -> bytes:
        return sha256(self.encode())


@dataclass(frozen=True, kw_only=True)
class Block:
    """A header and the encoded transactions it orders (the `tx_root` leaves)."""

    TAG: ClassVar[int] = TAG_BLOCK
    VERSION: ClassVar[int] = 1

    header: BlockHeader
    txs: tuple[bytes, ...]

    def encode(self) -> bytes:
        return codec.encode_trusted([self.TAG, self.VERSION, self.header.to_wire(), list(self.txs)])

    @classmethod
    def decode(cls, data: bytes) -> Block:
        if len(data) > MAX_BLOCK_BYTES:
            raise DecodeError(f"block exceeds {MAX_BLOCK_BYTES} bytes", code="too_large")
        f = want_record(codec.decode(data), "block", cls.TAG, cls.VERSION, 2)
        header = BlockHeader.from_wire(f[0])
        txs = tuple(
            want_bytes(t, "tx", max_len=MAX_TX_BYTES + 1024) for t in want_list(f[1], "txs", MAX_BLOCK_TXS)
        )
        return cls(header=header, txs=txs)

    @classmethod
    def header_of(cls, data: bytes) -> BlockHeader:
        """The header of an encoded block, without decoding its transactions (a node reading its own
        stored bytes; to anyone else a header is only as good as the certificate over its hash)."""
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=len(data) + 1)
        unpacker.feed(data)
        try:
            if (
                unpacker.read_array_header() != 4
                or unpacker.unpack() != cls.TAG
                or unpacker.unpack() != cls.VERSION
            ):
                raise DecodeError("not an encoded block")
            fields = unpacker.unpack()
        except (ValueError, msgpack.UnpackException) as exc:
            raise DecodeError(f"not an encoded block: {exc}") from exc
        return BlockHeader.from_wire(fields)

    @cached_property
    def hash(self) -> bytes:
        return self.header.hash

    def tx_root_ok(self) -> bool:
        return merkle_root(self.txs) == self.header.tx_root

    def transactions(self) -> list[SignedTransaction]:
        """Decode every transaction strictly (raises DecodeError on the first bad one)."""
        return [SignedTransaction.decode(t) for t in self.txs]


def commit_vote_bytes(height: int, view: int, block_hash: bytes) -> bytes:
    """The bytes a validator signs (domain `commit`) to commit `block_hash` at `height` in `view`."""
    return codec.encode_trusted([TAG_COMMIT_VOTE, 1, height, view, block_hash])


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitCertificate:
    TAG: ClassVar[int] = TAG_CERTIFICATE
    VERSION: ClassVar[int] = 1

    height: int
    view: int
    block_hash: bytes
    signatures: tuple[tuple[int, bytes], ...]

    def to_wire(self) -> list[Any]:
        return [
            self.TAG,
            self.VERSION,
            self.height,
            self.view,
            self.block_hash,
            [list(s) for s in self.signatures],
        ]

    def encode(self) -> bytes:
        return codec.encode_trusted(self.to_wire())

    @classmethod
    def from_wire(cls, value: Any) -> CommitCertificate:
        f = want_record(value, "certificate", cls.TAG, cls.VERSION, 4)
        sigs = []
        for item in want_list(f[3], "signatures", MAX_VALIDATORS):
            pair = want_list(item, "signature entry", 2)
            if len(pair) != 2:
                raise DecodeError("a signature entry is [validator_index, signature]", code="wrong_arity")
            sigs.append(
                (
                    want_int(pair[0], "validator_index", 0, MAX_VALIDATORS - 1),
                    want_bytes(pair[1], "signature", SIGNATURE_SIZE),
                )
            )
        indexes = [i for i, _ in sigs]
        if indexes != sorted(set(indexes)):
            raise DecodeError("signatures must be sorted by distinct validator index", code="non_canonical")
        return cls(
            height=_u64(f[0], "height"),
            view=_u64(f[1], "view"),
            block_hash=want_bytes(f[2], "block_hash", HASH_SIZE),
            signatures=tuple(sigs),
        )

    @classmethod
    def decode(cls, data: bytes) -> CommitCertificate:
        return cls.from_wire(codec.decode(data))


RECEIPT_ACCEPTED = "ACCEPTED"
RECEIPT_REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRef:
    alert_id: str
    rule_id: str
    colour: str

    def to_wire(self) -> list[Any]:
        return [self.alert_id, self.rule_id, self.colour]


@dataclass(frozen=True, slots=True, kw_only=True)
class ShadowVerdict:
    """What a rule running in shadow mode would have done (recorded, never enforced)."""

    rule_id: str
    colour: str
    disposition: str
    reason_code: str

    def to_wire(self) -> list[Any]:
        return [self.rule_id, self.colour, self.disposition, self.reason_code]


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    TAG: ClassVar[int] = TAG_RECEIPT
    VERSION: ClassVar[int] = 1

    tx_id: bytes
    status: str
    rule_id: str = ""
    reason_code: str = ""
    reason: str = ""
    alerts: tuple[AlertRef, ...] = ()
    writes: tuple[str, ...] = ()
    shadow: tuple[ShadowVerdict, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == RECEIPT_ACCEPTED

    def to_wire(self) -> list[Any]:
        return [
            self.TAG,
            self.VERSION,
            self.tx_id,
            self.status,
            self.rule_id,
            self.reason_code,
            self.reason,
            [a.to_wire() for a in self.alerts],
            list(self.writes),
            [s.to_wire() for s in self.shadow],
        ]

    def encode(self) -> bytes:
        return codec.encode_trusted(self.to_wire())

    def to_json(self) -> dict[str, Any]:
        """The receipt as the read API renders it (and the SDK recomputes it from proven bytes)."""
        return {
            "tx_id": self.tx_id.hex(),
            "status": self.status,
            "rule_id": self.rule_id,
            "reason_code": self.reason_code,
            "reason": self.reason,
            "alerts": [
                {"alert_id": a.alert_id, "rule_id": a.rule_id, "colour": a.colour} for a in self.alerts
            ],
            "writes": list(self.writes),
            "shadow": [
                {
                    "rule_id": v.rule_id,
                    "colour": v.colour,
                    "disposition": v.disposition,
                    "reason_code": v.reason_code,
                }
                for v in self.shadow
            ],
            "receipt_bytes": self.encode().hex(),
        }

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        f = want_record(codec.decode(data), "receipt", cls.TAG, cls.VERSION, 8)
        status = want_str(f[1], "status", 16)
        if status not in (RECEIPT_ACCEPTED, RECEIPT_REJECTED):
            raise DecodeError(f"unknown receipt status {status!r}", code="out_of_range")
        alerts = []
        for a in want_list(f[5], "alerts", MAX_RECEIPT_ITEMS):
            a = want_list(a, "alert", 3)
            if len(a) != 3:
                raise DecodeError("an alert ref is [alert_id, rule_id, colour]", code="wrong_arity")
            alerts.append(
                AlertRef(
                    alert_id=want_str(a[0], "alert_id", MAX_ID_LEN),
                    rule_id=want_str(a[1], "rule_id", 32),
                    colour=want_str(a[2], "colour", 16),
                )
            )
        shadow = []
        for s in want_list(f[7], "shadow", MAX_RECEIPT_ITEMS):
            s = want_list(s, "shadow verdict", 4)
            if len(s) != 4:
                raise DecodeError("a shadow verdict has 4 fields", code="wrong_arity")
            shadow.append(
                ShadowVerdict(
                    rule_id=want_str(s[0], "rule_id", 32),
                    colour=want_str(s[1], "colour", 16),
                    disposition=want_str(s[2], "disposition", 16),
                    reason_code=want_str(s[3], "reason_code", 64),
                )
            )
        return cls(
            tx_id=want_bytes(f[0], "tx_id", HASH_SIZE),
            status=status,
            rule_id=want_str(f[2], "rule_id", 32),
            reason_code=want_str(f[3], "reason_code", 64),
            reason=want_str(f[4], "reason", 1024),
            alerts=tuple(alerts),
            writes=tuple(want_str(w, "write", 512) for w in want_list(f[6], "writes", 4 * MAX_RECEIPT_ITEMS)),
            shadow=tuple(shadow),
        )


def results_root(receipts: Sequence[Receipt]) -> bytes:
    return merkle_root([r.encode() for r in receipts])
