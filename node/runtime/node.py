"""One orgledger node process: storage, executor, mempool, consensus driver, peer network and API.

Rules:

- Start-up order: open the store (fail fast on lock, corruption, another chain), check what it
  holds (`node/store/integrity.py`, `[integrity] verify_on_start`), write genesis state if empty,
  recover the replica from the store, then open the network and the API.
- Transactions reach validators by gossip: a transaction admitted through this node's API is
  sent to every other validator once (observers never propose, so they get none); a transaction
  received by gossip is admitted but not re-gossiped.
- Catch-up: a peer's `RequestTransfer` is answered from the store with at most
  `TRANSFER_BLOCKS_MAX` blocks and `TRANSFER_BYTES_MAX` bytes, with their certificates.
- SIGTERM stops cleanly: API, network, driver (finishing the action in progress), store.
  A fatal error (storage failure) stops the node the same way and exits non-zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import uvicorn
from fastapi import APIRouter

from consensus import RecoveredState, Replica, ReplicaConfig
from network import NetworkConfig, PeerId, PeerNetwork, PeerSpec
from node.api.app import ApiError, create_app
from node.config import NodeConfig
from node.errors import ConfigError
from node.failpoints import FailPoints
from node.index import Indexer, default_url
from node.metrics import NodeMetrics
from node.privacy.service import Privacy
from node.runtime.driver import KIND_CONSENSUS, KIND_TXS, Driver
from node.runtime.executor import Executor
from node.runtime.mempool import AdmissionError, Mempool, SignatureCache
from node.runtime.txcheck import TxChecker
from node.store.integrity import verify_store
from node.store.storage import BlockStore, Meta
from wire import codec
from wire.crypto import load_signing_key
from wire.errors import DecodeError
from wire.genesis import Genesis, NodeSpec
from wire.types import Block, CommitCertificate, Receipt, SignedTransaction

log = logging.getLogger("orgledger.node")

TRANSFER_BLOCKS_MAX = 64
TRANSFER_BYTES_MAX = 8 * 1024 * 1024
GOSSIP_BATCH_MAX = 512
REOFFER_AFTER_S = 2.0
REOFFER_MAX = 4096


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.genesis = Genesis.load(config.genesis_file)
        self.key = load_signing_key(config.key_file)
        self.spec = self.genesis.node(config.node_id)
        if self.spec.pubkey != self.key.public:
            raise ConfigError(f"{config.key_file} is not the key genesis lists for node {config.node_id}")
        # data protection (docs/privacy.md): the person-key secret is checked before anything opens
        self.privacy = Privacy(config, self.genesis, self.key)
        self.validators = self.genesis.validators
        self.my_index = self.validators.index_of(self.key.public)
        self.metrics = NodeMetrics(config.node_id, self.spec.role)
        self.store = BlockStore.open(config.data_dir, self.genesis.hash)
        try:
            verify_store(self.store, self.genesis, config.verify_on_start)
        except BaseException:
            self.store.close()
            raise
        self.signatures = SignatureCache()
        self.executor = Executor(self.store, self.genesis, self.signatures.decode)
        self.mempool = Mempool(
            chain_id=self.genesis.chain_id,
            signatures=self.signatures,
            is_committed=lambda tx_id: self.store.tx_location(tx_id) is not None,
            max_tx_bytes=self.genesis.consensus.max_tx_bytes,
        )
        self.checker = TxChecker(self.genesis.chain_id, self.signatures, self.genesis.consensus.max_tx_bytes)
        self._peer_index = {n.node_id: i for i, n in enumerate(self.genesis.validator_nodes)}
        observers = [n.node_id for n in self.genesis.nodes if n.role == "observer"]
        self._peer_index.update({node_id: -(i + 1) for i, node_id in enumerate(observers)})
        self._validator_ids = [n.node_id for n in self.genesis.validator_nodes]
        self.replica = Replica(
            self._replica_config(),
            self.key.signer() if self.my_index is not None else None,
            self.checker,
            self._recovered(),
        )
        self.network = PeerNetwork(
            NetworkConfig(node_id=config.node_id, listen_host=config.p2p_host, listen_port=config.p2p_port),
            self.key,
            [self._peer_spec(n) for n in self.genesis.nodes],
            self.genesis.chain_id,
            self.genesis.hash,
            self._on_peer_message,
            self._on_peer_request,
        )
        self.driver = Driver(
            replica=self.replica,
            store=self.store,
            executor=self.executor,
            tick_ms=self.genesis.consensus.tick_ms,
            send=self._send_to_validator,
            broadcast=self.network.broadcast,
            fetch=self._fetch_blocks,
            on_commit=self._on_commit,
            on_fatal=self._fatal,
            failpoints=FailPoints(),
        )
        self._gossip: list[bytes] = []
        self._offer: list[bytes] = []
        self._flush_scheduled = False
        self._stop = asyncio.Event()
        self.reoffered = 0
        # called after each block is stored: (block, certificate, meta, receipts); must not raise
        self.commit_listeners: list[Callable[[Block, CommitCertificate, Meta, list[Receipt]], None]] = []
        # the read index follows the store on its own thread; the listener only enqueues the height
        self.indexer = Indexer(
            self.store, config.index_url or default_url(config.data_dir, config.node_id), self.genesis.hash
        )
        self.commit_listeners.append(self.indexer.on_commit)
        # told of every read of ledger contents through the read API (node.api.records.ReadEvent)
        self.read_listeners: list[Callable[[Any], None]] = []
        # peer requests other than "blocks", by their first element (blob transfer)
        self.peer_handlers: dict[str, Callable[[PeerId, list[Any]], Awaitable[bytes]]] = {}
        self.privacy.attach(self)
        self.fatal: BaseException | None = None
        self.started_at = time.time()

    # ------------------------------------------------------------------ construction helpers
    def _replica_config(self) -> ReplicaConfig:
        roots = self.store.roots(0)
        if roots is None:
            raise ConfigError("the store has no genesis roots")
        return ReplicaConfig(
            chain_id=self.genesis.chain_id,
            validators=self.validators,
            params=self.genesis.consensus,
            my_index=self.my_index,
            genesis_hash=self.genesis.hash,
            genesis_state_root=roots[0],
            genesis_results_root=roots[1],
            genesis_time_ms=self.genesis.genesis_time_ms,
        )

    def _recovered(self) -> RecoveredState | None:
        meta = self.executor.meta
        entries = tuple(self.store.consensus_entries())
        if meta.height == 0 and not entries:
            return None
        lag = self.genesis.consensus.exec_lag
        executed = []
        for h in range(max(0, meta.height - lag - 1), meta.height + 1):
            roots = self.store.roots(h)
            if roots is not None:
                executed.append((h, roots[0], roots[1]))
        block = self.store.block(meta.height) if meta.height else None
        window = self.genesis.consensus.watermark_window
        recent = []
        for h in range(max(1, meta.height - window + 1), meta.height + 1):
            b, c = self.store.block(h), self.store.certificate(h)
            if b is not None and c is not None:
                recent.append((b, c))
        return RecoveredState(
            entries=entries,
            committed_height=meta.height,
            committed_hash=meta.block_hash,
            committed_timestamp_ms=block.header.timestamp_ms if block else self.genesis.genesis_time_ms,
            committed_certificate=self.store.certificate(meta.height) if meta.height else None,
            executed=tuple(executed),
            recent_commits=tuple(recent),
        )

    # ------------------------------------------------------------------ peers
    def _peer_spec(self, node: NodeSpec) -> PeerSpec:
        override = self.config.peer_addresses.get(node.node_id)
        if override is None:
            return PeerSpec.from_node(node)
        return PeerSpec.from_node(node, host=override[0], port=override[1])

    def _send_to_validator(self, index: int, data: bytes) -> bool:
        if not 0 <= index < len(self._validator_ids):
            return False
        return self.network.send(PeerId(self._validator_ids[index]), data)

    async def _on_peer_message(self, peer: PeerId, data: bytes) -> None:
        sender = self._peer_index.get(peer)
        if sender is None or not data:
            return
        kind, body = data[:1], data[1:]
        if kind == KIND_CONSENSUS:
            self.driver.on_peer_message(sender, body)
        elif kind == KIND_TXS:
            self._admit_gossip(body)

    def _admit_gossip(self, body: bytes) -> None:
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
            kind, lo, hi = req
            if kind != "blocks" or type(lo) is not int or type(hi) is not int:
                raise ValueError
        except (DecodeError, ValueError, TypeError):
            return codec.encode_trusted(["error", "bad_request"])
        top = min(hi, self.executor.meta.height, lo + TRANSFER_BLOCKS_MAX - 1)
        items: list[list[bytes]] = []
        size = 0
        for h in range(max(lo, 1), top + 1):
            block, cert = self.store.block_bytes(h), self.store.certificate_bytes(h)
            if block is None or cert is None:
                break
            size += len(block) + len(cert)
            if items and size > TRANSFER_BYTES_MAX:
                break
            items.append([block, cert])
        return codec.encode_trusted(["blocks", items])

    async def _fetch_blocks(self, peer: int, lo: int, hi: int) -> tuple[tuple[bytes, bytes], ...]:
        if not 0 <= peer < len(self._validator_ids):
            return ()
        raw = await self.network.request(
            PeerId(self._validator_ids[peer]), codec.encode_trusted(["blocks", lo, hi]), 10.0
        )
        doc = codec.decode(raw)
        if not isinstance(doc, list) or len(doc) != 2 or doc[0] != "blocks" or not isinstance(doc[1], list):
            return ()
        out = []
        for item in doc[1][:TRANSFER_BLOCKS_MAX]:
            if isinstance(item, list) and len(item) == 2 and all(isinstance(x, bytes) for x in item):
                out.append((item[0], item[1]))
        return tuple(out)

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
        if self.my_index is not None:
            self.driver.offer_requests(offer)
        # transactions go to the validators only: observers never propose, and an observer that
        # verified every signature would do a validator's work for nothing
        for i in range(0, len(gossip), GOSSIP_BATCH_MAX):
            frame = KIND_TXS + codec.encode_trusted(gossip[i : i + GOSSIP_BATCH_MAX])
            for peer in self._validator_ids:
                if peer != self.config.node_id:
                    self.network.send(PeerId(peer), frame)

    async def _reoffer_loop(self) -> None:
        """Re-offer transactions still pending after a while to consensus and re-gossip them."""
        while True:
            await asyncio.sleep(REOFFER_AFTER_S / 2)
            stale = self.mempool.stale(time.monotonic(), REOFFER_AFTER_S, REOFFER_MAX)
            if stale:
                self.reoffered += len(stale)
                for raw in stale:
                    self._queue_offer(raw, gossip=True)

    def _on_commit(self, block: Block, cert: CommitCertificate, meta: Meta, seconds: float) -> None:
        last = self.executor.last_receipts
        receipts = (
            list(last[1]) if last is not None and last[0] == meta.height else self.store.receipts(meta.height)
        )
        for listener in self.commit_listeners:
            try:
                listener(block, cert, meta, receipts)
            except Exception:  # a listener (index, event stream) must never stop consensus
                log.exception("commit listener failed at height %d", meta.height)
        self.mempool.remove([r.tx_id for r in receipts])
        self.metrics.blocks.inc()
        self.metrics.height.set(meta.height)
        self.metrics.block_apply_seconds.observe(seconds)
        for r in receipts:
            self.metrics.txs.labels(status=r.status).inc()

    # ------------------------------------------------------------------ NodeService (the API)
    def height(self) -> int:
        return self.executor.meta.height

    def status(self) -> dict[str, Any]:
        meta = self.executor.meta
        return {
            "node_id": self.config.node_id,
            "org_id": self.spec.org_id,
            "role": self.spec.role,
            "chain_id": self.genesis.chain_id,
            "genesis_hash": self.genesis.hash.hex(),
            "height": meta.height,
            "last_block_hash": meta.block_hash.hex(),
            "state_root": meta.state_root.hex(),
            "view": self.replica_view(),
            "validator_index": self.my_index,
            "peers": self.network.connected_peers(),
            "mempool": {"txs": len(self.mempool), "bytes": self.mempool.bytes},
            "indexed_height": self.indexer.height,
            "uptime_s": round(time.time() - self.started_at, 1),
        }

    def replica_view(self) -> int:
        return self.replica.view

    def health(self) -> tuple[bool, dict[str, Any]]:
        ok = self.fatal is None and not self._stop.is_set()
        return ok, {"height": self.height(), "peers": len(self.network.connected_peers())}

    def submit(self, raw: bytes) -> dict[str, Any]:
        if self.fatal is not None:
            raise ApiError(503, "node_stopped", "the node stopped after a fatal error")
        try:
            tx, new = self.mempool.admit(raw, time.monotonic())
        except AdmissionError as exc:
            self.metrics.mempool_refused.labels(reason=exc.code).inc()
            if exc.code == "already_committed":
                found = self.tx_status(SignedTransaction.decode(raw).tx_id)
                if found is not None:
                    return found
            headers = {"Retry-After": "1"} if exc.status in (429, 503) else None
            raise ApiError(exc.status, exc.code, str(exc), headers) from None
        if new:
            self._queue_offer(raw, gossip=True)
        return {"tx_id": tx.tx_id.hex(), "status": "pending", "height": self.height()}

    def tx_status(self, tx_id: bytes) -> dict[str, Any] | None:
        from node.api.app import receipt_json

        loc = self.store.tx_location(tx_id)
        if loc is not None:
            receipt = self.store.receipt(loc.height, loc.index)
            if receipt is None:
                return None
            return {
                "tx_id": tx_id.hex(),
                "status": "committed" if receipt.accepted else "rejected",
                "block_height": loc.height,
                "index": loc.index,
                "receipt": receipt_json(receipt),
                "height": self.height(),
            }
        if tx_id in self.mempool:
            return {"tx_id": tx_id.hex(), "status": "pending", "height": self.height()}
        return None

    def block(self, height: int) -> tuple[bytes, bytes] | None:
        block, cert = self.store.block_bytes(height), self.store.certificate_bytes(height)
        return None if block is None or cert is None else (block, cert)

    def receipts(self, height: int) -> list[Receipt] | None:
        if height > self.height():
            return None
        return self.store.receipts(height)

    def render_metrics(self) -> tuple[bytes, str]:
        self.metrics.mempool_txs.set(len(self.mempool))
        self.metrics.mempool_bytes.set(self.mempool.bytes)
        self.metrics.peers.set(len(self.network.connected_peers()))
        self.metrics.view.set(self.replica_view())
        for reason, count in self.replica.stats.items():
            self.metrics.consensus_dropped.labels(reason=reason).set(count)
        self.metrics.sigcache.labels(kind="hits").set(self.signatures.hits)
        self.metrics.sigcache.labels(kind="misses").set(self.signatures.misses)
        return self.metrics.render()

    def routers(self) -> list[APIRouter]:
        """Feature routers mounted on the API (each module owns its routes)."""
        from node.api import events as eventsapi
        from node.api import proofs as proofapi
        from node.api.records import ReadApi
        from node.api.records import build_router as read_api

        api = ReadApi(self)
        return [
            read_api(self, api),
            proofapi.build_router(self, api.authn),
            eventsapi.build_router(self, api.authn),
            *self.privacy.routers(api),
        ]

    # ------------------------------------------------------------------ running
    def _fatal(self, exc: BaseException) -> None:
        self.fatal = exc
        self._stop.set()

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        app = create_app(self, title=f"orgledger node {self.config.node_id}", routers=self.routers())
        self.privacy.install(app)
        server = _QuietServer(
            uvicorn.Config(
                app,
                host=self.config.api_host,
                port=self.config.api_port,
                log_level="warning",
                lifespan="off",
                access_log=False,
            )
        )
        self.indexer.start()
        await self.network.start()
        self.driver.start()
        reoffer = asyncio.create_task(self._reoffer_loop(), name="reoffer")
        privacy = asyncio.create_task(self.privacy.run(), name="privacy")
        api = asyncio.create_task(server.serve(), name="api")
        log.info("node %s (%s) running at height %d", self.config.node_id, self.spec.role, self.height())
        stop = asyncio.create_task(self._stop.wait())
        await asyncio.wait({api, stop}, return_when=asyncio.FIRST_COMPLETED)
        if api.done() and api.exception() is not None:
            self.fatal = self.fatal or api.exception()
        server.should_exit = True
        await asyncio.gather(api, return_exceptions=True)
        reoffer.cancel()
        privacy.cancel()
        await self.network.stop()
        await self.driver.stop()
        await asyncio.to_thread(self.indexer.stop)
        self.privacy.close()
        self.store.close()
        stop.cancel()
        if self.fatal is not None:
            log.critical("node %s stopped: %s", self.config.node_id, self.fatal)
            return 1
        log.info("node %s stopped cleanly at height %d", self.config.node_id, self.executor.meta.height)
        return 0


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the node owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield
