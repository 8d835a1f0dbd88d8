"""The running node: replica, driver, executor, mempool and peer network; gossip, submit, catch-up
answers and the commit fan-out.

Rules:

- Built by the composition root (`node/app.py`) from an opened, checked store; it never imports
  the API, privacy, the CLI or the dev tools. What the rest of the node needs from it is its
  public surface: `submit`, `tx_status`, `status`, `health`, `readiness`, `height`, `block`,
  `receipts`, `pending_raw`, `commit_listeners`, `peer_handlers`, `request_peer`,
  `connected_peers`.
- `readiness()` states what /readyz judges (the API applies the bounds): the height, the highest
  height a verified commit certificate showed it, the height f+1 validators report (one honest
  one at least), and how many validators it is connected to against the quorum.
- Admission (`submit`, and gossip received) is the mempool's: the stateless check, then the
  signer's authority at the current state (`node/runtime/authority.py`); a refused transaction
  is never gossiped, offered or stored.
- Transactions reach validators by gossip: a transaction admitted through `submit` is sent to
  every other validator once (observers never propose, so they get none); a transaction
  received by gossip is admitted but not re-gossiped. A pending transaction is re-offered to
  consensus REOFFER_AFTER_S after it was last offered, then at doubling intervals up to
  4 x REOFFER_AFTER_S, until a stored block commits it; only the node a client submitted it to
  (its origin) re-gossips it then. Every validator re-gossiping every pending transaction sent
  each one to each validator n-1 times per round, for peers that already held it; a validator
  that missed it still gets it from the origin, and a backup holding a request the primary never
  proposes moves the view as PBFT does.
- Requests the replica refused (`RequestsDropped`, reason "refused") are evicted from the
  mempool: no block will ever carry them. Those it could not queue stay and are re-offered.
- Catch-up: a peer's `RequestTransfer` is answered from the store within `transfer.py`'s bounds.
  Other peer requests go to `peer_handlers` by their first element (blob transfer).
- After each stored block the `CommitEvent` goes to every listener in `commit_listeners`; a
  listener that raises is logged and never stops consensus.
- A fatal error (storage failure) sets `fatal` and `stop_requested`; the composition root stops
  everything in order.
- The peer set follows the ledger (`node/runtime/registry.py`): after a block that changed a node
  record the links are re-derived (new nodes linked, removed ones and rotated-out keys closed). A
  node that a block removed, or whose key it rotated out, stops and says why (`left`): it may no
  longer sign anything, and a rotated node restarts with its new key. Peers are named by public
  key to the replica and by node id on the network.
- A node joining with a `bootstrap` peer links first with the validators it verified from there
  (`node/runtime/bootstrap.py`); an empty store then joins by verified snapshot (`statesync`,
  its anchor checked against the epoch chain from genesis) or replays from genesis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from consensus import Replica, ReplicaConfig
from network import NetworkConfig, PeerId, PeerNetwork, PeerSpec, UnknownPeer
from node.config import NodeConfig
from node.errors import AdmissionError, ConfigError, NodeStoppedError, StorageError
from node.failpoints import FailPoints
from node.metrics import NodeMetrics
from node.runtime import statesync
from node.runtime.authority import SignerAuthority
from node.runtime.driver import KIND_CONSENSUS, KIND_TXS, Driver
from node.runtime.events import CommitEvent, CommitListener
from node.runtime.executor import Executor
from node.runtime.mempool import Mempool, Pending
from node.runtime.recovery import recovered_state
from node.runtime.registry import NodeEntry, own_entry, peer_specs, read_registry
from node.runtime.sigcache import SignatureCache
from node.runtime.transfer import blocks_request, parse_blocks, serve_blocks
from node.runtime.txcheck import TxChecker
from node.store.storage import BlockStore
from node.tls import p2p_contexts
from wire import codec
from wire.crypto import SigningKey
from wire.errors import DecodeError
from wire.genesis import Genesis
from wire.types import Receipt, SignedTransaction

log = logging.getLogger("orgledger.node")

GOSSIP_BATCH_MAX = 512
REOFFER_AFTER_S = 2.0
REOFFER_MAX = 4096

PeerHandler = Callable[[PeerId, list[Any]], Awaitable[bytes]]
TxState = Literal["pending", "committed", "rejected"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TxStatus:
    """Where a transaction stands on this node: pending in the mempool, or stored with its receipt."""

    tx_id: bytes
    state: TxState
    height: int  # the node's height when it answered
    block_height: int | None = None
    index: int | None = None
    receipt: Receipt | None = None


class Node:
    def __init__(
        self,
        *,
        config: NodeConfig,
        genesis: Genesis,
        key: SigningKey,
        store: BlockStore,
        metrics: NodeMetrics,
        bootstrap: tuple[NodeEntry, ...] = (),
        bootstrap_height: int = 0,
    ) -> None:
        self.config, self.genesis, self.key, self.store, self.metrics = config, genesis, key, store, metrics
        self.signatures = SignatureCache()
        self.executor = self._executor()  # writes genesis into an empty store: the registry is there
        self.registry = read_registry(store)
        self._bootstrap = {e.node_id: e for e in bootstrap if e.node_id not in self.registry}
        self._bootstrap_height = bootstrap_height
        self.spec = own_entry(config, key.public, self.registry, bootstrap)
        self.mempool = Mempool(
            chain_id=genesis.chain_id,
            signatures=self.signatures,
            is_committed=lambda tx_id: self.store.tx_location(tx_id) is not None,
            authority=SignerAuthority(store.state_get).check,
            max_tx_bytes=genesis.consensus.max_tx_bytes,
        )
        self.checker = TxChecker(genesis.chain_id, self.signatures, genesis.consensus.max_tx_bytes)
        # [p2p] TLS: mutual, both ends' certificates signed by the network CA (node/tls.py)
        server_ssl, client_ssl = p2p_contexts(config.p2p_tls) if config.p2p_tls else (None, None)
        self.network = PeerNetwork(
            NetworkConfig(
                node_id=config.node_id,
                listen_host=config.p2p_host,
                listen_port=config.p2p_port,
                server_ssl=server_ssl,
                client_ssl=client_ssl,
            ),
            key,
            self._peer_specs(),
            genesis.chain_id,
            genesis.hash,
            self._on_peer_message,
            self._on_peer_request,
        )
        self._build_core()
        self._gossip: list[bytes] = []
        self._offer: list[bytes] = []
        #: pending transactions a client submitted here (this node re-gossips them; see the rules)
        self._origin: set[bytes] = set()
        self._flush_scheduled = False
        self._reoffer_task: asyncio.Task[None] | None = None
        self.stop_requested = asyncio.Event()
        self._network_started = False
        self.reoffered = 0
        self.evicted = 0
        #: told of every stored block, in height order (subscribed by node/app.py)
        self.commit_listeners: list[CommitListener] = []
        #: peer requests other than "blocks", by their first element (subscribed by node/app.py)
        self.peer_handlers: dict[str, PeerHandler] = {}
        self.fatal: BaseException | None = None
        #: why this node stopped itself: removed from the network, or its key rotated out
        self.left: str | None = None
        #: why the node cannot serve reads yet (a snapshot join in progress), else None
        self.joining: str | None = None
        self.started_at = time.time()
        self._last_view = self.replica.view

    # ------------------------------------------------------------------ construction helpers
    def _build_core(self) -> None:
        """The executor, replica and driver over what the store holds now."""
        self.executor = self._executor()
        self.replica = Replica(
            self._replica_config(),
            self.key.signer(),
            self.checker,
            recovered_state(self.store, self.genesis, self.executor.meta),
        )
        self.driver = Driver(
            replica=self.replica,
            store=self.store,
            executor=self.executor,
            tick_ms=self.genesis.consensus.tick_ms,
            send=self._send_to_key,
            broadcast=self.network.broadcast,
            fetch=self._fetch_blocks,
            on_commit=self._on_commit,
            on_dropped=self._on_dropped,
            on_fatal=self._fatal,
            failpoints=FailPoints(),
            stages=self.metrics.stages,
        )

    def _executor(self) -> Executor:
        return Executor(
            self.store,
            self.genesis,
            self.signatures.decode,
            retain_blocks=self.config.state.map_retain_blocks,
            stages=self.metrics.stages,
        )

    def awaits_admission(self) -> bool:
        """An empty store and a key outside the genesis node set: no peer lets this node in until
        the ledger admits its key, so its snapshot join waits for that (statesync `admission`)."""
        return self.executor.meta.height == 0 and all(n.pubkey != self.key.public for n in self.genesis.nodes)

    async def join_by_snapshot(self) -> int | None:
        """Before `start`: with an empty store, join by a verified snapshot of a peer's state if one
        is far enough ahead (node/runtime/statesync.py); the height installed, or None. A node
        added after genesis keeps asking until a peer admits it (`awaits_admission`); `joining`
        says so meanwhile."""
        if self.executor.meta.height != 0:
            return None
        genesis_roots = self.store.roots(0)
        if genesis_roots is None:
            raise ConfigError("the store has no genesis roots")
        if not self._network_started:
            await self.network.start()
            self._network_started = True
        added = self.awaits_admission()
        self.joining = "waiting for admission by a peer" if added else "joining by snapshot"
        try:
            installed = await statesync.join(
                self.request_peer,
                lambda: [str(p) for p in self.network.connected_peers()],
                self.store,
                self.genesis.validators,
                self.genesis.chain_id,
                self.genesis.consensus.exec_lag,
                self.genesis.consensus.checkpoint_interval,
                genesis_roots,
                admission=statesync.Retry() if added else None,
                unlinked=self.network.unlinked,
            )
            self._build_core()  # over the snapshot, or over genesis again after a failed attempt
            if installed is not None:  # the snapshot's registry: its peers, our role, or our removal
                self._refresh_registry()
        finally:
            self.joining = None
        return installed

    def _replica_config(self) -> ReplicaConfig:
        roots = self.store.roots(0)
        if roots is None:
            raise ConfigError("the store has no genesis roots")
        return ReplicaConfig(
            chain_id=self.genesis.chain_id,
            validators=self.genesis.validators,
            params=self.genesis.consensus,
            my_index=self.genesis.validators.index_of(self.key.public),
            genesis_hash=self.genesis.hash,
            genesis_state_root=roots[0],
            genesis_results_root=roots[1],
            genesis_time_ms=self.genesis.genesis_time_ms,
        )

    # ------------------------------------------------------------------ peers
    def _peer_specs(self) -> list[PeerSpec]:
        entries = {**self._bootstrap, **self.registry}
        self._key_to_peer = {e.pubkey: PeerId(e.node_id) for e in entries.values() if e.status != "REMOVED"}
        self._peer_to_key = {pid: key for key, pid in self._key_to_peer.items()}
        return peer_specs(entries.values(), self.config.peer_addresses, self.config.node_id)

    def _refresh_registry(self) -> None:
        """A block changed node records: follow the ledger's peer set; leave if we were removed."""
        self.registry = read_registry(self.store)
        if self._bootstrap and self.height() >= max(1, self._bootstrap_height):
            self._bootstrap = {}
        self.network.set_peers(self._peer_specs())
        self._check_membership()

    def _check_membership(self) -> None:
        """Stop, saying why, when the ledger removed this node or rotated its key out."""
        me = self.registry.get(self.config.node_id)
        if me is None:
            return
        self.spec = me
        at = me.changed_height if me.changed_height is not None else self.height()
        if me.status == "REMOVED":
            self._leave(f"node {me.node_id} was removed from the network at height {at}")
        elif me.pubkey != self.key.public and me.status == "ACTIVE" and me.pending is None:
            self._leave(
                f"the key of node {me.node_id} was rotated to {me.pubkey.hex()[:16]}… at height "
                f"{at}: restart it with the new key file"
            )

    def _leave(self, reason: str) -> None:
        if self.left is None:
            self.left = reason
            log.critical("%s; stopping", reason)
            self.stop_requested.set()

    def connected_peers(self) -> list[PeerId]:
        return self.network.connected_peers()

    async def request_peer(self, peer: str, data: bytes, timeout_s: float) -> bytes:
        return await self.network.request(PeerId(peer), data, timeout_s)

    def _send_to_key(self, key: bytes, data: bytes) -> bool:
        peer = self._key_to_peer.get(key)
        if peer is None or peer == self.config.node_id:
            return False
        try:
            return self.network.send(peer, data)
        except UnknownPeer:
            return False

    async def _on_peer_message(self, peer: PeerId, data: bytes) -> None:
        sender = self._peer_to_key.get(peer)
        if sender is None or not data:
            return
        kind, body = data[:1], data[1:]
        if kind == KIND_CONSENSUS:
            self.driver.on_peer_message(sender, body)
        elif kind == KIND_TXS:
            self._admit_gossip(body)

    def _admit_gossip(self, body: bytes) -> None:
        with self.metrics.stages.measure("admission"):
            self._admit_gossip_batch(body)

    def _admit_gossip_batch(self, body: bytes) -> None:
        try:
            raws = codec.decode(body)
            if not isinstance(raws, list) or len(raws) > GOSSIP_BATCH_MAX:
                return
        except DecodeError:
            return
        for raw in raws:
            if not isinstance(raw, bytes):
                continue
            try:
                _, new = self.mempool.admit(raw, time.monotonic())
            except AdmissionError as exc:
                self.metrics.mempool_refused.labels(reason=exc.code).inc()
                continue
            if new:
                self._queue_offer(raw, gossip=False)

    async def _on_peer_request(self, peer: PeerId, data: bytes) -> bytes:
        try:
            req = codec.decode(data)
            if isinstance(req, list) and req and isinstance(req[0], str) and req[0] in self.peer_handlers:
                return await self.peer_handlers[req[0]](peer, req)
            if isinstance(req, list) and req == ["snapshot"]:
                return await asyncio.to_thread(
                    statesync.serve_snapshot, self.store, self.genesis.consensus.exec_lag
                )
            if isinstance(req, list) and len(req) == 4 and req[0] == "chunk":
                return await asyncio.to_thread(statesync.serve_chunk, self.store, req)
            kind, lo, hi = req
            if kind != "blocks" or type(lo) is not int or type(hi) is not int:
                raise ValueError
        except (DecodeError, ValueError, TypeError, StorageError):
            return codec.encode_trusted(["error", "bad_request"])
        return serve_blocks(self.store, self.executor.meta.height, lo, hi)

    async def _fetch_blocks(self, peer: bytes, lo: int, hi: int) -> tuple[tuple[bytes, bytes], ...]:
        node_id = self._key_to_peer.get(peer)
        if node_id is None:
            return ()
        raw = await self.network.request(node_id, blocks_request(lo, hi), 10.0)
        return parse_blocks(raw)

    # ------------------------------------------------------------------ transactions
    def _queue_offer(self, raw: bytes, *, gossip: bool) -> None:
        self._offer.append(raw)
        if gossip:
            self._gossip.append(raw)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        offer, self._offer = self._offer, []
        gossip, self._gossip = self._gossip, []
        if self.replica.is_validator:
            self.driver.offer_requests(offer)
        # transactions go to the validators only (of the epoch in force and the next one):
        # observers never propose, and an observer that verified every signature would do a
        # validator's work for nothing
        targets = self._gossip_targets()
        for i in range(0, len(gossip), GOSSIP_BATCH_MAX):
            frame = KIND_TXS + codec.encode_trusted(gossip[i : i + GOSSIP_BATCH_MAX])
            for key in targets:
                self._send_to_key(key, frame)

    def _gossip_targets(self) -> list[bytes]:
        keys = dict.fromkeys(self.replica.validators.pubkeys)
        nxt = self.replica.epochs.next_after(self.replica.epoch_start)
        if nxt is not None:
            keys.update(dict.fromkeys(nxt.validators.pubkeys))
        keys.pop(self.key.public, None)
        return list(keys)

    async def _reoffer_loop(self) -> None:
        """Re-offer transactions still pending after a while to consensus and re-gossip them."""
        while True:
            await asyncio.sleep(REOFFER_AFTER_S / 2)
            self._reoffer(time.monotonic())

    def _reoffer(self, now_s: float) -> None:
        """Offer the transactions due again to consensus; re-gossip those submitted here."""
        stale = self.mempool.stale(now_s, REOFFER_AFTER_S, REOFFER_MAX)
        self.reoffered += len(stale)
        for raw in stale:
            self._queue_offer(raw, gossip=raw in self._origin)

    def _on_dropped(self, txs: tuple[bytes, ...], reason: str) -> None:
        """The replica refused (or could not queue) these requests."""
        if reason != "refused":
            return  # queue full: they stay pending and are re-offered
        ids = []
        for raw in txs:
            try:
                ids.append(SignedTransaction.decode(raw).tx_id)
            except DecodeError:
                continue
        self.evicted += len(ids)
        self._origin.difference_update(txs)
        self.mempool.remove(ids)

    def _on_commit(self, event: CommitEvent) -> None:
        if event.registry_changed:
            self._refresh_registry()
        for listener in self.commit_listeners:
            try:
                listener(event)
            except Exception:  # a listener (index, event stream) must never stop consensus
                log.exception("commit listener failed at height %d", event.height)
        now = time.monotonic()
        m = self.metrics
        for r in event.receipts:
            pending = self.mempool.get(r.tx_id)
            if pending is not None:
                self._origin.discard(pending.raw)
                if pending.admitted_s > 0:
                    m.commit_latency_seconds.observe(max(0.0, now - pending.admitted_s))
            m.txs.labels(status=r.status).inc()
            for alert in r.alerts:
                m.alerts_raised.labels(colour=alert.colour, rule=alert.rule_id).inc()
            if not r.accepted:
                log.info(
                    "tx rejected by %s (%s): %s",
                    r.rule_id or "the contracts",
                    r.reason_code,
                    r.reason,
                    extra={"tx_id": r.tx_id.hex(), "height": event.height},
                )
        self.mempool.remove([r.tx_id for r in event.receipts])
        m.blocks.inc()
        m.height.set(event.height)
        m.last_commit_time.set(time.time())
        m.block_apply_seconds.observe(event.apply_seconds)
        self._track_view()

    def _track_view(self) -> None:
        view = self.replica.view
        if view > self._last_view:
            self.metrics.view_changes.inc(view - self._last_view)
            log.info("consensus view changed to %d", view)
        self._last_view = max(self._last_view, view)

    def submit(self, raw: bytes) -> TxStatus:
        """Admit a signed transaction: its status (pending, or already stored); AdmissionError or
        NodeStoppedError when refused."""
        if self.fatal is not None:
            raise NodeStoppedError("the node stopped after a fatal error")
        try:
            with self.metrics.stages.measure("admission"):
                tx, new = self.mempool.admit(raw, time.monotonic())
        except AdmissionError as exc:
            self.metrics.mempool_refused.labels(reason=exc.code).inc()
            if exc.code == "already_committed":
                found = self.tx_status(SignedTransaction.decode(raw).tx_id)
                if found is not None:
                    return found
            raise
        if new:
            self._origin.add(raw)
            self._queue_offer(raw, gossip=True)
        return TxStatus(tx_id=tx.tx_id, state="pending", height=self.height())

    def tx_status(self, tx_id: bytes) -> TxStatus | None:
        loc = self.store.tx_location(tx_id)
        if loc is not None:
            receipt = self.store.receipt(loc.height, loc.index)
            if receipt is None:
                return None
            return TxStatus(
                tx_id=tx_id,
                state="committed" if receipt.accepted else "rejected",
                height=self.height(),
                block_height=loc.height,
                index=loc.index,
                receipt=receipt,
            )
        if tx_id in self.mempool:
            return TxStatus(tx_id=tx_id, state="pending", height=self.height())
        return None

    def pending(self, tx_id: bytes) -> Pending | None:
        return self.mempool.get(tx_id)

    # ------------------------------------------------------------------ reading
    def height(self) -> int:
        return self.executor.meta.height

    def status(self) -> dict[str, Any]:
        meta = self.executor.meta
        return {
            "node_id": self.config.node_id,
            "org_id": self.spec.org_id,
            "role": "validator" if self.replica.is_validator else "observer",
            "chain_id": self.genesis.chain_id,
            "genesis_hash": self.genesis.hash.hex(),
            "height": meta.height,
            "last_block_hash": meta.block_hash.hex(),
            "state_root": meta.state_root.hex(),
            "view": self.replica.view,
            "epoch": self.replica.epoch_start,
            "validators": self.replica.validators.n,
            "validator_index": self.replica.me,
            "view_active": self.replica.view_active,
            "view_following": self.replica.following,
            "peers": self.network.connected_peers(),
            "mempool": {"txs": len(self.mempool), "bytes": self.mempool.bytes},
            "uptime_s": round(time.time() - self.started_at, 1),
        }

    def health(self) -> tuple[bool, dict[str, Any]]:
        ok = self.fatal is None and not self.stop_requested.is_set()
        return ok, {"height": self.height(), "peers": len(self.network.connected_peers())}

    def readiness(self) -> dict[str, Any]:
        """The facts /readyz judges (see the module's rules)."""
        height = self.height()
        connected = set(self.network.connected_peers())
        validators = self.replica.validators  # the set in force at the next height
        peers = {self._key_to_peer.get(k) for k in validators.pubkeys if k != self.key.public}
        linked = len(peers & connected)
        return {
            "alive": self.fatal is None and not self.stop_requested.is_set(),
            "height": height,
            "best_known_height": max(height, self.replica.st.target_height),  # verified certificates
            "reported_height": self.replica.reported_height,  # STATUS of f+1 validators at least
            "validators_connected": linked + (1 if self.key.public in validators.pubkeys else 0),
            "quorum": validators.quorum,
        }

    def block(self, height: int) -> tuple[bytes, bytes] | None:
        block, cert = self.store.block_bytes(height), self.store.certificate_bytes(height)
        return None if block is None or cert is None else (block, cert)

    def receipts(self, height: int) -> list[Receipt] | None:
        if height > self.height():
            return None
        return self.store.receipts(height)

    def refresh_metrics(self) -> None:
        """Bring the gauges read at scrape time up to date."""
        self.metrics.mempool_txs.set(len(self.mempool))
        self.metrics.mempool_bytes.set(self.mempool.bytes)
        self.metrics.peers.set(len(self.network.connected_peers()))
        self.metrics.validators_connected.set(self.readiness()["validators_connected"])
        self.metrics.view.set(self.replica.view)
        self._track_view()
        for reason, count in self.replica.stats.items():
            self.metrics.consensus_dropped.labels(reason=reason).set(count)
        self.metrics.sigcache.labels(kind="hits").set(self.signatures.hits)
        self.metrics.sigcache.labels(kind="misses").set(self.signatures.misses)

    # ------------------------------------------------------------------ running
    def _fatal(self, exc: BaseException) -> None:
        self.fatal = exc
        self.stop_requested.set()

    def request_stop(self) -> None:
        self.stop_requested.set()

    async def start(self) -> None:
        """Open the peer network (unless a snapshot join opened it), start the driver and the
        re-offer loop (a node the ledger removed, or whose key it rotated out, stops at once and
        says why)."""
        self._check_membership()
        if not self._network_started:
            await self.network.start()
            self._network_started = True
        self.driver.start()
        self._reoffer_task = asyncio.create_task(self._reoffer_loop(), name="reoffer")

    async def stop(self) -> None:
        """Stop the re-offer loop, the network and the driver (finishing the action in progress)."""
        if self._reoffer_task is not None:
            self._reoffer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reoffer_task
        await self.network.stop()
        await self.driver.stop()
