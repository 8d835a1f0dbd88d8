"""One simulation run: the cluster, its faults, the checkers and the two phases.

Phases (VOPR, Vortex): a *safety* phase of `safety_ticks` with every fault the seed chose, the
checkers running on every step; then a *liveness* phase: the network heals, every crashed node
restarts, at most f identities stay faulty, and every transaction a client submitted must be
committed by every honest validator and observer within `liveness_ticks`; then every correct
validator must be active in one view within two view-change timeouts (issue 18.8).

The driver here does what the node's driver does: it carries out actions in order (a `Persist` is
a synced write), stores committed blocks with their certificates, executes them with a fake
deterministic state machine (state_root(h) = sha256(state_root(h-1) || block_hash)), feeds back
`Executed`, and answers `RequestTransfer` from the peer's block store. A crash stops a node in
the middle of an action list that writes (a crash point); a power loss also drops its unsynced
writes.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

from consensus.actions import Action, Broadcast, Commit, Persist, RequestTransfer, Send
from consensus.config import RecoveredState, ReplicaConfig, SignerLike
from consensus.errors import ConsensusError
from consensus.events import BlocksFetched, Event, Executed, MessageReceived, RequestsAvailable, Tick
from consensus.quorum import VerifyFn
from consensus.replica import Replica
from consensus.sim.byzantine import Byzantine
from consensus.sim.checker import Checker
from consensus.sim.crypto import FakeSigner, FakeVerifier, real_signers
from consensus.sim.network import SimNetwork
from consensus.sim.options import SimOptions
from consensus.sim.store import SimStore
from consensus.sim.workload import Workload
from wire.certificate import ValidatorSet
from wire.crypto import sha256, verify
from wire.types import Block, CommitCertificate

CHAIN_ID = "sim"
GENESIS_TIME_MS = 1_700_000_000_000
DELIVER, FETCHED, REQUESTS = 0, 1, 2


@dataclass(slots=True)
class Result:
    seed: int
    violations: list[str]
    liveness_failure: str | None
    committed_blocks: int
    ticks: int
    messages: int
    bytes: int
    view_changes: int
    max_view: int
    commit_latency_ms: list[float] = field(default_factory=list)  # per transaction, simulated time
    converge_ticks: int | None = None  # from "every request committed" to one active view everywhere
    view_at_heal: int = 0  # the highest view of a correct validator when the network healed

    @property
    def ok(self) -> bool:
        return not self.violations and self.liveness_failure is None


class SimNode:
    """One instance: a replica, its disk, its chain, and the driver loop around them."""

    def __init__(self, sim: Simulation, inst: int, index: int | None, signer: SignerLike | None) -> None:
        self.sim = sim
        self.inst = inst
        self.index = index
        self.signer = signer
        self.name = f"v{index}" if index is not None else f"o{inst}"
        self.store = SimStore()
        self.replica: Replica | None = None
        self.chain: list[tuple[Block, CommitCertificate]] = []
        self.state_roots: list[tuple[bytes, bytes]] = []
        self.byzantine: Byzantine | None = None
        self.honest = True
        self.skew_ms = 0
        self.crash_armed: bool | None = None  # None, or power_loss
        self.armed_at = 0
        self.down_until: int | None = None
        self.checked_nv: Any = None
        self.max_committed = 0

    @property
    def up(self) -> bool:
        return self.replica is not None

    def start(self) -> None:
        sim = self.sim
        cfg = sim.replica_config(self.index)
        self._load_chain()
        recovered = self._recovered()
        self.replica = Replica(
            cfg,
            self.signer,
            sim.workload.checker,
            recovered,
            verify_fn=sim.verify_fn,
            mutants=sim.opts.mutants,
        )
        if recovered is not None:
            sim.checker.on_restart(
                self.name,
                self.index if self.honest else None,
                self.max_committed,
                self.replica.committed_height,
                self.replica.view,
            )
        executed = len(self.state_roots)
        for h in range(executed + 1, len(self.chain) + 1):
            self._execute(h)
            self.step(
                Executed(height=h, state_root=self.state_roots[-1][0], results_root=self.state_roots[-1][1])
            )

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
            last = (0, self.sim.genesis_hash, GENESIS_TIME_MS, None)
        executed = tuple((h + 1, s, r) for h, (s, r) in enumerate(self.state_roots))
        return RecoveredState(
            entries=entries,
            committed_height=last[0],
            committed_hash=last[1],
            committed_timestamp_ms=last[2],
            committed_certificate=last[3],
            executed=executed[-8:],
            recent_commits=tuple(self.chain[-self.sim.opts.params.watermark_window :]),
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
        replica = self.replica
        if replica is None:
            return
        actions = replica.step(event)
        if self.byzantine is not None:
            actions = self.byzantine.outgoing(actions, isinstance(event, Tick))
        cut = len(actions)
        if self.crash_armed is not None and any(isinstance(a, Persist) for a in actions):
            cut = self.sim.rng.randrange(len(actions) + 1)
        executed: list[int] = []
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
        for h in executed:
            if self.replica is None:
                return
            roots = self.state_roots[h - 1]
            self.step(Executed(height=h, state_root=roots[0], results_root=roots[1]))

    def _after_step(self, replica: Replica) -> None:
        nv = replica.last_new_view
        if nv is not None and nv is not self.checked_nv and self.honest and self.index is not None:
            self.checked_nv = nv
            self.sim.checker.on_new_view(self.name, nv, self.sim.validators.quorum)

    def _carry_out(self, action: Action, executed: list[int]) -> None:
        sim = self.sim
        if isinstance(action, Persist):
            self.store.write(action.entries, sync=True)
        elif isinstance(action, Broadcast):
            if self.honest and self.index is not None:
                sim.checker.on_sent(self.name, self.index, action.data)
            sim.broadcast(self, action.data)
        elif isinstance(action, Send):
            if self.honest and self.index is not None:
                sim.checker.on_sent(self.name, self.index, action.data)
            sim.send(self, action.to, action.data)
        elif isinstance(action, Commit):
            self._commit(action.block, action.certificate)
            executed.append(action.block.header.height)
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
        self._execute(h)

    def _execute(self, h: int) -> None:
        block = self.chain[h - 1][0]
        prev = (
            self.state_roots[-1] if self.state_roots else (self.sim.genesis_state, self.sim.genesis_results)
        )
        roots = (sha256(prev[0] + block.hash), sha256(prev[1] + block.header.tx_root))
        self.state_roots.append(roots)
        self.store.write([(b"exec/" + h.to_bytes(8, "big"), roots[0] + roots[1])], sync=False)


class Simulation:
    def __init__(self, opts: SimOptions) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        n = opts.validators
        if opts.real_crypto:
            keys = real_signers(opts.seed, n)
            signers: list[SignerLike] = [k.signer() for k in keys]
            self.verify_fn: VerifyFn = verify
        else:
            secrets = [sha256(b"sim-secret/%d/%d" % (opts.seed, i)) for i in range(n)]
            signers = [FakeSigner(s) for s in secrets]
            self.verify_fn = FakeVerifier(secrets)
        self.validators = ValidatorSet(tuple(s.public for s in signers))
        self.genesis_hash = sha256(b"sim-genesis/%d" % opts.seed)
        self.genesis_state = sha256(b"sim-state")
        self.genesis_results = sha256(b"sim-results")
        self.workload = Workload(opts.seed)
        self.checker = Checker(
            self.validators, CHAIN_ID, self.verify_fn, self.workload, self.genesis_hash, opts.skip_checks
        )
        self.nodes = self._build_nodes(signers)
        self.by_index: dict[int, list[SimNode]] = {}
        for node in self.nodes:
            if node.index is not None:
                self.by_index.setdefault(node.index, []).append(node)
        self.network = SimNetwork(self.rng, opts, {nd.inst: nd.index for nd in self.nodes})
        self.heap: list[tuple[float, int, int, int, int, Any]] = []
        self.order = 0
        self.now = 0.0
        self.tick = 0
        self.crashes_done = 0
        self.power_losses = 0
        self.first_commit_tick: dict[int, int] = {}
        self.tx_commit_ms: dict[bytes, float] = {}
        self.crash_log: list[tuple[int, str]] = []
        self.converge_ticks: int | None = None
        self.view_at_heal = 0

    def _build_nodes(self, signers: list[SignerLike]) -> list[SimNode]:
        opts = self.opts
        n = opts.validators
        nodes = [SimNode(self, i, i, signers[i]) for i in range(n)]
        nodes += [SimNode(self, n + k, None, None) for k in range(opts.observers)]
        for idx in opts.twins:
            nodes.append(SimNode(self, len(nodes), idx, signers[idx]))
        byz = dict(opts.byzantine)
        skew = dict(opts.skew_ms)
        for node in nodes:
            if node.index is None:
                continue
            node.honest = node.index not in byz and node.index not in opts.twins
            node.skew_ms = skew.get(node.index, 0)
            if node.index in byz:
                rng = random.Random(self.rng.getrandbits(32))
                node.byzantine = Byzantine(byz[node.index], node.index, n, signers[node.index], CHAIN_ID, rng)
                node.byzantine.genesis_hash = self.genesis_hash
        return nodes

    def replica_config(self, index: int | None) -> ReplicaConfig:
        return ReplicaConfig(
            chain_id=CHAIN_ID,
            validators=self.validators,
            params=self.opts.params,
            my_index=index,
            genesis_hash=self.genesis_hash,
            genesis_state_root=self.genesis_state,
            genesis_results_root=self.genesis_results,
            genesis_time_ms=GENESIS_TIME_MS,
        )

    # ------------------------------------------------------------------ network plumbing
    def _push(self, delay: float, kind: int, inst: int, sender: int, payload: Any) -> None:
        self.order += 1
        heapq.heappush(self.heap, (self.now + delay, self.order, kind, inst, sender, payload))

    def broadcast(self, src: SimNode, data: bytes) -> None:
        sender = _sender(src)
        for node in self.nodes:
            if node.index != sender:
                for d in self.network.delays(src.inst, node.inst, len(data)):
                    self._push(d, DELIVER, node.inst, sender, data)

    def send(self, src: SimNode, to: int, data: bytes) -> None:
        sender = _sender(src)
        for node in self.by_index.get(to, ()):
            if node is not src:
                for d in self.network.delays(src.inst, node.inst, len(data)):
                    self._push(d, DELIVER, node.inst, sender, data)

    def transfer(self, src: SimNode, req: RequestTransfer) -> None:
        peers = [p for p in self.by_index.get(req.peer, ()) if p.up]
        if not peers:
            return
        peer = self.rng.choice(peers)
        if not (self.network.connected(src.inst, peer.inst) and self.network.connected(peer.inst, src.inst)):
            return
        items = [(b.encode(), c.encode()) for b, c in peer.chain[req.from_height - 1 : req.to_height][:32]]
        if peer.byzantine is not None and "lie_catchup" in peer.byzantine.behaviours:
            items = self._lie(items)
        size = sum(len(b) + len(c) for b, c in items)
        for d in self.network.delays(peer.inst, src.inst, size)[:1]:
            self._push(d + self.opts.delay_min_ms, FETCHED, src.inst, req.peer, tuple(items))

    def _lie(self, items: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        choice = self.rng.randrange(4)
        if choice == 0 or not items:
            return []
        if choice == 1:  # a valid certificate with a corrupted signature
            return [(b, c[:-3] + bytes([c[-3] ^ 1]) + c[-2:]) for b, c in items]
        if choice == 2:  # a fork block under a real certificate
            out = []
            for b, c in items:
                block = Block.decode(b)
                forged = Block(header=block.header, txs=(*block.txs, b"fabricated"))
                out.append((forged.encode(), c))
            return out
        return list(reversed(items))[:1]  # out of order and truncated

    def note_commit(self, block: Block) -> None:
        height = block.header.height
        if height not in self.first_commit_tick:
            self.first_commit_tick[height] = self.tick
            for tx in block.txs:
                self.tx_commit_ms.setdefault(tx, self.now)

    # ------------------------------------------------------------------ the main loop
    def run(self) -> Result:
        opts = self.opts
        for node in self.nodes:
            node.start()
        crashes = list(opts.crashes)
        end = opts.safety_ticks + opts.liveness_ticks
        liveness: str | None = None
        tick_ms = opts.params.tick_ms
        live_since: int | None = None
        bound = 0
        for tick in range(1, end + 1):
            self.tick = tick
            tick_time = tick * tick_ms
            self._drain(tick_time)
            self.now = tick_time
            self._faults(tick, crashes)
            self._workload(tick)
            self.network.advance(tick)
            for node in self.nodes:
                if node.up:
                    node.step(
                        Tick(now_ms=GENESIS_TIME_MS + tick_time + node.skew_ms + self._strobe(node, tick))
                    )
            if self.checker.violations:
                break
            if tick == opts.safety_ticks:
                self.view_at_heal = self._max_view()
            if tick <= opts.safety_ticks:
                continue
            if live_since is None and tick % 10 == 0 and self._live():
                live_since, bound = tick, 2 * self._view_change_timeout()
            if live_since is not None:
                # Every request committed: every correct validator must be active in one view within
                # two view-change timeouts (issue 18.8: a replica alone in a higher view).
                if self._views_converged():
                    self.converge_ticks = tick - live_since
                    break
                if tick - live_since > bound:
                    liveness = self._views_report(bound)
                    break
        else:
            liveness = self._liveness_report()
        return self._result(liveness)

    def _drain(self, until: float) -> None:
        heap = self.heap
        nodes = self.nodes
        while heap and heap[0][0] <= until:
            t, _, kind, inst, sender, payload = heapq.heappop(heap)
            self.now = t
            node = nodes[inst]
            if not node.up:
                continue
            if kind == DELIVER:
                node.step(MessageReceived(sender=sender, data=payload))
            elif kind == FETCHED:
                node.step(BlocksFetched(sender=sender, items=payload))
            else:
                node.step(RequestsAvailable(txs=payload))

    def _faults(self, tick: int, crashes: list[tuple[int, int, bool, int]]) -> None:
        opts = self.opts
        if tick < opts.safety_ticks:
            for ep in opts.episodes:
                if ep.start_tick == tick:
                    self.network.set_episode(ep)
                elif ep.end_tick == tick:
                    self.network.set_episode(None)
            while crashes and crashes[0][0] == tick:
                _, inst, power, down = crashes.pop(0)
                node = self.nodes[inst]
                if node.up:
                    node.crash_armed, node.armed_at, node.down_until = power, tick, tick + down
            for node in self.nodes:
                if node.crash_armed is not None and tick - node.armed_at > 20:
                    node.crash(bool(node.crash_armed))
                if not node.up and node.down_until is not None and tick >= node.down_until:
                    node.down_until = None
                    node.start()
        elif tick == opts.safety_ticks:
            self.network.heal()
            for node in self.nodes:
                node.crash_armed = None
                if not node.up:
                    node.down_until = None
                    node.start()

    def _workload(self, tick: int) -> None:
        opts = self.opts
        if tick < opts.safety_ticks and tick % opts.tx_every_ticks == 0:
            txs = tuple(self.workload.make_tx(self.rng, tick) for _ in range(opts.txs_per_burst))
            self._gossip(txs)
        if tick % opts.retry_ticks == 0:
            outstanding = [tx for tx in self.workload.submitted if tx not in self._committed_txs()]
            if outstanding:
                self._gossip(tuple(outstanding[:500]))

    def _committed_txs(self) -> set[bytes]:
        honest = [nd for nd in self.nodes if nd.honest]
        return {tx for nd in honest[:1] for b, _ in nd.chain for tx in b.txs} | self._canonical_txs()

    def _canonical_txs(self) -> set[bytes]:
        best = max((nd for nd in self.nodes if nd.honest), key=lambda nd: len(nd.chain))
        return {tx for b, _ in best.chain for tx in b.txs}

    def _gossip(self, txs: tuple[bytes, ...]) -> None:
        """A client submits to one validator; its mempool gossips to every validator it reaches."""
        entries = [nd for nd in self.nodes if nd.index is not None and nd.up]
        if not entries:
            return
        entry = self.rng.choice(entries)
        for node in self.nodes:
            if node.index is not None and (node is entry or self.network.connected(entry.inst, node.inst)):
                self._push(self.opts.delay_min_ms, REQUESTS, node.inst, -1, txs)

    def _strobe(self, node: SimNode, tick: int) -> int:
        """Clock strobing (RELIABILITY K2): +amplitude and -amplitude in turn, every period ticks."""
        if tick >= self.opts.safety_ticks:
            return 0
        for index, amplitude, period in self.opts.strobe:
            if node.index == index:
                return amplitude if (tick // period) % 2 == 0 else -amplitude
        return 0

    # ------------------------------------------------------------------ liveness
    def _honest_nodes(self) -> list[SimNode]:
        return [nd for nd in self.nodes if nd.honest]

    def _correct_validators(self) -> list[SimNode]:
        """Validators with no fault of their own: not byzantine, not twinned, clock not skewed."""
        faulty = self.opts.faulty
        return [nd for nd in self.nodes if nd.index is not None and nd.honest and nd.index not in faulty]

    def _views_converged(self) -> bool:
        states = {
            (nd.replica.view, nd.replica.view_active) if nd.replica is not None else None
            for nd in self._correct_validators()
        }
        return len(states) == 1 and all(s is not None and s[1] for s in states)

    def _view_change_timeout(self) -> int:
        """The longest view-change timeout in force on a correct validator (back-off included)."""
        return max(
            (nd.replica.view_change_timeout_ticks for nd in self._correct_validators() if nd.replica),
            default=self.opts.params.view_change_timeout_ticks,
        )

    def _max_view(self) -> int:
        return max((nd.replica.view for nd in self._correct_validators() if nd.replica), default=0)

    def _views_report(self, bound: int) -> str:
        views = ",".join(
            f"{nd.name}:{nd.replica.view}{'' if nd.replica.view_active else '(changing)'}"
            for nd in self._correct_validators()
            if nd.replica is not None
        )
        return f"every request committed, but the views did not converge within {bound} ticks: {views}"

    def _live(self) -> bool:
        honest = self._honest_nodes()
        heights = {len(nd.chain) for nd in honest}
        if len(heights) != 1:
            return False
        return set(self.workload.submitted) <= self._canonical_txs()

    def _liveness_report(self) -> str:
        honest = self._honest_nodes()
        missing = len(set(self.workload.submitted) - self._canonical_txs())
        heights = ",".join(f"{nd.name}:{len(nd.chain)}" for nd in honest)
        views = ",".join(f"{nd.name}:{nd.replica.view if nd.replica else '-'}" for nd in honest)
        return f"after {self.opts.liveness_ticks} healed ticks: {missing} requests uncommitted; heights {heights}; views {views}"

    def _result(self, liveness: str | None) -> Result:
        honest = self._honest_nodes()
        stats = [nd.replica.stats for nd in self.nodes if nd.replica is not None]
        max_view = max((nd.replica.view for nd in honest if nd.replica is not None), default=0)
        return Result(
            seed=self.opts.seed,
            violations=list(self.checker.violations),
            liveness_failure=liveness,
            committed_blocks=max((len(nd.chain) for nd in honest), default=0),
            ticks=self.tick,
            messages=self.network.messages,
            bytes=self.network.bytes,
            view_changes=sum(s.get("new_views_installed", 0) for s in stats),
            max_view=max_view,
            converge_ticks=self.converge_ticks,
            view_at_heal=self.view_at_heal,
            commit_latency_ms=[
                self.tx_commit_ms[tx] - t * self.opts.params.tick_ms
                for tx, t in self.workload.submitted.items()
                if tx in self.tx_commit_ms
            ],
        )


def _sender(node: SimNode) -> int:
    if node.index is None:
        raise ConsensusError(f"observer {node.name} tried to send")
    return node.index


def simulate(opts: SimOptions) -> Result:
    return Simulation(opts).run()
