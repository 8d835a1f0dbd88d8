"""The PBFT replica as a pure state machine: `Replica.step(event) -> list[Action]`.

Only the algorithm; IO is yours (etcd raft's contract). No IO, no clock, no randomness: the
node's driver and the deterministic simulator (`consensus.sim`) feed it events and carry out its
actions in order. Imports nothing of the project but `wire`. The protocol, its safety argument
and the scale figures are in docs/consensus.md.

Interface (stable; the node driver depends on exactly this):

    ReplicaConfig(chain_id: str, validators: ValidatorSet, params: ConsensusParams,
                  my_index: int | None, genesis_hash: bytes, genesis_state_root: bytes,
                  genesis_results_root: bytes, genesis_time_ms: int)  # validators: the genesis set
    EpochInfo(start: int, validators: ValidatorSet, base_hash: bytes = b"")   # a later set
    RecoveredState(entries: tuple[tuple[bytes, bytes], ...], committed_height: int,
                   committed_hash: bytes, committed_timestamp_ms: int,
                   committed_certificate: CommitCertificate | None,
                   executed: tuple[tuple[int, bytes, bytes], ...] = (),
                   recent_commits: tuple[tuple[Block, CommitCertificate], ...] = (),
                   epochs: tuple[EpochInfo, ...] = ())
    Replica(config, signer: wire.crypto.Signer | None, tx_checker: Callable[[Sequence[bytes]], bool],
            recovered: RecoveredState | None = None)   # a validator in the epochs holding its key
    Replica.step(event) -> list[Action];  Replica.stats: dict[str, int] (drop/misbehaviour counters)

Events: Tick(now_ms) · MessageReceived(sender: node public key, data) · RequestsAvailable(txs) ·
Executed(height, state_root, results_root, epochs) · BlocksFetched(sender: public key, items).

Validator-set epochs: `Executed.epochs` reports what a block scheduled (the ledger's
`valset/epoch/` records it wrote); a set change executed at h is in force from
`wire.epochs.epoch_start(h, K, exec_lag)`, and the replica moves into it once it committed the
block before it (consensus/epochs.py, docs/consensus.md).

Persisted keys all start with b"cs/": cs/view, cs/vc, cs/nv, cs/stable, cs/slot/<seq>, cs/pc/<seq>
(docs/consensus.md says what each holds). After a restart hand back every entry, the last
committed block's height/hash/timestamp/certificate, the last `watermark_window` committed blocks
with certificates, and the execution roots known; then execute committed-but-unexecuted blocks.

Actions, carried out strictly in list order:

- Persist(entries): write atomically and durably (sync) BEFORE any later action of the list; a
  None value deletes. Keys all start with b"cs/"; hand every one back in RecoveredState.entries.
- Send(to: public key, data) / Broadcast(data): best effort (Broadcast = every linked peer).
- Commit(block, certificate): exactly once per height, in height order; store both durably, then
  execute and feed back Executed(height, ...) in height order.
- RequestTransfer(peer: public key, from_height, to_height): ask the peer's block store; answer with
  BlocksFetched (any subset, or nothing).
- RequestsDropped(txs, reason): requests refused by the checker ("refused") or not queued
  ("queue_full"); the node evicts refused ones from its mempool, no ordering duty.
"""

from consensus.actions import (
    Action,
    Broadcast,
    Commit,
    Persist,
    RequestsDropped,
    RequestTransfer,
    Send,
)
from consensus.config import EpochInfo, RecoveredState, ReplicaConfig, SignerLike, TxChecker
from consensus.errors import ConsensusError, invariant
from consensus.events import BlocksFetched, Event, Executed, MessageReceived, RequestsAvailable, Tick
from consensus.replica import Replica

__all__ = [
    "Action",
    "BlocksFetched",
    "Broadcast",
    "Commit",
    "ConsensusError",
    "EpochInfo",
    "Event",
    "Executed",
    "MessageReceived",
    "Persist",
    "RecoveredState",
    "Replica",
    "ReplicaConfig",
    "RequestTransfer",
    "RequestsAvailable",
    "RequestsDropped",
    "Send",
    "SignerLike",
    "Tick",
    "TxChecker",
    "invariant",
]
