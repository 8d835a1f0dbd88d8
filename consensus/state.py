"""The replica's state and the helpers every protocol phase shares; the phases are mixins of it.

Rules:

- Everything here is plain data mutated only inside `Replica.step`; nothing reads a clock, a random
  source or the environment. Iteration is over dicts in insertion order or over sorted keys, so
  the same events always give the same actions.
- Own votes are persisted before they are sent: `_write` records go into the `Persist` that
  `Replica.step` puts first in its action list; `_delete` records go into a `Persist` put last.
- Per-sender and per-seq bounds keep every buffer finite under a flood (RELIABILITY S4, B9).
- Epochs (`consensus/epochs.py`): the replica works in one epoch at a time, `epoch_start`; its view,
  slots, VIEW-CHANGEs and NEW-VIEW are that epoch's, and it accepts PRE-PREPAREs and PREPAREs only
  for seqs in it (`in_window`). Peers are named by their public key; a message's validator index
  is an index into the set in force at the seq it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.actions import Action, Broadcast, Send
from consensus.config import ReplicaConfig, SignerLike, TxChecker
from consensus.epochs import Epoch, EpochTable
from consensus.errors import ConsensusError
from consensus.messages import (
    Checkpoint,
    CommittedProof,
    CommitVote,
    NewView,
    PreparedCert,
    PrePrepare,
    StableProof,
    ViewChange,
)
from consensus.quorum import Verifier, primary_of
from wire.crypto import Domain
from wire.types import Block, CommitCertificate

# Persisted keys (the consensus namespace the driver stores verbatim).
KEY_PREFIX = b"cs/"
KEY_VIEW = b"cs/view"  # [view, active, epoch start]: the highest view it entered in its epoch
KEY_VIEW_CHANGE = b"cs/vc"  # its latest VIEW-CHANGE
KEY_NEW_VIEW = b"cs/nv"  # the NEW-VIEW it installed (or, as primary, sent) for its view
KEY_STABLE = b"cs/stable"  # its last stable checkpoint proof (the low watermark)
SLOT_PREFIX = b"cs/slot/"  # + seq (8 bytes BE): [view, pre-prepare, own prepare, own commit]
PREPARED_PREFIX = b"cs/pc/"  # + seq (8 bytes BE): its highest-view prepared certificate

MAX_BACKOFF_EXP = 3  # view-change timeouts double up to 8x the base, then stay there
MAX_BLOCKS_PER_SEQ = 4  # candidate blocks kept per seq from pre-prepares we could not accept yet
MAX_RECENT_COMMITTED = 65_536  # committed tx bytes remembered to refuse re-offered requests


def seq_key(prefix: bytes, seq: int) -> bytes:
    return prefix + seq.to_bytes(8, "big")


@dataclass(slots=True)
class Slot:
    """One seq in the current view: the accepted PRE-PREPARE and what this replica said about it."""

    pp: PrePrepare
    pp_bytes: bytes
    created_tick: int
    from_new_view: bool = False
    prepared: bool = False
    my_prepare: bytes | None = None
    my_commit: bytes | None = None

    @property
    def digest(self) -> bytes:
        return self.pp.digest


@dataclass(slots=True)
class Transfer:
    peer: bytes
    from_height: int
    to_height: int
    started_tick: int


@dataclass(slots=True)
class ChainTip:
    seq: int
    block_hash: bytes
    timestamp_ms: int


@dataclass(slots=True)
class ReplicaState:
    """All mutable state of one replica (see the phase mixins for who changes what)."""

    # ---- the chain as this replica has committed and executed it
    committed_height: int
    committed_hash: bytes
    committed_ts: int
    committed_cert: CommitCertificate | None
    executed_height: int = 0
    last_tx_height: int = 0  # the last committed block that carried transactions (for sealing)
    roots: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    committed_hashes: dict[int, bytes] = field(default_factory=dict)
    # ---- the epoch this replica works in (its start height) and its view
    epoch_start: int = 1
    view: int = 0
    active: bool = True
    # The highest view this replica entered (persisted in `cs/view`). Below it, the replica only
    # follows the network's view and signs no PRE-PREPARE, PREPARE or COMMIT (view_change.py).
    entered_view: int = 0
    view_floor: int = 0  # the NEW-VIEW's base: seqs at or below it are not proposed in this view
    floor_hash: bytes = b""
    new_view: NewView | None = None
    new_view_bytes: bytes = b""
    slots: dict[int, Slot] = field(default_factory=dict)
    waiting_pps: dict[int, PrePrepare] = field(default_factory=dict)
    prepare_votes: dict[int, dict[int, tuple[bytes, bytes]]] = field(default_factory=dict)
    prepared_certs: dict[int, PreparedCert] = field(default_factory=dict)
    # ---- commit certificates and the blocks they name (any view)
    commit_votes: dict[int, dict[int, CommitVote]] = field(default_factory=dict)
    certs: dict[int, CommitCertificate] = field(default_factory=dict)
    blocks: dict[int, dict[bytes, Block]] = field(default_factory=dict)
    fetched: dict[int, Block] = field(default_factory=dict)
    # ---- checkpoints
    stable_seq: int = 0
    stable_proof: StableProof | None = None
    commit_proofs: dict[int, CommittedProof] = field(default_factory=dict)  # (stable, committed]
    persisted_seqs: set[int] = field(default_factory=set)  # seqs with slot/prepared records
    checkpoint_votes: dict[int, dict[int, Checkpoint]] = field(default_factory=dict)
    my_checkpoint: bytes | None = None
    my_checkpoint_seq: int = 0
    # ---- view change
    view_changes: dict[int, ViewChange] = field(default_factory=dict)  # latest per sender
    view_change_bytes: dict[int, bytes] = field(default_factory=dict)
    my_view_change: bytes | None = None
    vc_timer_start: int | None = None
    backoff_exp: int = 0
    last_progress_tick: int = 0
    # ---- requests
    pending: dict[bytes, int] = field(default_factory=dict)  # tx -> arrival tick, FIFO
    recent_committed: dict[bytes, None] = field(default_factory=dict)
    # ---- catch-up (peers by public key)
    target_height: int = 0
    peer_proven: dict[bytes, int] = field(default_factory=dict)
    peer_hints: dict[bytes, int] = field(default_factory=dict)  # certificates of epochs not yet known
    peer_heights: dict[bytes, int] = field(default_factory=dict)  # claimed in STATUS: a hint only
    stuck_peers: set[bytes] = field(default_factory=set)
    peer_views: dict[bytes, tuple[int, bool]] = field(default_factory=dict)  # (view, active) in STATUS
    transfer: Transfer | None = None
    transfer_attempt: int = 0
    behind_since: int | None = None
    # ---- clock
    tick: int = 0
    now_ms: int | None = None


class ReplicaBase:
    """Configuration, shared helpers and the hooks the phase mixins provide to each other."""

    cfg: ReplicaConfig
    st: ReplicaState
    epochs: EpochTable
    epoch: Epoch
    verifier: Verifier
    signer: SignerLike | None
    my_key: bytes | None
    tx_checker: TxChecker
    me: int | None
    n: int
    f: int
    q: int
    mutants: frozenset[str]
    stats: dict[str, int]
    _out: list[Action]
    _writes: dict[bytes, bytes | None]
    _deletes: list[bytes]

    # ------------------------------------------------------------------ identity and parameters
    @property
    def is_validator(self) -> bool:
        return self.me is not None

    def primary(self, view: int) -> int:
        return primary_of(view, self.n)

    @property
    def is_primary(self) -> bool:
        return self.me is not None and self.primary(self.st.view) == self.me

    @property
    def muted(self) -> bool:
        """Following a view below the one this replica announced a VIEW-CHANGE for: no votes here."""
        return self.st.view < self.st.entered_view

    @property
    def window(self) -> int:
        return self.cfg.params.watermark_window

    @property
    def retransmit_ticks(self) -> int:
        return max(2, self.cfg.params.view_change_timeout_ticks // 4)

    @property
    def floor(self) -> int:
        """The base of the current epoch: its start - 1 (what "no stable checkpoint" means)."""
        return self.st.epoch_start - 1

    @property
    def low(self) -> int:
        """The low watermark: the stable checkpoint, or the epoch's base when that is higher."""
        return max(self.st.stable_seq, self.floor)

    def known(self, seq: int) -> bool:
        """Whether the validator set of `seq` is fixed (see consensus/epochs.py)."""
        return self.epochs.known(seq, self.st.executed_height)

    def epoch_of(self, seq: int) -> Epoch | None:
        return self.epochs.at(seq) if self.known(seq) else None

    def verifier_for(self, seq: int) -> Verifier | None:
        ep = self.epoch_of(seq)
        return None if ep is None else ep.verifier

    def in_epoch(self, seq: int) -> bool:
        """`seq` lies in the epoch this replica works in (and that is known)."""
        ep = self.epoch_of(seq)
        return ep is not None and ep.start == self.st.epoch_start

    def in_window(self, seq: int) -> bool:
        low = self.low
        return low < seq <= low + self.window and self.in_epoch(seq)

    def sender_is(self, index: int, sender: bytes, seq: int | None = None) -> bool:
        """`sender` holds validator `index` (of the current epoch, or of the set of `seq`)."""
        if self.key_of(index, seq) == sender:
            return True
        verifier = self.verifier if seq is None else self.epochs.at(seq).verifier
        alt = verifier.alt_pubkeys  # the accept_rotated_key mutant only
        return index < len(alt) and alt[index] == sender

    def key_of(self, index: int, seq: int | None = None) -> bytes | None:
        """The public key of validator `index` in the current epoch (or in the set of `seq`)."""
        validators = self.epoch.validators if seq is None else self.epochs.at(seq).validators
        return validators.pubkeys[index] if 0 <= index < validators.n else None

    # ------------------------------------------------------------------ effects
    def _count(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1

    def _sign(self, domain: Domain, payload: bytes) -> bytes:
        signer = self.signer
        if signer is None or self.me is None:
            raise ConsensusError("an observer never signs")
        return signer.sign(domain, self.cfg.chain_id, payload)

    def _write(self, key: bytes, value: bytes) -> None:
        self._writes[key] = value

    def _delete(self, key: bytes) -> None:
        self._deletes.append(key)

    def _broadcast(self, data: bytes) -> None:
        self._out.append(Broadcast(data=data))

    def _send(self, to: bytes, data: bytes) -> None:
        self._out.append(Send(to=to, data=data))

    # ------------------------------------------------------------------ hooks (provided by mixins)
    def _try_commit(self) -> None:
        raise NotImplementedError

    def _try_propose(self) -> None:
        raise NotImplementedError

    def _send_commits(self) -> None:
        raise NotImplementedError

    def _retry_waiting(self) -> None:
        raise NotImplementedError

    def _accept_slot(self, pp: PrePrepare, *, from_new_view: bool) -> None:
        raise NotImplementedError

    def _remember_block(self, seq: int, block: Block) -> None:
        raise NotImplementedError

    def _start_view_change(self, new_view: int) -> None:
        raise NotImplementedError

    def _maybe_follow(self) -> None:
        raise NotImplementedError

    def _note_certified(self, height: int, peer: bytes | None) -> None:
        raise NotImplementedError

    def _persist_view(self) -> None:
        raise NotImplementedError

    def _note_stable_elsewhere(self, proof: StableProof) -> None:
        raise NotImplementedError

    def _collect_garbage(self, stable: int) -> None:
        raise NotImplementedError

    def _restart_request_timers(self) -> None:
        raise NotImplementedError

    def _request_timer_expired(self) -> bool:
        raise NotImplementedError
