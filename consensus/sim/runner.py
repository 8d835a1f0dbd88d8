"""One simulation run: the cluster, its faults, the checkers and the two phases.

Phases (VOPR, Vortex): a *safety* phase of `safety_ticks` with every fault the seed chose, the
checkers running on every step; then a *liveness* phase: the network heals, every crashed node
restarts, at most f identities stay faulty, and every transaction a client submitted must be
committed by every honest validator and observer within `liveness_ticks`; then every correct
validator must be active in one view within two view-change timeouts (issue 18.8).

The driver here does what the node's driver does: it carries out actions in order (a `Persist` is
a synced write), stores committed blocks with their certificates, executes them with a fake
deterministic state machine (state_root(h) = sha256(state_root(h-1) || block_hash)), feeds back
`Executed` with the validator epochs the block scheduled (`consensus/sim/reconfig.py`), and
answers `RequestTransfer` from the peer's block store. A crash stops a node in the middle of an
action list that writes (a crash point); a power loss also drops its unsynced writes.

Nodes are addressed by public key, as the real network does. When a node's replica enters an epoch
whose set no longer holds its key, the node does what a real one does: it restarts with its new
key if the key was rotated, and stops for good if it was removed (a byzantine one stays and keeps
signing with the old key). Spare nodes run as observers until they are added.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

from consensus.actions import RequestTransfer
from consensus.config import ReplicaConfig, SignerLike
from consensus.errors import ConsensusError
from consensus.events import BlocksFetched, MessageReceived, RequestsAvailable, Tick
from consensus.quorum import VerifyFn
from consensus.sim.byzantine import Byzantine
from consensus.sim.checker import Checker
from consensus.sim.crypto import FakeSigner, FakeVerifier, real_signers
from consensus.sim.network import SimNetwork
from consensus.sim.node import SimNode
from consensus.sim.options import SimOptions
from consensus.sim.reconfig import ReconfigStep, SetSchedule
from consensus.sim.workload import MAC_SIZE, Workload
from wire.certificate import ValidatorSet
from wire.crypto import sha256, verify
from wire.types import Block

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
    epochs: int = 0  # validator-set changes that took effect (epochs after the first)
    converge_ticks: int | None = None  # from "every request committed" to one active view everywhere
    view_at_heal: int = 0  # the highest view of a correct validator when the network healed

    @property
    def ok(self) -> bool:
        return not self.violations and self.liveness_failure is None


class Simulation:
    def __init__(self, opts: SimOptions) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        n = opts.validators
        spares = len(opts.spare_starts)
        total = n + spares + opts.rotation_keys
        # identities 0..n-1 are the genesis validators' keys; then the spares'; then rotation keys
        # (the first n keep the derivation they always had, so reconfiguration-free seeds repeat)
        if opts.real_crypto:
            keys = real_signers(opts.seed, total)
            signers: list[SignerLike] = [k.signer() for k in keys]
            self.verify_fn: VerifyFn = verify
        else:
            secrets = [sha256(b"sim-secret/%d/%d" % (opts.seed, i)) for i in range(total)]
            signers = [FakeSigner(s) for s in secrets]
            self.verify_fn = FakeVerifier(secrets)
        self.signers = signers
        self.validators = ValidatorSet(tuple(s.public for s in signers[:n]))
        self.genesis_hash = sha256(b"sim-genesis/%d" % opts.seed)
        self.genesis_time_ms = GENESIS_TIME_MS
        self.genesis_state = sha256(b"sim-state")
        self.genesis_results = sha256(b"sim-results")
        self.workload = Workload(opts.seed)
        faulty = {i for i, _ in opts.byzantine} | {i for i, _ in opts.skew_ms} | set(opts.twins)
        self.faulty_keys = {signers[i].public for i in faulty}
        self.checker = Checker(
            self.validators,
            CHAIN_ID,
            self.verify_fn,
            self.workload,
            self.genesis_hash,
            opts.skip_checks,
            self.new_schedule(),
        )
        self.nodes = self._build_nodes(signers)
        self.by_key: dict[bytes, list[SimNode]] = {}
        for node in self.nodes:
            if node.key is not None:
                self.by_key.setdefault(node.key, []).append(node)
        self.network = SimNetwork(self.rng, opts, {nd.inst: nd.identity for nd in self.nodes})
        self.heap: list[tuple[float, int, int, int, bytes, Any]] = []
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

    def new_schedule(self) -> SetSchedule:
        p = self.opts.params
        return SetSchedule(
            self.validators.pubkeys, p.checkpoint_interval, p.exec_lag, self.faulty_keys, MAC_SIZE
        )

    def _build_nodes(self, signers: list[SignerLike]) -> list[SimNode]:
        opts = self.opts
        n = opts.validators
        nodes = [SimNode(self, i, i, signers[i], f"v{i}") for i in range(n)]
        nodes += [SimNode(self, n + k, None, None, f"o{n + k}") for k in range(opts.observers)]
        for j, start in enumerate(opts.spare_starts):
            spare = SimNode(self, len(nodes), n + j, signers[n + j], f"s{n + j}")
            spare.start_tick = start
            nodes.append(spare)
        for idx in opts.twins:
            nodes.append(SimNode(self, len(nodes), idx, signers[idx], f"v{idx}"))
        byz = dict(opts.byzantine)
        skew = dict(opts.skew_ms)
        for node in nodes:
            if node.identity is None or node.identity >= n:
                continue
            node.honest = node.identity not in byz and node.identity not in opts.twins
            node.skew_ms = skew.get(node.identity, 0)
            if node.identity in byz:
                rng = random.Random(self.rng.getrandbits(32))
                signer = signers[node.identity]
                node.byzantine = Byzantine(byz[node.identity], node.current_replica, signer, CHAIN_ID, rng)
                node.byzantine.genesis_hash = self.genesis_hash
        for step in opts.reconfig:
            if step.action == "rotate":
                for node in nodes:
                    if node.identity == step.target or _rotated_to(opts.reconfig, node, step.target):
                        node.next_signers.append(signers[step.new_key])
        return nodes

    def replica_config(self) -> ReplicaConfig:
        return ReplicaConfig(
            chain_id=CHAIN_ID,
            validators=self.validators,
            params=self.opts.params,
            my_index=None,
            genesis_hash=self.genesis_hash,
            genesis_state_root=self.genesis_state,
            genesis_results_root=self.genesis_results,
            genesis_time_ms=GENESIS_TIME_MS,
        )

    def note_rotation(self, node: SimNode, old_key: bytes) -> None:
        """`node` now holds a new key; messages to either key reach it."""
        if node.key is not None:
            self.by_key.setdefault(node.key, []).append(node)

    # ------------------------------------------------------------------ network plumbing
    def _push(self, delay: float, kind: int, inst: int, sender: bytes, payload: Any) -> None:
        self.order += 1
        heapq.heappush(self.heap, (self.now + delay, self.order, kind, inst, sender, payload))

    def broadcast(self, src: SimNode, data: bytes) -> None:
        sender = _sender(src)
        for node in self.nodes:
            if node.key != sender:
                for d in self.network.delays(src.inst, node.inst, len(data)):
                    self._push(d, DELIVER, node.inst, sender, data)

    def send(self, src: SimNode, to: bytes, data: bytes) -> None:
        sender = _sender(src)
        for node in self.by_key.get(to, ()):
            if node is not src:
                for d in self.network.delays(src.inst, node.inst, len(data)):
                    self._push(d, DELIVER, node.inst, sender, data)

    def transfer(self, src: SimNode, req: RequestTransfer) -> None:
        peers = [p for p in self.by_key.get(req.peer, ()) if p.up]
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
            if node.start_tick == 0:
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
                node = self._primary_node() if inst < 0 else self.nodes[inst % len(self.nodes)]
                if node is not None and node.up:
                    node.crash_armed, node.armed_at, node.down_until = power, tick, tick + down
            for node in self.nodes:
                if node.crash_armed is not None and tick - node.armed_at > 20:
                    node.crash(bool(node.crash_armed))
                if not node.up and node.down_until is not None and tick >= node.down_until:
                    node.down_until = None
                    node.start()
                if node.start_tick == tick and not node.up and node.down_until is None:
                    node.start()  # a spare that starts late: it syncs from genesis
        elif tick == opts.safety_ticks:
            self.network.heal()
            for node in self.nodes:
                node.crash_armed = None
                if not node.up:
                    node.down_until = None
                    node.start()

    def _primary_node(self) -> SimNode | None:
        """The node an honest validator sees as primary now (crash targets of -1)."""
        for node in self.nodes:
            r = node.replica
            if node.honest and r is not None and r.me is not None:
                key = r.validators.pubkeys[r.view % r.n]
                holders = [nd for nd in self.by_key.get(key, ()) if nd.up]
                return holders[0] if holders else None
        return None

    def _workload(self, tick: int) -> None:
        opts = self.opts
        if tick < opts.safety_ticks and tick % opts.tx_every_ticks == 0:
            txs = tuple(self.workload.make_tx(self.rng, tick) for _ in range(opts.txs_per_burst))
            self._gossip(txs)
        for step in opts.reconfig:
            if step.tick == tick:
                new_key = self.signers[step.new_key].public if step.action == "rotate" else b""
                change = self.workload.make_change(
                    tick, step.action, self.signers[step.target].public, new_key
                )
                self._gossip((change,))
        if tick % opts.retry_ticks == 0:
            outstanding = [tx for tx in self.workload.submitted if tx not in self._committed_txs()]
            if outstanding:
                self._gossip(tuple(outstanding[:500]))

    def _committed_txs(self) -> set[bytes]:
        honest = self._honest_nodes()
        return {tx for nd in honest[:1] for b, _ in nd.chain for tx in b.txs} | self._canonical_txs()

    def _canonical_txs(self) -> set[bytes]:
        best = max((nd for nd in self.nodes if nd.honest), key=lambda nd: len(nd.chain))
        return {tx for b, _ in best.chain for tx in b.txs}

    def _gossip(self, txs: tuple[bytes, ...]) -> None:
        """A client submits to one validator; its mempool gossips to every validator it reaches."""
        validators = [nd for nd in self.nodes if nd.replica is not None and nd.replica.is_validator]
        if not validators:
            return
        entry = self.rng.choice(validators)
        for node in validators:
            if node is entry or self.network.connected(entry.inst, node.inst):
                self._push(self.opts.delay_min_ms, REQUESTS, node.inst, b"", txs)

    def _strobe(self, node: SimNode, tick: int) -> int:
        """Clock strobing (RELIABILITY K2): +amplitude and -amplitude in turn, every period ticks."""
        if tick >= self.opts.safety_ticks:
            return 0
        for index, amplitude, period in self.opts.strobe:
            if node.identity == index:
                return amplitude if (tick // period) % 2 == 0 else -amplitude
        return 0

    # ------------------------------------------------------------------ liveness
    def _honest_nodes(self) -> list[SimNode]:
        return [nd for nd in self.nodes if nd.honest and not nd.gone]

    def _correct_validators(self) -> list[SimNode]:
        """Validators with no fault of their own (not byzantine, not twinned, clock not skewed) that
        are in the validator set they last worked in and not removed from it."""
        faulty = self.opts.faulty
        return [
            nd
            for nd in self.nodes
            if nd.identity is not None
            and nd.honest
            and nd.member
            and not nd.gone
            and nd.identity not in faulty
        ]

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
            epochs=sum(1 for s in self.checker.schedule.starts() if s > 1) if self.checker.schedule else 0,
            converge_ticks=self.converge_ticks,
            view_at_heal=self.view_at_heal,
            commit_latency_ms=[
                self.tx_commit_ms[tx] - t * self.opts.params.tick_ms
                for tx, t in self.workload.submitted.items()
                if tx in self.tx_commit_ms
            ],
        )


def _sender(node: SimNode) -> bytes:
    if node.key is None:
        raise ConsensusError(f"observer {node.name} tried to send")
    return node.key


def _rotated_to(plan: tuple[ReconfigStep, ...], node: SimNode, identity: int) -> bool:
    """Whether `identity` is a key `node` is planned to rotate to (so a later rotation is its)."""
    return any(s.action == "rotate" and s.new_key == identity and node.identity == s.target for s in plan)


def simulate(opts: SimOptions) -> Result:
    return Simulation(opts).run()
