"""What a replica is built from: its configuration, its signer, and what it recovers after a restart.

Rules:

- `ReplicaConfig` is fixed for the life of a replica: `validators` is the genesis set (the first
  epoch, from height 1). Later sets come from the ledger: the driver reports the epochs a block
  scheduled (`Executed.epochs`) and hands back every known one after a restart
  (`RecoveredState.epochs`); `consensus/epochs.py` says when each is in force.
- A replica's identity is its signer's key: it is a validator in the epochs whose set holds that
  key (at that epoch's index), an observer in the others. `my_index`, when given, must be the
  key's index in the genesis set (a check, not a choice).
- `RecoveredState` is what the driver hands back after a restart: every persisted consensus entry
  (keys starting `b"cs/"`, values verbatim), the last committed block (height, hash, timestamp and
  certificate, read from the block store), the last `watermark_window` committed blocks with their
  certificates, and the execution roots the driver knows. The replica
  never commits at or below `committed_height` again, and it restores its own persisted votes so
  it never signs a conflicting one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from wire.certificate import ValidatorSet
from wire.crypto import Domain
from wire.genesis import ConsensusParams
from wire.types import Block, CommitCertificate

TxChecker = Callable[[Sequence[bytes]], bool]
"""True when every encoded transaction is well-formed and validly signed (pure for the core)."""


class SignerLike(Protocol):
    """`wire.crypto.Signer` or anything with the same shape (the simulator's fast fake)."""

    @property
    def public(self) -> bytes: ...

    def sign(self, domain: Domain, chain_id: str, payload: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class EpochInfo:
    """A validator set in force from block `start`; `base_hash` is the hash of block `start - 1`
    when the driver knows it (it has the block), else empty."""

    start: int
    validators: ValidatorSet
    base_hash: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaConfig:
    """The chain, the validator set in force, the parameters and who this replica is.

    `my_index` is the signer's index in the genesis set, or None when it is not in it (an observer
    of the first epoch; a later epoch may make it a validator).
    The genesis values stand for "block 0": its hash, the roots carried by the first `exec_lag`
    blocks, and the lower bound for the first block's timestamp.
    """

    chain_id: str
    validators: ValidatorSet
    params: ConsensusParams
    my_index: int | None
    genesis_hash: bytes
    genesis_state_root: bytes
    genesis_results_root: bytes
    genesis_time_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveredState:
    """Everything the driver hands back after a restart (see the module docstring)."""

    entries: tuple[tuple[bytes, bytes], ...]
    committed_height: int
    committed_hash: bytes
    committed_timestamp_ms: int
    committed_certificate: CommitCertificate | None
    executed: tuple[tuple[int, bytes, bytes], ...] = ()
    """(height, state_root, results_root) for executed heights; at least the last `exec_lag`."""
    recent_commits: tuple[tuple[Block, CommitCertificate], ...] = ()
    """The last committed blocks with their certificates, in height order: at least those above the
    stable checkpoint (the last `watermark_window` always suffice); a VIEW-CHANGE reports them."""
    epochs: tuple[EpochInfo, ...] = ()
    """Every validator epoch after the first that the stored state holds (the ledger's
    `valset/epoch/` records up to the executed height), with the base block hash where stored."""
