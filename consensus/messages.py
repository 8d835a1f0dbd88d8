"""Consensus messages and their canonical encodings (tags 32-38; `wire.types` uses 1-8).

Rules:

- Every message is a positional msgpack array `[tag, version, field...]` encoded with
  `wire.codec`; `decode_message` is strict (unknown tags, wrong arity, wrong types, trailing or
  non-canonical bytes raise `DecodeError`, which the replica counts and drops).
- Every vote is signed with its own `wire.crypto.Domain` over a payload that names its kind and
  version, so no signature can be replayed as another kind or on another chain:
  PRE-PREPARE `[32, 1, view, seq, digest]`, PREPARE `[33, 1, view, seq, digest]`, COMMIT
  `wire.types.commit_vote_bytes(seq, view, digest)` (so q COMMITs form a `CommitCertificate`),
  CHECKPOINT `[35, 1, seq, block_hash, state_root, results_root]`, VIEW-CHANGE and NEW-VIEW
  over their own encoding without the trailing signature field.
- The digest of a block is its hash (SHA-256 of the header); a block's body is bound to its
  header by `tx_root`, which every receiver checks (`block_body_ok`).
- STATUS is not signed: its only claim that matters is a commit certificate, which verifies
  itself; the rest are hints.
- VIEW-CHANGE, NEW-VIEW and STATUS name their validator epoch (its start height, version 2):
  views are numbered per epoch, so a view change of one epoch is never mistaken for another's.
- A NEW-VIEW (version 3) carries each block of its VIEW-CHANGEs once (`NewView`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wire import codec
from wire.codec import want_bytes, want_int, want_list, want_record
from wire.crypto import HASH_SIZE, SIGNATURE_SIZE
from wire.errors import DecodeError
from wire.merkle import merkle_root
from wire.types import MAX_VALIDATORS, Block, CommitCertificate, commit_vote_bytes

TAG_PRE_PREPARE = 32
TAG_PREPARE = 33
TAG_COMMIT = 34
TAG_CHECKPOINT = 35
TAG_VIEW_CHANGE = 36
TAG_NEW_VIEW = 37
TAG_STATUS = 38
VERSION = 1
VERSION_EPOCH = 2  # VIEW-CHANGE, NEW-VIEW and STATUS: with the epoch start
VERSION_NEW_VIEW = 3  # NEW-VIEW: with its blocks in one table (NewView)

MAX_VIEW = 2**63 - 1
MAX_SEQ = 2**63 - 1
MAX_PREPARED = 1024  # entries in one VIEW-CHANGE; the replica also bounds them by its window
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def _view(v: Any, name: str = "view") -> int:
    return want_int(v, name, 0, MAX_VIEW)


def _seq(v: Any, name: str = "seq") -> int:
    return want_int(v, name, 0, MAX_SEQ)


def _replica(v: Any) -> int:
    return want_int(v, "replica", 0, MAX_VALIDATORS - 1)


def _hash(v: Any, name: str) -> bytes:
    return want_bytes(v, name, HASH_SIZE)


def _sig(v: Any) -> bytes:
    return want_bytes(v, "signature", SIGNATURE_SIZE)


def _sig_list(v: Any, name: str) -> tuple[tuple[int, bytes], ...]:
    out = []
    for item in want_list(v, name, MAX_VALIDATORS):
        pair = want_list(item, name, 2)
        if len(pair) != 2:
            raise DecodeError(f"{name}: an entry is [replica, signature]", code="wrong_arity")
        out.append((_replica(pair[0]), _sig(pair[1])))
    indexes = [i for i, _ in out]
    if indexes != sorted(set(indexes)):
        raise DecodeError(f"{name}: replicas must be distinct and sorted", code="non_canonical")
    return tuple(out)


def _block(value: Any, memo: dict[bytes, Block] | None = None) -> Block:
    """A block field; with `memo`, equal encodings (a NEW-VIEW's VIEW-CHANGEs report the same
    blocks) are decoded once."""
    raw = want_bytes(value, "block", max_len=MAX_MESSAGE_BYTES)
    if memo is None:
        return Block.decode(raw)
    block = memo.get(raw)
    if block is None:
        block = memo[raw] = Block.decode(raw)
    return block


def block_body_ok(block: Block) -> bool:
    """The body matches the header (the signed digest covers only the header)."""
    return merkle_root(block.txs) == block.header.tx_root


def pre_prepare_payload(view: int, seq: int, digest: bytes) -> bytes:
    return codec.encode_trusted([TAG_PRE_PREPARE, VERSION, view, seq, digest])


def prepare_payload(view: int, seq: int, digest: bytes) -> bytes:
    return codec.encode_trusted([TAG_PREPARE, VERSION, view, seq, digest])


def commit_payload(view: int, seq: int, digest: bytes) -> bytes:
    return commit_vote_bytes(seq, view, digest)


def checkpoint_payload(seq: int, block_hash: bytes, state_root: bytes, results_root: bytes) -> bytes:
    return codec.encode_trusted([TAG_CHECKPOINT, VERSION, seq, block_hash, state_root, results_root])


@dataclass(frozen=True, slots=True, kw_only=True)
class PrePrepare:
    """The primary of `view` assigns `block` (digest = block hash) to `seq`."""

    view: int
    seq: int
    block: Block
    signature: bytes

    @property
    def digest(self) -> bytes:
        return self.block.hash

    def to_wire(self) -> list[Any]:
        return [TAG_PRE_PREPARE, VERSION, self.view, self.seq, self.block.encode(), self.signature]

    def encode(self) -> bytes:
        return codec.encode_trusted(self.to_wire())

    @classmethod
    def from_wire(cls, value: Any) -> PrePrepare:
        f = want_record(value, "pre-prepare", TAG_PRE_PREPARE, VERSION, 4)
        return cls(view=_view(f[0]), seq=_seq(f[1]), block=_block(f[2]), signature=_sig(f[3]))


@dataclass(frozen=True, slots=True, kw_only=True)
class PrepareVote:
    view: int
    seq: int
    digest: bytes
    replica: int
    signature: bytes

    def to_wire(self) -> list[Any]:
        return [TAG_PREPARE, VERSION, self.view, self.seq, self.digest, self.replica, self.signature]

    def encode(self) -> bytes:
        return codec.encode_trusted(self.to_wire())

    @classmethod
    def from_wire(cls, value: Any) -> PrepareVote:
        f = want_record(value, "prepare", TAG_PREPARE, VERSION, 5)
        return cls(
            view=_view(f[0]),
            seq=_seq(f[1]),
            digest=_hash(f[2], "digest"),
            replica=_replica(f[3]),
            signature=_sig(f[4]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitVote:
    """The COMMIT message; its signature is a certificate signature (domain `commit`)."""

    view: int
    seq: int
    digest: bytes
    replica: int
    signature: bytes

    def to_wire(self) -> list[Any]:
        return [TAG_COMMIT, VERSION, self.view, self.seq, self.digest, self.replica, self.signature]

    def encode(self) -> bytes:
        return codec.encode_trusted(self.to_wire())

    @classmethod
    def from_wire(cls, value: Any) -> CommitVote:
        f = want_record(value, "commit", TAG_COMMIT, VERSION, 5)
        return cls(
            view=_view(f[0]),
            seq=_seq(f[1]),
            digest=_hash(f[2], "digest"),
            replica=_replica(f[3]),
            signature=_sig(f[4]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """`replica` executed up to `seq`: the block there and the roots after it."""

    seq: int
    block_hash: bytes
    state_root: bytes
    results_root: bytes
    replica: int
    signature: bytes

    def to_wire(self) -> list[Any]:
        return [
            TAG_CHECKPOINT,
            VERSION,
            self.seq,
            self.block_hash,
            self.state_root,
            self.results_root,
            self.replica,
            self.signature,
        ]

    def encode(self) -> bytes:
        return codec.encode_trusted(self.to_wire())

    @classmethod
    def from_wire(cls, value: Any) -> Checkpoint:
        f = want_record(value, "checkpoint", TAG_CHECKPOINT, VERSION, 6)
        return cls(
            seq=_seq(f[0]),
            block_hash=_hash(f[1], "block_hash"),
            state_root=_hash(f[2], "state_root"),
            results_root=_hash(f[3], "results_root"),
            replica=_replica(f[4]),
            signature=_sig(f[5]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedCert:
    """Proof that `block` was prepared at (`view`, `seq`): the primary's PRE-PREPARE signature and
    q-1 PREPARE signatures of distinct other replicas."""

    view: int
    seq: int
    block: Block
    pp_signature: bytes
    prepares: tuple[tuple[int, bytes], ...]

    @property
    def digest(self) -> bytes:
        return self.block.hash

    def to_wire(self) -> list[Any]:
        return [self.view, self.seq, self.block.encode(), self.pp_signature, [list(p) for p in self.prepares]]

    @classmethod
    def from_wire(cls, value: Any, memo: dict[bytes, Block] | None = None) -> PreparedCert:
        f = want_list(value, "prepared certificate", 5)
        if len(f) != 5:
            raise DecodeError("a prepared certificate has 5 fields", code="wrong_arity")
        return cls(
            view=_view(f[0]),
            seq=_seq(f[1]),
            block=_block(f[2], memo),
            pp_signature=_sig(f[3]),
            prepares=_sig_list(f[4], "prepares"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StableProof:
    """A stable checkpoint: q CHECKPOINT signatures on (seq, block hash, state root, results root)."""

    seq: int
    block_hash: bytes
    state_root: bytes
    results_root: bytes
    signatures: tuple[tuple[int, bytes], ...]

    def to_wire(self) -> list[Any]:
        return [
            self.seq,
            self.block_hash,
            self.state_root,
            self.results_root,
            [list(s) for s in self.signatures],
        ]

    @classmethod
    def from_wire(cls, value: Any) -> StableProof:
        f = want_list(value, "stable checkpoint", 5)
        if len(f) != 5:
            raise DecodeError("a stable checkpoint proof has 5 fields", code="wrong_arity")
        return cls(
            seq=_seq(f[0]),
            block_hash=_hash(f[1], "block_hash"),
            state_root=_hash(f[2], "state_root"),
            results_root=_hash(f[3], "results_root"),
            signatures=_sig_list(f[4], "checkpoint signatures"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CommittedProof:
    """A committed block with its commit certificate (evidence at least as strong as prepared)."""

    block: Block
    certificate: CommitCertificate

    @property
    def seq(self) -> int:
        return self.block.header.height

    @property
    def view(self) -> int:
        return self.certificate.view

    @property
    def digest(self) -> bytes:
        return self.block.hash

    def to_wire(self) -> list[Any]:
        return [self.block.encode(), self.certificate.to_wire()]

    @classmethod
    def from_wire(cls, value: Any, memo: dict[bytes, Block] | None = None) -> CommittedProof:
        f = want_list(value, "committed proof", 2)
        if len(f) != 2:
            raise DecodeError("a committed proof is [block, certificate]", code="wrong_arity")
        return cls(block=_block(f[0], memo), certificate=CommitCertificate.from_wire(f[1]))


@dataclass(frozen=True, slots=True, kw_only=True)
class ViewChange:
    """`replica` leaves its view for `view` in the epoch starting at `epoch`: its last stable
    checkpoint (None = the epoch's base) and, for each seq above it, its best evidence: a commit
    certificate with the block if it committed the seq, else its highest-view prepared
    certificate (Castro-Liskov §4.4's C and P sets)."""

    view: int
    epoch: int
    replica: int
    checkpoint: StableProof | None
    committed: tuple[CommittedProof, ...]
    prepared: tuple[PreparedCert, ...]
    signature: bytes

    @property
    def stable_seq(self) -> int:
        return 0 if self.checkpoint is None else self.checkpoint.seq

    def body_wire(self) -> list[Any]:
        return [
            TAG_VIEW_CHANGE,
            VERSION_EPOCH,
            self.view,
            self.epoch,
            self.replica,
            None if self.checkpoint is None else self.checkpoint.to_wire(),
            [c.to_wire() for c in self.committed],
            [p.to_wire() for p in self.prepared],
        ]

    def payload(self) -> bytes:
        return codec.encode_trusted(self.body_wire())

    def to_wire(self) -> list[Any]:
        return [*self.body_wire(), self.signature]

    def encode(self) -> bytes:
        return codec.encode_trusted(self.to_wire())

    @classmethod
    def from_wire(cls, value: Any, memo: dict[bytes, Block] | None = None) -> ViewChange:
        f = want_record(value, "view-change", TAG_VIEW_CHANGE, VERSION_EPOCH, 7)
        return cls(
            view=_view(f[0]),
            epoch=_seq(f[1], "epoch"),
            replica=_replica(f[2]),
            checkpoint=None if f[3] is None else StableProof.from_wire(f[3]),
            committed=tuple(
                CommittedProof.from_wire(c, memo) for c in want_list(f[4], "committed", MAX_PREPARED)
            ),
            prepared=tuple(
                PreparedCert.from_wire(p, memo) for p in want_list(f[5], "prepared", MAX_PREPARED)
            ),
            signature=_sig(f[6]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Reproposal:
    """One entry of a NEW-VIEW's O set: the new primary's PRE-PREPARE signature for (view, seq, digest)."""

    seq: int
    digest: bytes
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class NewView:
    """The primary of `view` (of the epoch starting at `epoch`) starts it: q VIEW-CHANGEs for
    `view` and the re-proposals (O set) that every backup recomputes from them.

    Encoded (version 3) with each distinct block once: the VIEW-CHANGEs mostly report the same
    blocks, and carrying them q times made a NEW-VIEW over a window of full blocks larger than a
    p2p frame. `[37, 3, view, epoch, replica, blocks, view_changes, reproposals, signature]`:
    `blocks` the encoded blocks in order of first mention, each VIEW-CHANGE as its own encoding
    with every block replaced by its index in `blocks` (its signature still covers the blocks).
    Version 2 (every VIEW-CHANGE whole, an older node's) still decodes, and re-encodes as itself
    (`blocks_inline`)."""

    view: int
    epoch: int
    replica: int
    view_changes: tuple[ViewChange, ...]
    reproposals: tuple[Reproposal, ...]
    signature: bytes
    blocks_inline: bool = False

    def body_wire(self) -> list[Any]:
        reps = [[r.seq, r.digest, r.signature] for r in self.reproposals]
        head = [TAG_NEW_VIEW, VERSION_EPOCH if self.blocks_inline else VERSION_NEW_VIEW]
        head += [self.view, self.epoch, self.replica]
        if self.blocks_inline:
            return [*head, [vc.to_wire() for vc in self.view_changes], reps]
        table: dict[bytes, int] = {}
        vcs = [_blocks_to_refs(vc.to_wire(), table) for vc in self.view_changes]
        return [*head, list(table), vcs, reps]

    def payload(self) -> bytes:
        return codec.encode_trusted(self.body_wire())

    def to_wire(self) -> list[Any]:
        return [*self.body_wire(), self.signature]

    def encode(self) -> bytes:
        return codec.encode_trusted(self.to_wire())

    @classmethod
    def from_wire(cls, value: Any) -> NewView:
        inline = type(value) is list and len(value) > 1 and value[1] == VERSION_EPOCH
        if inline:
            f = want_record(value, "new-view", TAG_NEW_VIEW, VERSION_EPOCH, 6)
            vc_values, rep_value, sig_value = want_list(f[3], "view_changes", MAX_VALIDATORS), f[4], f[5]
        else:
            f = want_record(value, "new-view", TAG_NEW_VIEW, VERSION_NEW_VIEW, 7)
            blocks = [
                want_bytes(b, "block", max_len=MAX_MESSAGE_BYTES)
                for b in want_list(f[3], "blocks", MAX_VALIDATORS * MAX_PREPARED)
            ]
            vc_values = _refs_to_blocks(want_list(f[4], "view_changes", MAX_VALIDATORS), blocks)
            rep_value, sig_value = f[5], f[6]
        memo: dict[bytes, Block] = {}
        reps = []
        for item in want_list(rep_value, "reproposals", MAX_PREPARED):
            r = want_list(item, "reproposal", 3)
            if len(r) != 3:
                raise DecodeError("a reproposal is [seq, digest, signature]", code="wrong_arity")
            reps.append(Reproposal(seq=_seq(r[0]), digest=_hash(r[1], "digest"), signature=_sig(r[2])))
        return cls(
            view=_view(f[0]),
            epoch=_seq(f[1], "epoch"),
            replica=_replica(f[2]),
            view_changes=tuple(ViewChange.from_wire(v, memo) for v in vc_values),
            reproposals=tuple(reps),
            signature=_sig(sig_value),
            blocks_inline=inline,
        )


# Where a VIEW-CHANGE's encoding holds blocks: [36, 2, view, epoch, replica, checkpoint,
# committed ([block, certificate] each), prepared ([view, seq, block, signature, prepares] each),
# signature].
_VC_COMMITTED, _VC_PREPARED, _VC_LEN = 6, 7, 9
_COMMITTED_BLOCK, _PREPARED_BLOCK = 0, 2


def _blocks_to_refs(vc: list[Any], table: dict[bytes, int]) -> list[Any]:
    """A VIEW-CHANGE's encoding with each block replaced by its index in `table` (added when new)."""

    def ref(entry: list[Any], at: int) -> list[Any]:
        index = table.setdefault(entry[at], len(table))
        return [*entry[:at], index, *entry[at + 1 :]]

    out = list(vc)
    out[_VC_COMMITTED] = [ref(c, _COMMITTED_BLOCK) for c in vc[_VC_COMMITTED]]
    out[_VC_PREPARED] = [ref(pc, _PREPARED_BLOCK) for pc in vc[_VC_PREPARED]]
    return out


def _refs_to_blocks(vcs: list[Any], blocks: list[bytes]) -> list[Any]:
    """The VIEW-CHANGE encodings with their block indexes resolved; the table must be canonical
    (each block once, in order of first mention, none unused), so that encode(decode(b)) == b.
    Anything else malformed is left for ViewChange.from_wire to name."""
    mentioned = 0  # the table entries mentioned so far: a new mention must be the next one

    def resolve(entry: Any, at: int) -> Any:
        nonlocal mentioned
        if type(entry) is not list or len(entry) <= at:
            return entry
        index = want_int(entry[at], "block index", 0, MAX_VALIDATORS * MAX_PREPARED)
        if index > mentioned or index >= len(blocks):
            raise DecodeError("a NEW-VIEW block index out of order or range", code="non_canonical")
        mentioned = max(mentioned, index + 1)
        return [*entry[:at], blocks[index], *entry[at + 1 :]]

    out = []
    for vc in vcs:
        if type(vc) is list and len(vc) == _VC_LEN:
            vc = list(vc)
            for field_at, block_at in ((_VC_COMMITTED, _COMMITTED_BLOCK), (_VC_PREPARED, _PREPARED_BLOCK)):
                vc[field_at] = [
                    resolve(e, block_at) for e in want_list(vc[field_at], "entries", MAX_PREPARED)
                ]
        out.append(vc)
    if mentioned != len(blocks) or len(set(blocks)) != len(blocks):
        raise DecodeError("a NEW-VIEW's block table is not each mentioned block once", code="non_canonical")
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """A periodic hint: the sender's view and its committed height, proven by a certificate.

    The certificate travels encoded (b"" at height 0) and is decoded only by a receiver that is
    behind: most STATUS messages are read for their view and height alone.
    """

    replica: int
    view: int
    active: bool
    committed_height: int
    certificate: bytes
    stable_seq: int
    epoch: int = 1

    def to_wire(self) -> list[Any]:
        return [
            TAG_STATUS,
            VERSION_EPOCH,
            self.replica,
            self.epoch,
            self.view,
            self.active,
            self.committed_height,
            self.certificate,
            self.stable_seq,
        ]

    def encode(self) -> bytes:
        return codec.encode_trusted(self.to_wire())

    @classmethod
    def from_wire(cls, value: Any) -> Status:
        f = want_record(value, "status", TAG_STATUS, VERSION_EPOCH, 7)
        if type(f[3]) is not bool:
            raise DecodeError("status.active: expected bool", code="wrong_type")
        return cls(
            replica=_replica(f[0]),
            epoch=_seq(f[1], "epoch"),
            view=_view(f[2]),
            active=f[3],
            committed_height=_seq(f[4], "committed_height"),
            certificate=want_bytes(f[5], "certificate", max_len=MAX_VALIDATORS * 80 + 128),
            stable_seq=_seq(f[6], "stable_seq"),
        )


Message = PrePrepare | PrepareVote | CommitVote | Checkpoint | ViewChange | NewView | Status

_DECODERS: dict[int, Any] = {
    TAG_PRE_PREPARE: PrePrepare.from_wire,
    TAG_PREPARE: PrepareVote.from_wire,
    TAG_COMMIT: CommitVote.from_wire,
    TAG_CHECKPOINT: Checkpoint.from_wire,
    TAG_VIEW_CHANGE: ViewChange.from_wire,
    TAG_NEW_VIEW: NewView.from_wire,
    TAG_STATUS: Status.from_wire,
}

_LIMITS = codec.Limits(max_bytes=MAX_MESSAGE_BYTES, max_bin_len=MAX_MESSAGE_BYTES)


def decode_message(data: bytes) -> Message:
    """Decode one consensus message strictly; raise DecodeError for anything else."""
    value = codec.decode(data, _LIMITS)
    if type(value) is not list or not value or type(value[0]) is not int:
        raise DecodeError("a consensus message is a tagged record", code="wrong_type")
    decoder = _DECODERS.get(value[0])
    if decoder is None:
        raise DecodeError(f"unknown consensus message tag {value[0]!r}", code="unknown_tag")
    msg: Message = decoder(value)
    return msg


def message_tag(data: bytes) -> int | None:
    """The tag of an encoded message without decoding it (msgpack fixarray + positive fixint)."""
    if len(data) >= 2 and 0x90 <= data[0] <= 0x9F and data[1] < 0x80:
        return data[1]
    return None
