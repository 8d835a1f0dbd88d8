"""The composition root: the one place that builds a node and wires its parts together.

Rules:

- `NodeApp.build(config)` loads genesis and the node key (the key must be the one the ledger lists
  for this node: its genesis key, the key a rotation put in force or is about to, or, for a node
  not registered yet, any key no other node holds), verifies the validators a `bootstrap` peer
  names (`node/runtime/bootstrap.py`), loads the person-key secret (before anything opens: a bad secret stops the
  node), opens and checks the store (`node.store.open_store`), then builds the runtime, the read
  index, the API context, the event hub and privacy, subscribes the listeners (runtime commits ->
  read index and event hub; API reads -> access log; peer requests -> blob transfer) and mounts
  the route groups on one app. No other module subscribes itself to anything.
- `NodeApp.run()` installs the log limits (`node/api/logfilter.py`: repeated identical warnings are
  rate-limited), first lets an empty node join by a verified snapshot of a peer's state
  (node/runtime/statesync.py; `[state] sync = "replay"` replays from genesis instead), then
  starts the index, the runtime, the anchoring loop and the API server (`node/api/server.py`:
  uvicorn with bounded connections; the node owns SIGTERM and SIGINT) and stops them in the
  reverse order. A node added after genesis (`Node.awaits_admission`) starts its API before the
  join, which waits for a peer to admit it: meanwhile only health and status answer (503
  `joining` else), and a stop ends the wait. The stop order is: API, anchoring, runtime (network,
  driver finishing the action in progress), index, privacy, store. A fatal error (storage
  failure) stops the node the same way; the exit code is 1 then, 3 when the node left the network
  (removed, or its key rotated out: it says why), else 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass

from fastapi import FastAPI

from node.api import backup as backup_routes
from node.api import chain as chain_routes
from node.api import core as core_routes
from node.api import events as event_routes
from node.api import orgs as org_routes
from node.api import proofs as proof_routes
from node.api import records as record_routes
from node.api import session as session_routes
from node.api import state as state_routes
from node.api import validators as validator_routes
from node.api.app import StageMiddleware, create_app
from node.api.auth import Authenticator, AuthSettings
from node.api.context import ApiContext
from node.api.eventhub import EventHub
from node.api.logfilter import RepeatFilter, install_log_limits
from node.api.ratelimit import AdmissionBudget, AdmissionSettings
from node.api.server import ServerLimits, api_server
from node.config import NodeConfig
from node.console import build_router as build_console_router
from node.errors import ConfigError
from node.index import Indexer, default_url
from node.metrics import NodeMetrics
from node.privacy import blob_routes
from node.privacy import routes as privacy_routes
from node.privacy.recorder import AttemptLogger, NodeIdentity
from node.privacy.service import Privacy, load_person_key_secrets
from node.runtime.bootstrap import Bootstrap, BootstrapError, bootstrap
from node.runtime.node import Node
from node.runtime.registry import read_registry
from node.store import BlockStore, open_store
from wire.errors import GenesisError
from wire.files import load_genesis, load_signing_key
from wire.genesis import Genesis
from wire.nodekeys import node_in_force, node_key_state_key
from wire.records import decode_value

log = logging.getLogger("orgledger.node")
EXIT_LEFT = 3
BOOTSTRAP_WAIT_S = 60.0


@dataclass(eq=False, kw_only=True)
class NodeApp:
    config: NodeConfig
    genesis: Genesis
    store: BlockStore
    runtime: Node
    indexer: Indexer
    privacy: Privacy
    api: ApiContext
    app: FastAPI

    @classmethod
    def build(cls, config: NodeConfig) -> NodeApp:
        genesis = load_genesis(config.genesis_file)
        key = load_signing_key(config.key_file)
        secrets = load_person_key_secrets(config)
        store = open_store(config.data_dir, genesis, config.verify_on_start, compress=config.store.compress)
        try:
            boot = _bootstrap(config, genesis, store)
            _check_key(config, key.public, genesis, store, boot)
            listed = read_registry(store).get(config.node_id)
            metrics = NodeMetrics(config.node_id, "observer" if listed is None else listed.role)
            runtime = Node(
                config=config,
                genesis=genesis,
                key=key,
                store=store,
                metrics=metrics,
                bootstrap=() if boot is None else boot.peers,
                bootstrap_height=0 if boot is None else boot.height,
            )
            spec = runtime.spec
            indexer = Indexer(
                store,
                config.index_url or default_url(config.data_dir),
                genesis.hash,
                on_cpu=lambda seconds: metrics.stages.add("index", seconds),
            )
            root = next(o.org_id for o in genesis.orgs if "." not in o.org_id)

            def lookup_user(pubkey: bytes) -> dict[str, object] | None:
                raw = store.state_get(b"user/" + pubkey.hex().encode())
                return None if raw is None else decode_value(raw)

            def lookup_node(pubkey: bytes) -> tuple[str, str] | None:
                raw = store.state_get(node_key_state_key(pubkey.hex()).encode())
                return None if raw is None else node_in_force(decode_value(raw))

            def render_metrics() -> tuple[bytes, str]:
                runtime.refresh_metrics()
                metrics.index_height.set(indexer.height)
                metrics.index_lag.set(max(0, runtime.height() - max(indexer.height, 0)))
                return metrics.render()

            def on_inconsistent(keys: list[bytes]) -> None:
                metrics.index_inconsistent.inc(len(keys))
                indexer.repair(keys)

            api = ApiContext(
                chain=runtime,
                store=store,
                index=indexer,
                auth=Authenticator(
                    genesis.chain_id,
                    config.node_id,
                    lookup_user,
                    lookup_node,
                    root,
                    AuthSettings.from_config(config.api),
                ),
                genesis=genesis,
                node_id=config.node_id,
                render_metrics=render_metrics,
                on_inconsistent=on_inconsistent,
                ready_max_behind=config.api.ready_max_behind,
                index_max_lag=config.index.ready_max_lag,
                admission=AdmissionBudget(AdmissionSettings.from_config(config.admission)),
            )
            hub = EventHub(store, runtime.height)
            privacy = Privacy(
                config=config,
                secrets=secrets,
                store=store,
                identity=NodeIdentity(config.node_id, spec.org_id, genesis.chain_id, key),
                exec_lag=genesis.consensus.exec_lag,
                registry=metrics.registry,
                submit=runtime.submit,
                height=runtime.height,
                request_peer=runtime.request_peer,
                peers=lambda: [str(p) for p in runtime.connected_peers()],
            )
        except BaseException:
            store.close()
            raise
        # the listeners: who hears of what
        runtime.commit_listeners.append(indexer.on_commit)
        runtime.commit_listeners.append(hub.on_commit)
        api.read_listeners.append(privacy.recorder.on_read)
        runtime.peer_handlers["blob_get"] = privacy.blob_peers.on_request
        runtime.peer_handlers["blob_have"] = privacy.blob_peers.on_request
        app = create_app(
            [
                core_routes.build_router(api),
                session_routes.build_router(api),
                record_routes.build_router(api),
                org_routes.build_router(api),
                chain_routes.build_router(api),
                validator_routes.build_router(api),
                proof_routes.build_router(api, api.authn),
                state_routes.build_router(api),
                event_routes.build_router(api, hub),
                privacy_routes.build_router(privacy, api),
                blob_routes.build_router(privacy, api),
                backup_routes.build_router(
                    api,
                    dirs=[("blobs", config.data_dir / "blobs"), ("accesslog", config.data_dir / "accesslog")],
                ),
                build_console_router(genesis),
            ],
            height=runtime.height,
            title=f"orgledger node {config.node_id}",
            joining=lambda: runtime.joining,
        )
        app.add_middleware(AttemptLogger, recorder=privacy.recorder)
        app.add_middleware(StageMiddleware, clock=metrics.stages)  # outermost: all of the handling
        return cls(
            config=config,
            genesis=genesis,
            store=store,
            runtime=runtime,
            indexer=indexer,
            privacy=privacy,
            api=api,
            app=app,
        )

    def close(self) -> None:
        """Release what `build` opened, for a node that never ran."""
        self.privacy.close()
        self.store.close()

    async def run(self) -> int:
        runtime = self.runtime
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, runtime.request_stop)
        server = api_server(
            self.app,
            host=self.config.api_host,
            port=self.config.api_port,
            limits=ServerLimits.from_config(self.config.api),
            tls=self.config.api_tls,
        )
        install_log_limits(RepeatFilter())
        stop = asyncio.create_task(runtime.stop_requested.wait())
        api: asyncio.Task[None] | None = None
        anchoring: asyncio.Task[None] | None = None
        joined = True
        if self.config.state.sync == "snapshot":
            if runtime.awaits_admission():  # health and status answer while it waits (JoiningGate)
                api = asyncio.create_task(server.serve(), name="api")
            joined = await self._join(stop, api)
        if joined:
            self.indexer.start()
            await runtime.start()
            anchoring = asyncio.create_task(self.privacy.run(), name="privacy")
            api = api or asyncio.create_task(server.serve(), name="api")
            log.info(
                "node %s (%s) running at height %d", self.config.node_id, runtime.spec.role, runtime.height()
            )
            await asyncio.wait({api, stop}, return_when=asyncio.FIRST_COMPLETED)
        if api is not None and api.done() and api.exception() is not None:
            runtime.fatal = runtime.fatal or api.exception()
        server.should_exit = True
        if anchoring is not None:
            anchoring.cancel()
        await asyncio.gather(*(t for t in (api, anchoring) if t is not None), return_exceptions=True)
        await runtime.stop()
        await asyncio.to_thread(self.indexer.stop)
        self.privacy.close()
        self.store.close()
        stop.cancel()
        if runtime.fatal is not None:
            log.critical("node %s stopped: %s", self.config.node_id, runtime.fatal)
            return 1
        if runtime.left is not None:
            log.critical("node %s left the network: %s", self.config.node_id, runtime.left)
            return EXIT_LEFT
        log.info("node %s stopped cleanly at height %d", self.config.node_id, runtime.height())
        return 0

    async def _join(self, stop: asyncio.Task[bool], api: asyncio.Task[None] | None) -> bool:
        """Join by snapshot (`Node.join_by_snapshot`) unless the node is stopped meanwhile (or its
        early API fails): True once joined (by snapshot or not), False when stopped first."""
        join = asyncio.create_task(self.runtime.join_by_snapshot(), name="join")
        await asyncio.wait({join, stop, *([api] if api else [])}, return_when=asyncio.FIRST_COMPLETED)
        if not join.done():
            join.cancel()
            await asyncio.gather(join, return_exceptions=True)
            return False
        installed = join.result()
        if installed is not None:
            log.info("node %s joined by the verified snapshot of height %d", self.config.node_id, installed)
        return True


def _bootstrap(config: NodeConfig, genesis: Genesis, store: BlockStore) -> Bootstrap | None:
    """The verified validators of the `bootstrap` peer: needed by a node with no chain yet (it
    waits up to BOOTSTRAP_WAIT_S for the peer); a node with a chain only uses them if it can."""
    if not config.bootstrap:
        return None
    fresh = store.height == 0
    deadline = time.monotonic() + (BOOTSTRAP_WAIT_S if fresh else 0.0)
    while True:
        try:
            return bootstrap(config.bootstrap, genesis)
        except BootstrapError as exc:
            if time.monotonic() >= deadline:
                if fresh:
                    raise
                log.warning("bootstrap skipped (the node has its chain): %s", exc)
                return None
            time.sleep(1.0)


def _check_key(
    config: NodeConfig, pubkey: bytes, genesis: Genesis, store: BlockStore, boot: Bootstrap | None
) -> None:
    """The node key is the one the ledger lists for this node (see the module docstring)."""
    registry = read_registry(store)
    mine = registry.get(config.node_id)
    if mine is None and boot is not None:
        mine = next((e for e in boot.peers if e.node_id == config.node_id), None)
    if mine is None:
        try:
            listed = genesis.node(config.node_id).pubkey
        except GenesisError:
            listed = None
        if listed is not None and listed != pubkey:
            raise ConfigError(f"{config.key_file} is not the key genesis lists for node {config.node_id}")
        owner = next((e.node_id for e in registry.values() if e.pubkey == pubkey), None)
        if owner is not None and owner != config.node_id:
            raise ConfigError(f"{config.key_file} is the key of node {owner}")
        return
    pending = (mine.pending or {}).get("pubkey")
    if pubkey not in (mine.pubkey, bytes.fromhex(pending) if pending else b""):
        raise ConfigError(
            f"{config.key_file} is not the key the ledger lists for node {config.node_id} "
            f"({mine.pubkey.hex()[:16]}…)"
        )


async def run_node(config: NodeConfig) -> int:
    """Build the node of `config` and run it until SIGTERM; its exit code."""
    return await NodeApp.build(config).run()
