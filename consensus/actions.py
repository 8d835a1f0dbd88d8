"""What `Replica.step` asks the driver to do: frozen dataclasses, carried out strictly in list order.

The ordering duty of each action is in its docstring. The one that matters most: a `Persist` is
durable (LevelDB `write_batch(sync=True)`) before any later action of the same list is carried
out, because the replica emits its own votes only after persisting them; a driver that sends
first can make an honest replica equivocate after a crash.

Within one list the replica emits: one `Persist` of new records first (if any), then sends,
commits and transfer requests in the order they happened, then (if any) one `Persist` that only
deletes records made obsolete by the commits before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.types import Block, CommitCertificate


@dataclass(frozen=True, slots=True, kw_only=True)
class Persist:
    """Write these key/values atomically and durably (sync); a value of None deletes the key.

    Keys live in the consensus namespace (all start with `b"cs/"`); the driver stores them
    verbatim and hands all of them back in `RecoveredState.entries` after a restart. Durable
    BEFORE any later action in the same list is carried out.
    """

    entries: tuple[tuple[bytes, bytes | None], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Send `data` to the node whose public key is `to` (best effort; the replica retransmits).

    Carry out only after every earlier `Persist` in the list is durable.
    """

    to: bytes
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Broadcast:
    """Send `data` to every other validator and to every observer (best effort).

    Carry out only after every earlier `Persist` in the list is durable.
    """

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """`block` is committed at `block.header.height`, proven by `certificate`.

    Emitted exactly once per height, in height order (also across restarts: the replica starts
    after `RecoveredState.committed_height`). The driver stores block and certificate durably,
    executes the block and later feeds back `Executed`; a later `Persist` in the same list may
    delete records that only this commit made obsolete, so store the block first.
    """

    block: Block
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestTransfer:
    """Ask the node with public key `peer` for committed blocks `from_height..to_height` (inclusive) with their
    certificates; answer with `BlocksFetched`. No answer, or a partial one, is fine: the replica
    times out and asks another peer.
    """

    peer: bytes
    from_height: int
    to_height: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestsDropped:
    """The replica dropped these requests (pending queue full, or refused by the tx checker).

    Informational: the mempool may forget or re-offer them later.
    """

    txs: tuple[bytes, ...]
    reason: str


Action = Persist | Send | Broadcast | Commit | RequestTransfer | RequestsDropped
