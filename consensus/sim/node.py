"""One simulated node: a replica, its disk, its chain, and the driver loop around them.

Rules (what the node's real driver does, in miniature):

- Actions are carried out in order; a `Persist` is a synced write; a committed block is stored with
  its certificate (synced) and executed with a fake deterministic state machine, then `Executed`
  is fed back with the validator epochs the block scheduled (`consensus/sim/reconfig.py`).
- A crash stops the node in the middle of an action list that writes (a crash point); a power
  loss also drops its unsynced writes. A restart rebuilds the chain and the epoch schedule from
  the disk and hands the replica its `RecoveredState`.
- Membership follows the replica's epoch: a node whose key left the set restarts with its next key
  if it was rotated, and stops for good if it was removed; a byzantine one does neither: it stays
  with its old key and keeps signing with it (a leaving validator that does not leave). A node
  whose key joined the set is a validator from then on.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any, Protocol

from consensus.actions import Action, Broadcast, Commit, Persist, RequestTransfer, Send
from consensus.config import RecoveredState, ReplicaConfig, SignerLike
from consensus.errors import ConsensusError
from consensus.events import Event, Executed, Tick
from consensus.quorum import VerifyFn
from consensus.replica import Replica
from consensus.sim.byzantine import Byzantine
from consensus.sim.checker import Checker
from consensus.sim.options import SimOptions
from consensus.sim.reconfig import SetSchedule
from consensus.sim.store import SimStore
from consensus.sim.workload import Workload
from wire.crypto import sha256
from wire.types import Block, CommitCertificate


class Simulation(Protocol):
    """What a node needs of the simulation around it (`consensus/sim/runner.py`)."""

    opts: SimOptions
    rng: random.Random
    checker: Checker
    workload: Workload
    verify_fn: VerifyFn
    genesis_hash: bytes
    genesis_time_ms: int
    genesis_state: bytes
    genesis_results: bytes
    tick: int
    crash_log: list[tuple[int, str]]
    crashes_done: int
    power_losses: int

    def new_schedule(self) -> SetSchedule: ...
    def replica_config(self) -> ReplicaConfig: ...
    def broadcast(self, src: SimNode, data: bytes) -> None: ...
    def send(self, src: SimNode, to: bytes, data: bytes) -> None: ...
    def transfer(self, src: SimNode, req: RequestTransfer) -> None: ...
    def note_commit(self, block: Block) -> None: ...
    def note_rotation(self, node: SimNode, old_key: bytes) -> None: ...


class SimNode:
    def __init__(
        self, sim: Simulation, inst: int, identity: int | None, signer: SignerLike | None, name: str
    ) -> None:
        self.sim = sim
        self.inst = inst
        self.identity = identity  # genesis validator index, spare id, or None for an observer
        self.signer = signer
        self.next_signers: list[SignerLike] = []  # keys it may be rotated to
        self.name = name
        self.store = SimStore()
        self.replica: Replica | None = None
        self.chain: list[tuple[Block, CommitCertificate]] = []
        self.state_roots: list[tuple[bytes, bytes]] = []
        self.schedule: SetSchedule = sim.new_schedule()
        self.byzantine: Byzantine | None = None
        self.honest = True
        self.skew_ms = 0
        self.crash_armed: bool | None = None  # None, or power_loss
        self.armed_at = 0
        self.down_until: int | None = None
        self.start_tick = 0
        self.member = False  # its key was in the set of the epoch its replica worked in
        self.gone = False  # removed from the validator set: stopped for good
        self.checked_nv: Any = None
        self.max_committed = 0
        self._depth = 0
        self._queue: deque[Event] = deque()

    @property
    def key(self) -> bytes | None:
        return None if self.signer is None else self.signer.public

    @property
    def up(self) -> bool:
        return self.replica is not None

    def current_replica(self) -> Replica | None:
        return self.replica

    def start(self) -> None:
        if self.gone:
            return
        sim = self.sim
        self._load_chain()
        recovered = self._recovered()
        self.replica = Replica(
            sim.replica_config(),
            self.signer,
            sim.workload.checker,
            recovered,
            verify_fn=sim.verify_fn,
            mutants=sim.opts.mutants,
        )
        if recovered is not None:
            sim.checker.on_restart(
                self.name,
                self.key if self.honest and self.identity is not None else None,
                self.max_committed,
                self.replica.committed_height,
                self.replica.epoch_start,
                self.replica.view,
            )
        self.member = self.key is not None and self.key in self.replica.validators.pubkeys
        for h in range(len(self.state_roots) + 1, len(self.chain) + 1):
            epochs = self._execute(h)
            roots = self.state_roots[-1]
            self.step(Executed(height=h, state_root=roots[0], results_root=roots[1], epochs=epochs))

    def _load_chain(self) -> None:
        raw = self.store.get(b"meta/height")
        height = int.from_bytes(raw, "big") if raw else 0
        if len(self.chain) != height:
            self.chain = []
            for h in range(1, height + 1):
                block = self.store.get(b"blk/" + h.to_bytes(8, "big"))
                cert = self.store.get(b"cert/" + h.to_bytes(8, "big"))
                if block is None or cert is None:
                    raise ConsensusError(f"{self.name}: block store lost height {h} below its marker")
                self.chain.append((Block.decode(block), CommitCertificate.decode(cert)))
        self.state_roots = []
        for h in range(1, height + 1):
            raw_roots = self.store.get(b"exec/" + h.to_bytes(8, "big"))
            if raw_roots is None:
                break
            self.state_roots.append((raw_roots[:32], raw_roots[32:]))
        # the epoch schedule is derived state: rebuilt from the executed blocks
        self.schedule = self.sim.new_schedule()
        for done, _ in self.chain[: len(self.state_roots)]:
            self.schedule.apply_block(done.header.height, done.txs)

    def _recovered(self) -> RecoveredState | None:
        entries = tuple(self.store.items_with_prefix(b"cs/"))
        if not self.chain and not entries:
            return None
        if self.chain:
            block, cert = self.chain[-1]
            last: tuple[int, bytes, int, CommitCertificate | None] = (
                block.header.height,
                block.hash,
                block.header.timestamp_ms,
                cert,
            )
        else:
            last = (0, self.sim.genesis_hash, self.sim.genesis_time_ms, None)
        executed = tuple((h + 1, s, r) for h, (s, r) in enumerate(self.state_roots))
        hashes = {b.header.height: b.hash for b, _ in self.chain}
        return RecoveredState(
            entries=entries,
            committed_height=last[0],
            committed_hash=last[1],
            committed_timestamp_ms=last[2],
            committed_certificate=last[3],
            executed=executed[-8:],
            recent_commits=tuple(self.chain[-self.sim.opts.params.watermark_window :]),
            epochs=self.schedule.infos(hashes),
        )

    def crash(self, power_loss: bool) -> None:
        self.sim.crash_log.append((self.sim.tick, self.name))
        self.replica = None
        self.crash_armed = None
        if power_loss:
            self.sim.power_losses += 1
            self.store.power_loss()
        self.sim.crashes_done += 1

    # ------------------------------------------------------------------ the driver
    def step(self, event: Event) -> None:
        """Feed `event`, then the `Executed` events it leads to, in order (the driver's queue)."""
        self._queue.append(event)
        if self._depth:
            return
        self._depth = 1
        try:
            while self._queue and self.replica is not None:
                self._step(self._queue.popleft())
        finally:
            self._depth = 0
            self._queue.clear()
        if self.replica is not None:
            self._follow_membership(self.replica)

    def _step(self, event: Event) -> None:
        replica = self.replica
        if replica is None:
            return
        actions = replica.step(event)
        if self.byzantine is not None:
            actions = self.byzantine.outgoing(actions, isinstance(event, Tick))
        cut = len(actions)
        if self.crash_armed is not None and any(isinstance(a, Persist) for a in actions):
            cut = self.sim.rng.randrange(len(actions) + 1)
        executed: list[tuple[int, Any]] = []
        for k, action in enumerate(actions):
            if k == cut:
                self.crash(bool(self.crash_armed))
                return
            self._carry_out(action, executed)
        if (
            cut == len(actions)
            and self.crash_armed is not None
            and actions
            and cut > 0
            and any(isinstance(a, Persist) for a in actions)
        ):
            self.crash(bool(self.crash_armed))
            return
        self._after_step(replica)
        for h, epochs in executed:
            roots = self.state_roots[h - 1]
            self._queue.append(Executed(height=h, state_root=roots[0], results_root=roots[1], epochs=epochs))

    def _after_step(self, replica: Replica) -> None:
        nv = replica.last_new_view
        if nv is not None and nv is not self.checked_nv and self.honest and replica.me is not None:
            self.checked_nv = nv
            self.sim.checker.on_new_view(self.name, nv, replica.q)

    def _follow_membership(self, replica: Replica) -> None:
        """Rotated out: restart with the next key. Removed: stop (honest) or haunt (byzantine)."""
        keys = replica.validators.pubkeys
        if self.key is not None and self.key in keys:
            self.member = True
            return
        if not self.member or self.signer is None:
            return
        old = self.signer
        previous = replica.epochs.at(replica.epoch_start - 1).validators
        old_index = previous.index_of(old.public) or 0
        nxt = next((s for s in self.next_signers if s.public in keys), None)
        if nxt is not None and self.byzantine is None:
            self.next_signers.remove(nxt)
            self.signer = nxt
            self.sim.note_rotation(self, old.public)
            self.replica = None
            self.start()  # a restart with the new key, as the real node does
            return
        self.member = False
        if self.byzantine is not None:
            self.byzantine.retire(old, old_index, old)
            return
        self.gone = True
        self.replica = None

    def _carry_out(self, action: Action, executed: list[tuple[int, Any]]) -> None:
        sim = self.sim
        key = self.key
        if isinstance(action, Persist):
            self.store.write(action.entries, sync=True)
        elif isinstance(action, Broadcast):
            if self.honest and key is not None:
                sim.checker.on_sent(self.name, key, action.data)
            sim.broadcast(self, action.data)
        elif isinstance(action, Send):
            if self.honest and key is not None:
                sim.checker.on_sent(self.name, key, action.data)
            sim.send(self, action.to, action.data)
        elif isinstance(action, Commit):
            self._commit(action.block, action.certificate)
            h = action.block.header.height
            executed.append((h, self._execute(h)))
        elif isinstance(action, RequestTransfer):
            sim.transfer(self, action)

    def _commit(self, block: Block, cert: CommitCertificate) -> None:
        h = block.header.height
        prev = self.chain[-1][0] if self.chain else None
        if self.honest:
            self.sim.checker.on_commit(self.name, block, cert, prev)
            self.sim.note_commit(block)
        key = h.to_bytes(8, "big")
        self.store.write(
            [(b"blk/" + key, block.encode()), (b"cert/" + key, cert.encode()), (b"meta/height", key)],
            sync=True,
        )
        self.chain.append((block, cert))
        self.max_committed = max(self.max_committed, h)

    def _execute(self, h: int) -> Any:
        block = self.chain[h - 1][0]
        prev = (
            self.state_roots[-1] if self.state_roots else (self.sim.genesis_state, self.sim.genesis_results)
        )
        roots = (sha256(prev[0] + block.hash), sha256(prev[1] + block.header.tx_root))
        self.state_roots.append(roots)
        self.store.write([(b"exec/" + h.to_bytes(8, "big"), roots[0] + roots[1])], sync=False)
        return self.schedule.apply_block(h, block.txs)
