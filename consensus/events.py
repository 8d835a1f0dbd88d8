"""What the driver feeds into `Replica.step`: frozen dataclasses, one per kind of input.

Rules:

- Events carry facts the core cannot get by itself: the wall clock (`Tick`), bytes from an
  authenticated peer (`MessageReceived`), admitted requests (`RequestsAvailable`), execution
  results (`Executed`) and catch-up answers (`BlocksFetched`). The core trusts the *driver*
  (local contract: a wrong `Executed` raises) and never trusts a *peer* (remote bytes are
  decoded, verified, and dropped and counted when bad).
- `sender` is the transport-authenticated identity of the peer: its node public key. The replica
  resolves it against the validator set of the epoch a message belongs to; votes from a key
  outside that set are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.config import EpochInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """One timer tick (every `ConsensusParams.tick_ms`); `now_ms` is the driver's wall clock.

    All timers count ticks; `now_ms` is used only for block timestamps and their drift check.
    """

    now_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived:
    """Consensus bytes from peer `sender` (its authenticated node public key)."""

    sender: bytes
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestsAvailable:
    """Encoded `SignedTransaction`s the node's mempool admitted (already signature-checked there).

    The core keeps them in a bounded pending queue, batches them into blocks when primary, and
    runs request timers on them so a primary that ignores them is replaced.
    """

    txs: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Executed:
    """The driver executed committed block `height`; these are the roots after it.

    Must be fed in height order, once per committed height, only for heights already committed.
    `epochs` are the validator epochs this block scheduled or changed (the ledger's
    `valset/epoch/` records it wrote), so the replica knows every set before it is in force.
    """

    height: int
    state_root: bytes
    results_root: bytes
    epochs: tuple[EpochInfo, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BlocksFetched:
    """The answer of peer `sender` to a `RequestTransfer`: (block bytes, certificate bytes) pairs.

    Nothing in it is trusted: every certificate is verified, blocks are buffered by their own
    certified height, and a useless answer makes the replica try another peer.
    """

    sender: bytes
    items: tuple[tuple[bytes, bytes], ...]


Event = Tick | MessageReceived | RequestsAvailable | Executed | BlocksFetched
