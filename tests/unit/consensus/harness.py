"""A tiny in-process cluster for the paper tests: a perfect, synchronous, FIFO network that a test
can filter, real ed25519 keys, and an executor that feeds `Executed` back at once."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from consensus import (
    Action,
    Broadcast,
    Commit,
    Event,
    Executed,
    MessageReceived,
    Persist,
    Replica,
    ReplicaConfig,
    RequestsAvailable,
    RequestTransfer,
    Send,
    Tick,
)
from consensus.config import EpochInfo
from consensus.events import BlocksFetched
from wire.certificate import ValidatorSet
from wire.crypto import SigningKey, sha256
from wire.genesis import ConsensusParams
from wire.types import Block, CommitCertificate

GENESIS = sha256(b"genesis")
STATE0 = sha256(b"state0")
RESULTS0 = sha256(b"results0")
T0 = 1_700_000_000_000
KEYS = [SigningKey(bytes([i + 1]) * 32) for i in range(8)]
PUB = [k.public for k in KEYS]


def index_of(pubkey: bytes) -> int:
    return PUB.index(pubkey)


def params(**kw: int) -> ConsensusParams:
    base = dict(
        checkpoint_interval=4,
        watermark_window=8,
        exec_lag=1,
        view_change_timeout_ticks=8,
        request_timeout_ticks=16,
        empty_block_interval_ms=0,  # block counts in these tests are exact; empty blocks have their own
        seal_results=0,
        batch_delay_ticks=0,  # proposals follow requests at once; batching has its own tests
    )
    base.update(kw)
    return ConsensusParams(**base)


def config(n: int, me: int | None, p: ConsensusParams | None = None) -> ReplicaConfig:
    return ReplicaConfig(
        chain_id="test",
        validators=ValidatorSet(tuple(k.public for k in KEYS[:n])),
        params=p or params(),
        my_index=me,
        genesis_hash=GENESIS,
        genesis_state_root=STATE0,
        genesis_results_root=RESULTS0,
        genesis_time_ms=T0,
    )


def tx(i: int) -> bytes:
    return b"tx-%d" % i


@dataclass
class Cluster:
    n: int
    observers: int = 0
    p: ConsensusParams = field(default_factory=params)
    replicas: list[Replica | None] = field(default_factory=list)
    chains: list[list[tuple[Block, CommitCertificate]]] = field(default_factory=list)
    stores: list[dict[bytes, bytes]] = field(default_factory=list)
    actions: list[list[Action]] = field(default_factory=list)
    queue: deque[tuple[int, Event]] = field(default_factory=deque)
    drop: Callable[[int, int, bytes], bool] = lambda src, dst, data: False
    now: int = T0
    tx_checker: Callable[[object], bool] = lambda txs: True
    # validator-set epochs: what executing a height reports (the ledger's scheduled epochs)
    epochs_at: dict[int, tuple[EpochInfo, ...]] = field(default_factory=dict)
    keyed_observers: bool = False  # observers hold keys KEYS[n..] (a later epoch may add them)
    keys: list[bytes] = field(default_factory=list)  # the public key each replica slot answers to

    def __post_init__(self) -> None:
        total = self.n + self.observers
        self.keys = PUB[:total]
        for i in range(total):
            me = i if i < self.n else None
            keyed = me is not None or self.keyed_observers
            signer = KEYS[i].signer() if keyed else None
            self.replicas.append(Replica(config(self.n, me, self.p), signer, self.tx_checker))
            self.chains.append([])
            self.stores.append({})
            self.actions.append([])

    def deliver(self, i: int, event: Event) -> None:
        self.queue.append((i, event))
        self.run()

    def run(self) -> None:
        while self.queue:
            i, event = self.queue.popleft()
            replica = self.replicas[i]
            if replica is None:
                continue
            out = replica.step(event)
            self.actions[i].extend(out)
            self.carry_out(i, out)

    def carry_out(self, i: int, out: list[Action]) -> None:
        total = self.n + self.observers
        for a in out:
            if isinstance(a, Persist):
                for k, v in a.entries:
                    if v is None:
                        self.stores[i].pop(k, None)
                    else:
                        self.stores[i][k] = v
            elif isinstance(a, Broadcast):
                for j in range(total):
                    if j != i and not self.drop(i, j, a.data):
                        self.queue.append((j, MessageReceived(sender=self.keys[i], data=a.data)))
            elif isinstance(a, Send):
                to = self.keys.index(a.to)
                if not self.drop(i, to, a.data):
                    self.queue.append((to, MessageReceived(sender=self.keys[i], data=a.data)))
            elif isinstance(a, Commit):
                self.chains[i].append((a.block, a.certificate))
                h = a.block.header.height
                epochs = self.epochs_at.get(h, ())
                self.queue.append(
                    (
                        i,
                        Executed(
                            height=h, state_root=sha256(b"state%d" % h), results_root=RESULTS0, epochs=epochs
                        ),
                    )
                )
            elif isinstance(a, RequestTransfer):
                src = self.chains[self.keys.index(a.peer)]
                items = tuple((b.encode(), c.encode()) for b, c in src[a.from_height - 1 : a.to_height])
                self.queue.append((i, BlocksFetched(sender=a.peer, items=items)))

    def tick(self, count: int = 1, step_ms: int = 50) -> None:
        for _ in range(count):
            self.now += step_ms
            for i in range(len(self.replicas)):
                self.queue.append((i, Tick(now_ms=self.now)))
            self.run()

    def submit(self, *txs: bytes) -> None:
        for i in range(self.n):
            self.queue.append((i, RequestsAvailable(txs=tuple(txs))))
        self.run()

    def heights(self) -> list[int]:
        return [len(c) for c in self.chains]

    def hashes(self, i: int) -> list[bytes]:
        return [b.hash for b, _ in self.chains[i]]
