"""PeerNetwork: the node's view of its peers (the public API; see network/__init__.py).

Rules:

- One aiohttp server on the p2p port accepts websocket connections at `P2P_PATH`; one dial task
  per peer with `dial=True` keeps a link to it, dialing only while the peer has no link.
- At most one link per peer. A second link from the same direction is `duplicate` (the same key
  from two places): refused, counted, logged. One inbound plus one outbound (simultaneous dial)
  keep the link dialed by the smaller node id; both ends apply the same rule, so they agree.
- Dialing backs off exponentially with jitter: attempt k waits `reconnect_base_s * 2**(k-1)`
  capped at `reconnect_max_s`, times a factor in [0.5, 1). A link that lived at least
  `reconnect_max_s` resets the count.
- Each peer has one bounded receive queue and one delivery task, so `on_message` sees a peer's
  messages in the order they arrived, one at a time, across reconnects.
- Pre-handshake memory is bounded by `pending_handshakes_max` connections, each holding at most
  one websocket message of `frame_bytes_max` (aiohttp's limit is set once per connection): 128 MiB
  with the defaults.
- The peer set follows the node's ledger (`set_peers`): a new peer gets its delivery and dial
  tasks, a peer that left has its link closed (`removed`) and its tasks ended, and a peer whose
  key changed has its link closed (`rekeyed`) and is dialed again under the new key; the
  handshake only ever admits keys of the current set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence

import aiohttp
import yarl
from aiohttp import web

from network import framing, handshake
from network.config import P2P_PATH, NetworkConfig, PeerId, PeerSpec, check_peers
from network.errors import (
    FrameTooLarge,
    HandshakeError,
    NetworkError,
    NotRunning,
    PeerUnavailable,
    UnknownPeer,
)
from network.faults import FaultyTransport
from network.link import Link, RequestHandler, Stats
from network.ws import CLOSE_TIMEOUT_S, WebSocket, WsChannel, close_quietly, dial_failure_reason
from wire.crypto import SigningKey

log = logging.getLogger("orgledger.network")

MessageHandler = Callable[[PeerId, bytes], Awaitable[None]]
_NOT_TOLD = {"closed", "timeout", "too_large"}


class _Peer:
    def __init__(self, spec: PeerSpec, config: NetworkConfig) -> None:
        self.spec = spec
        self.removed = False
        self.link: Link | None = None
        self.unlinked = asyncio.Event()
        self.unlinked.set()
        self.inbox = framing.FrameQueue(config.recv_queue_frames_max, config.recv_queue_bytes_max)
        self.release_timer: asyncio.TimerHandle | None = None

    def gone(self) -> bool:
        """Left the peer set (checked after every await: `set_peers` may run meanwhile)."""
        return self.removed


class PeerNetwork:
    def __init__(
        self,
        config: NetworkConfig,
        identity: SigningKey,
        peers: Sequence[PeerSpec],
        chain_id: str,
        genesis_hash: bytes,
        on_message: MessageHandler | None,
        on_request: RequestHandler | None,
    ) -> None:
        signer = identity.signer()
        self._config = config
        self._me = handshake.Identity(
            node_id=config.node_id, signer=signer, chain_id=chain_id, genesis_hash=genesis_hash
        )
        self._peers = {p.peer_id: _Peer(p, config) for p in check_peers(config, signer.public, peers)}
        self._by_key = {p.spec.pubkey: p.spec for p in self._peers.values()}
        self._on_message = on_message
        self._on_request = on_request
        self._faults = FaultyTransport(config.faults, config.node_id) if config.faults else None
        self._stats = Stats()
        self._rng = random.Random()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._running = False
        self._pending_handshakes = 0
        self._changed = asyncio.Event()
        self._listen_port = 0
        # The websocket limit: one frame header over the payload limit, and aiohttp refuses a
        # message whose declared length reaches max_msg_size.
        self._ws_msg_max = config.frame_bytes_max + framing.HEADER_BYTES_MAX + 1

    # -- public API ----------------------------------------------------------------------------

    @property
    def node_id(self) -> str:
        return self._config.node_id

    @property
    def listen_port(self) -> int:
        """The bound p2p port (useful with `listen_port=0`); 0 before `start`."""
        return self._listen_port

    @property
    def faults(self) -> FaultyTransport | None:
        """The frame fault injector when `config.faults` is set (tests only)."""
        return self._faults

    async def start(self, *, sock: socket.socket | None = None) -> None:
        """Listen (on `sock` if given, else on the configured host and port) and start dialing."""
        if self._running:
            raise NotRunning("the network is already running", code="already_running")
        app = web.Application()
        app.router.add_get(P2P_PATH, self._accept)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        ssl_ctx = self._config.server_ssl
        site: web.BaseSite
        if sock is not None:
            site = web.SockSite(runner, sock, ssl_context=ssl_ctx)
        else:
            site = web.TCPSite(
                runner,
                self._config.listen_host,
                self._config.listen_port,
                ssl_context=ssl_ctx,
                reuse_address=True,
            )
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise NetworkError(f"cannot listen for peers: {exc}", code="listen_failed") from exc
        self._runner = runner
        self._listen_port = int(runner.addresses[0][1])
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=True, enable_cleanup_closed=True)
        )
        self._running = True
        for peer in self._peers.values():
            self._start_peer(peer)
        log.info("p2p %s listening on port %d", self.node_id, self._listen_port)

    def _start_peer(self, peer: _Peer) -> None:
        self._spawn(self._deliver_loop(peer), f"p2p-deliver-{peer.spec.peer_id}")
        if peer.spec.dial:
            self._spawn(self._dial_loop(peer), f"p2p-dial-{peer.spec.peer_id}")

    def set_peers(self, peers: Sequence[PeerSpec]) -> None:
        """Replace the peer set (see the module rules); a spec for ourselves is skipped."""
        own = self._me.signer.public
        wanted = {
            p.peer_id: p
            for p in check_peers(self._config, own, [p for p in peers if p.peer_id != self.node_id])
        }
        for pid in [pid for pid in self._peers if pid not in wanted]:
            self._drop_peer(self._peers.pop(pid), "removed")
        for pid, spec in wanted.items():
            current = self._peers.get(pid)
            if current is not None and current.spec == spec:
                continue
            if current is not None:
                self._drop_peer(
                    self._peers.pop(pid), "rekeyed" if current.spec.pubkey != spec.pubkey else "moved"
                )
            peer = _Peer(spec, self._config)
            self._peers[pid] = peer
            if self._running:
                self._start_peer(peer)
        self._by_key = {p.spec.pubkey: p.spec for p in self._peers.values()}
        self._notify()

    def _drop_peer(self, peer: _Peer, reason: str) -> None:
        peer.removed = True
        peer.unlinked.set()
        if peer.link is not None:
            log.info("p2p %s: closing the link to %s: %s", self.node_id, peer.spec.peer_id, reason)
            peer.link.close(reason)
        if peer.release_timer is not None:
            peer.release_timer.cancel()
        peer.inbox.close()

    async def stop(self) -> None:
        """Close every link, stop dialing and listening; idempotent."""
        if not self._running:
            return
        self._running = False
        for peer in self._peers.values():
            if peer.link is not None:
                peer.link.close("shutdown")
            if peer.release_timer is not None:
                peer.release_timer.cancel()
            peer.inbox.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def send(self, peer: PeerId, data: bytes) -> bool:
        """Queue one message for `peer` without waiting. False (and a counted drop) when the peer
        has no link, its send queue is full, or `data` is over `frame_bytes_max`."""
        p = self._peer(peer)
        if len(data) > self._config.frame_bytes_max:
            self._stats.count("drops.too_large", peer)
            log.error(
                "p2p %s: a message of %d bytes to %s is over frame_bytes_max (%d) and was not sent",
                self._config.node_id,
                len(data),
                peer,
                self._config.frame_bytes_max,
            )
            return False
        link = p.link
        if link is None or not self._running:
            self._stats.count("drops.not_connected", peer)
            return False
        if self._faults is None:
            return link.enqueue(framing.message(data))
        ok = all([link.enqueue(framing.message(f)) for f in self._faults.plan(peer, data)])
        self._schedule_release(p)
        return ok

    def broadcast(self, data: bytes) -> int:
        """`send` to every peer; returns to how many it was queued."""
        return sum(self.send(peer, data) for peer in self._peers)

    async def request(self, peer: PeerId, data: bytes, timeout_s: float) -> bytes:
        """Send a request and wait for its response. Raises PeerUnavailable (no link or full
        queue), PeerDisconnected, RequestTimeout, TooManyRequests, RemoteError or FrameTooLarge."""
        p = self._peer(peer)
        if not self._running:
            raise NotRunning("the network is not running")
        if len(data) > self._config.frame_bytes_max:
            raise FrameTooLarge(f"request of {len(data)} bytes is over frame_bytes_max")
        link = p.link
        if link is None:
            raise PeerUnavailable(f"no link to {peer}")
        return await link.request(data, timeout_s)

    def connected_peers(self) -> list[PeerId]:
        return sorted(pid for pid, p in self._peers.items() if p.link is not None)

    def peer_ids(self) -> list[PeerId]:
        return sorted(self._peers)

    def unlinked(self) -> dict[str, str]:
        """Why each peer without a link has none: its handshake refusals and dial failures so far."""
        why: dict[str, str] = {}
        for pid, p in sorted(self._peers.items()):
            if p.link is not None:
                continue
            counts: dict[str, int] = dict(self._stats.per_peer.get(pid, {}))
            failed = [
                f"{k.split('.', 1)[1]} x{n}"
                for k, n in sorted(counts.items())
                if n and k.startswith(("handshake_failures.", "dial_failures."))
            ]
            why[pid] = f"has no link ({', '.join(failed)})" if failed else "is not linked yet"
        return why

    def stats(self, peer: PeerId | None = None) -> dict[str, int]:
        """Counters (all peers, or one): frames_in/out, bytes_in/out, drops.<reason>,
        handshake_failures.<reason>, dials, reconnects, links_opened, links_closed.<reason>,
        requests_in/out, requests_timed_out, handler_errors, faults.<kind>, and gauges
        connected_peers and send_queue_frames."""
        if peer is not None:
            p = self._peer(peer)
            out = dict(self._stats.per_peer.get(peer, {}))
            out["connected"] = int(p.link is not None)
            out["send_queue_frames"] = p.link.queued_frames if p.link else 0
            out["recv_queue_frames"] = len(p.inbox)
            return out
        out = dict(self._stats.total)
        out["connected_peers"] = len(self.connected_peers())
        out["send_queue_frames"] = sum(p.link.queued_frames for p in self._peers.values() if p.link)
        out["recv_queue_frames"] = sum(len(p.inbox) for p in self._peers.values())
        if self._faults is not None:
            out["faults.dropped"] = self._faults.dropped
            out["faults.duplicated"] = self._faults.duplicated
            out["faults.reordered"] = self._faults.reordered
        return out

    async def wait_connected(self, peers: Iterable[PeerId] | None = None, timeout_s: float = 10.0) -> bool:
        """True once every peer in `peers` (default: all) has a link; False after `timeout_s`."""
        want = set(self._peers if peers is None else peers)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while not want <= set(self.connected_peers()):
                    await self._changed.wait()
                return True
        return False

    # -- internals -----------------------------------------------------------------------------

    def _peer(self, peer: PeerId) -> _Peer:
        p = self._peers.get(peer)
        if p is None:
            raise UnknownPeer(f"{peer!r} is not in the peer set")
        return p

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _schedule_release(self, p: _Peer) -> None:
        assert self._faults is not None
        if self._faults.has_held(p.spec.peer_id) and p.release_timer is None:
            loop = asyncio.get_running_loop()
            p.release_timer = loop.call_later(self._faults.reorder_hold_s, self._release_held, p)

    def _release_held(self, p: _Peer) -> None:
        p.release_timer = None
        frame = self._faults.release(p.spec.peer_id) if self._faults else None
        if frame is not None and p.link is not None:
            p.link.enqueue(framing.message(frame))

    async def _deliver_loop(self, p: _Peer) -> None:
        while True:
            data = await p.inbox.get()
            if data is None:
                return
            if self._on_message is None:
                continue
            try:
                await self._on_message(p.spec.peer_id, data)
            except Exception:
                self._stats.count("handler_errors", p.spec.peer_id)
                log.exception("p2p: the handler of a message from %s failed", p.spec.peer_id)

    def _inbox_put(self, p: _Peer, data: bytes) -> None:
        if self._on_message is None:
            self._stats.count("drops.no_handler", p.spec.peer_id)
        elif not p.inbox.put(data):
            self._stats.count("drops.recv_queue_full", p.spec.peer_id)

    def _admit(self, p: _Peer, outbound: bool, remote: str) -> str:
        """Decide (synchronously, so no other handshake interleaves) whether a freshly
        authenticated connection becomes the peer's link: ok, replace, duplicate or tiebreak."""
        current = p.link
        if not self._running:
            return "shutting_down"
        if p.removed:
            return "unknown_key"
        if current is None:
            return handshake.OK
        if current.outbound == outbound:
            log.warning(
                "p2p %s: key already connected from %s; refusing a second connection from %s",
                p.spec.peer_id,
                current.remote,
                remote,
            )
            return "duplicate"
        new_dialer = self.node_id if outbound else p.spec.peer_id
        if new_dialer == min(self.node_id, p.spec.peer_id):
            return "replace"
        return "tiebreak"

    def _install(self, p: _Peer, ws: WebSocket, outbound: bool, remote: str, verdict: str) -> Link:
        if verdict == "replace" and p.link is not None:
            p.link.close("replaced")
        link = Link(
            peer_id=p.spec.peer_id,
            ws=ws,
            outbound=outbound,
            remote=remote,
            config=self._config,
            stats=self._stats,
            deliver=lambda data: self._inbox_put(p, data),
            on_request=self._on_request,
        )
        p.link = link
        p.unlinked.clear()
        self._stats.count("links_opened", p.spec.peer_id)
        log.info("p2p %s: linked to %s (%s, %s)", self.node_id, p.spec.peer_id, remote, _dir(outbound))
        self._notify()
        return link

    async def _serve_link(self, p: _Peer, link: Link) -> None:
        try:
            reason = await link.run()
        finally:
            if p.link is link:
                p.link = None
                p.unlinked.set()
                self._notify()
        self._stats.count(f"links_closed.{reason}", p.spec.peer_id)
        log.info("p2p %s: link to %s closed: %s", self.node_id, p.spec.peer_id, reason)

    def _handshake_failed(self, exc: HandshakeError, remote: str, peer: str | None) -> None:
        self._stats.count(f"handshake_failures.{exc.code}", peer)
        if exc.code in ("closed", "shutting_down"):
            level = logging.DEBUG
        elif exc.code in ("tiebreak", "peer_refused.tiebreak"):
            level = logging.INFO  # the expected end of a simultaneous dial
        else:
            level = logging.WARNING
        log.log(level, "p2p %s: handshake with %s failed: %s", self.node_id, remote, exc.message)

    # -- inbound -------------------------------------------------------------------------------

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        remote = f"{request.remote}"
        if not self._running or self._pending_handshakes >= self._config.pending_handshakes_max:
            self._stats.count("handshake_failures.too_many_pending")
            return web.Response(status=503, text="busy")
        ws = web.WebSocketResponse(
            timeout=CLOSE_TIMEOUT_S,
            autoping=True,
            heartbeat=self._config.heartbeat_s,
            compress=False,
            max_msg_size=self._ws_msg_max,
        )
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="websocket upgrade expected")
        self._pending_handshakes += 1
        try:
            await ws.prepare(request)
            admitted = await self._accept_handshake(ws, remote)
        finally:
            self._pending_handshakes -= 1
        if admitted is None:
            await close_quietly(ws)
        else:
            await self._serve_link(*admitted)
        return ws

    async def _accept_handshake(self, ws: web.WebSocketResponse, remote: str) -> tuple[_Peer, Link] | None:
        ch = WsChannel(ws)
        spec: PeerSpec | None = None
        try:
            async with asyncio.timeout(self._config.handshake_timeout_s):
                spec = await handshake.accept(ch, self._me, self._by_key)
                found = self._peers.get(spec.peer_id)
                if found is None or found.spec.pubkey != spec.pubkey:
                    raise HandshakeError(f"{spec.peer_id} left the peer set", code="unknown_key")
                p = found
                verdict = self._admit(p, False, remote)
                if verdict not in (handshake.OK, "replace"):
                    raise HandshakeError(f"{spec.peer_id}: {verdict}", code=verdict)
                link = self._install(p, ws, False, remote, verdict)
                with contextlib.suppress(HandshakeError):
                    # If this fails the link's reader sees the close and ends the link.
                    await ch.send(handshake.encode_result(handshake.OK))
                return p, link
        except TimeoutError:
            self._handshake_failed(HandshakeError("handshake timed out", code="timeout"), remote, None)
        except HandshakeError as exc:
            self._handshake_failed(exc, remote, spec.peer_id if spec else None)
            if exc.code not in _NOT_TOLD and not exc.code.startswith("peer_refused"):
                with contextlib.suppress(HandshakeError, TimeoutError):
                    async with asyncio.timeout(1.0):
                        await ch.send(handshake.encode_result(exc.code))
        return None

    # -- outbound ------------------------------------------------------------------------------

    def _backoff_s(self, attempt: int) -> float:
        base = self._config.reconnect_base_s * float(2 ** min(attempt - 1, 32))
        delay = min(self._config.reconnect_max_s, base)
        return delay * (0.5 + 0.5 * self._rng.random())

    async def _dial_loop(self, p: _Peer) -> None:
        attempt = 0
        while self._running and not p.gone():
            await p.unlinked.wait()
            if p.gone():
                return
            if attempt > 0:
                await asyncio.sleep(self._backoff_s(attempt))
                if p.gone():
                    return
                if p.link is not None:
                    continue
                self._stats.count("reconnects", p.spec.peer_id)
            attempt += 1
            linked_at = asyncio.get_running_loop().time()
            if await self._dial_once(p):
                lived = asyncio.get_running_loop().time() - linked_at
                if lived >= self._config.reconnect_max_s:
                    attempt = 1

    async def _dial_once(self, p: _Peer) -> bool:
        """One connection attempt; serves the link if admitted. True if a link was established."""
        assert self._session is not None
        spec = p.spec
        ssl_ctx = self._config.client_ssl
        url = yarl.URL.build(scheme="wss" if ssl_ctx else "ws", host=spec.host, port=spec.port, path=P2P_PATH)
        remote = f"{spec.host}:{spec.port}"
        self._stats.count("dials", spec.peer_id)
        try:
            async with asyncio.timeout(self._config.connect_timeout_s):
                ws = await self._session.ws_connect(
                    url,
                    ssl=ssl_ctx if ssl_ctx is not None else False,
                    autoping=True,
                    heartbeat=self._config.heartbeat_s,
                    compress=0,
                    max_msg_size=self._ws_msg_max,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
                )
        except (TimeoutError, OSError, aiohttp.ClientError, ssl.SSLError) as exc:
            self._stats.count(f"dial_failures.{dial_failure_reason(exc)}", spec.peer_id)
            log.debug("p2p %s: cannot reach %s at %s: %r", self.node_id, spec.peer_id, remote, exc)
            return False
        try:
            link = await self._dial_handshake(p, ws, remote)
            if link is None:
                return False
            await self._serve_link(p, link)
            return True
        finally:
            await close_quietly(ws)

    async def _dial_handshake(self, p: _Peer, ws: WebSocket, remote: str) -> Link | None:
        ch = WsChannel(ws)
        try:
            async with asyncio.timeout(self._config.handshake_timeout_s):
                await handshake.dial(ch, self._me, p.spec)
                await handshake.read_result(ch)
            verdict = self._admit(p, True, remote)
            if verdict not in (handshake.OK, "replace"):
                raise HandshakeError(f"{p.spec.peer_id}: {verdict}", code=verdict)
            return self._install(p, ws, True, remote, verdict)
        except TimeoutError:
            exc = HandshakeError("handshake timed out", code="timeout")
            self._handshake_failed(exc, remote, p.spec.peer_id)
        except HandshakeError as exc:
            self._handshake_failed(exc, remote, p.spec.peer_id)
            if exc.code not in _NOT_TOLD and not exc.code.startswith("peer_refused"):
                with contextlib.suppress(HandshakeError, TimeoutError):
                    async with asyncio.timeout(1.0):
                        await ch.send(handshake.encode_result(exc.code))
        return None


def _dir(outbound: bool) -> str:
    return "outbound" if outbound else "inbound"
