"""Joining by verified state snapshot: a node with only genesis and its key fetches the state at a
peer's last stable checkpoint, checks every chunk against the certified root, installs it, and
catches up the blocks after it; and the serving side of it.

Rules:

- The anchor is the peer's stable checkpoint proof: q CHECKPOINT signatures of the validator set
  in force at s over (seq s, block hash, state root, results root) of height s; block s comes
  with its commit certificate (its hash must be the proof's), and the headers of blocks s+1 ..
  s+exec_lag-1 with theirs: they carry the roots of the heights just below s that the replica
  needs to check the next blocks.
- Which set is in force at each of those heights is derived from genesis and the certified
  changes (issue 17): the answer carries the proof of every validator epoch that begins at or
  below s+exec_lag (`wire.epochs.EpochProof`: its keys and the certified boundary header before
  it), checked with `wire.epochs.verify_epoch_chain` from the genesis set; each certificate and
  checkpoint signature is checked against the set of its own height, and every header must name
  that set as in force (`validators_hash`) and the next height's as next: a peer that withholds
  an epoch is caught by the header it certified. The proofs are kept with the snapshot
  (`BlockStore.snapshot_boundaries`): the replica needs the boundary hashes, and the node serves
  them on to the SDK and to the next joiner.
- The state comes in chunks of consecutive keys, each a page of `wire.statemap.scan` at height s
  with its completeness proof: the chunk is checked against the certified root alone before a byte
  of it is kept (`ProofView.range`: no entry between its bounds left out). A peer whose chunk does
  not verify is dropped and the next peer is asked (from the start: chunks of two peers' answers
  are never mixed).
- Installed in one synced batch per chunk of state, then the map is built from the state and its
  root must be the certified one; only then are the meta record, roots, block s, its certificate
  and the stable checkpoint written (one batch), with the genesis roots (computed from genesis: the
  replica starts from them): a crash before that leaves a store the next start wipes and fetches
  again (`BlockStore.snapshot_pending`).
- A snapshot is taken only by an empty store (height 0), from a peer at least SNAPSHOT_MIN_BLOCKS
  ahead; the blocks before s are not fetched (the node serves no history below s).
- A peer that lets us in but fails (no answer, an anchor or chunk that does not verify, its link
  lost mid-transfer) is skipped and the next one asked; a failed install leaves the store empty.
- A node of the genesis node set asks for `wait_peers_s`, then replays. A node added later
  (`admission`) is let in by no peer until the ledger admits it, so it keeps asking with back-off
  (the store kept empty), logging "waiting for admission by a peer" with every peer it tried and
  why it gave nothing, until a snapshot is installed, or a peer that let it in is too close to
  genesis for one (fewer than SNAPSHOT_MIN_BLOCKS: it replays then).
- Serving: `snapshot` answers the stable checkpoint, block s and the headers after it; `chunk`
  answers at most CHUNK_ENTRIES_MAX entries and CHUNK_BYTES_MAX bytes of the state at s.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from consensus.messages import StableProof, checkpoint_payload
from consensus.state import KEY_STABLE
from network.errors import NetworkError
from node.errors import NodeError, StorageError
from node.runtime.registry import encode_boundaries, epoch_proofs
from node.store.storage import BlockStore, Meta
from wire import codec, statemap, stateproofs
from wire.certificate import ValidatorSet, verify_certificate
from wire.crypto import Domain, verify
from wire.epochs import EpochProof, ValidatorEpoch, validators_at, verify_epoch_chain
from wire.errors import ProofError, WireError
from wire.types import Block, BlockHeader, CommitCertificate

log = logging.getLogger("orgledger.statesync")

SNAPSHOT_MIN_BLOCKS = 64
CHUNK_ENTRIES_MAX = 2000
CHUNK_BYTES_MAX = 4 * 1024 * 1024
REQUEST_TIMEOUT_S = 30.0
INSTALL_BATCH = 50_000

Request = Callable[[str, bytes, float], Awaitable[bytes]]


class SnapshotError(NodeError):
    """A peer's snapshot did not verify, or no peer could serve one."""

    code = "snapshot_failed"


# ------------------------------------------------------------------------------------ serving
def serve_snapshot(store: BlockStore, lag: int) -> bytes:
    """The answer to ["snapshot"]: the last stable checkpoint with block s and the headers after it."""
    raw = store.consensus_get(KEY_STABLE)
    if raw is None:
        return codec.encode_trusted(["none"])
    proof = StableProof.from_wire(codec.decode(raw))
    s = proof.seq
    block, cert = store.block_bytes(s), store.certificate_bytes(s)
    if block is None or cert is None:
        return codec.encode_trusted(["none"])
    after = []
    for h in range(s + 1, s + lag):
        b, c = store.block_bytes(h), store.certificate_bytes(h)
        if b is None or c is None:
            return codec.encode_trusted(["none"])
        after.append([Block.header_of(b).encode(), c])
    proofs, _ = epoch_proofs(store, up_to=s + lag)
    return codec.encode_trusted(["snapshot", raw, block, cert, after, [p.to_wire() for p in proofs]])


def serve_chunk(store: BlockStore, request: Sequence[Any]) -> bytes:
    """The answer to ["chunk", s, after, limit]: a proven page of the state at height s."""
    _, s, after, limit = request
    if type(s) is not int or not isinstance(after, bytes) or type(limit) is not int:
        raise ValueError("malformed chunk request")
    limit = max(1, min(limit, CHUNK_ENTRIES_MAX))
    with store.snapshot() as snap:
        root = snap.map_root(s)
        entries, proof, more = statemap.scan(snap.map_node, root, after, None, limit)
    size = 0
    for i, (k, v) in enumerate(entries):
        size += len(k) + len(v)
        if size > CHUNK_BYTES_MAX and i > 0:
            # a shorter page: prove it again so the proof ends where the page does
            with store.snapshot() as snap:
                entries, proof, more = statemap.scan(snap.map_node, snap.map_root(s), after, None, i)
            break
    return codec.encode_trusted(["chunk", [[k, v] for k, v in entries], proof, more])


# ------------------------------------------------------------------------------------ joining
@dataclass(frozen=True, slots=True)
class Anchor:
    proof: StableProof
    proof_bytes: bytes
    block: Block
    block_bytes: bytes
    certificate: CommitCertificate
    certificate_bytes: bytes
    later_roots: tuple[tuple[int, bytes, bytes], ...]  # (height, state root, results root)
    boundaries: tuple[EpochProof, ...] = ()  # the epochs that begin at or below s+lag, proven


def verify_anchor(
    answer: Any, genesis_validators: ValidatorSet, chain_id: str, lag: int, checkpoint_interval: int
) -> Anchor:
    """Check a peer's ["snapshot", ...] answer against the validator sets in force, proven from
    the genesis set by the epoch chain the answer carries (SnapshotError)."""
    try:
        kind, proof_bytes, block_bytes, cert_bytes, after, chain = answer
        if kind != "snapshot" or not isinstance(chain, list):
            raise ValueError("not a snapshot answer")
        boundaries = tuple(EpochProof.from_wire(p) for p in chain)
        epochs = verify_epoch_chain(chain_id, genesis_validators, checkpoint_interval, boundaries)
        proof = StableProof.from_wire(codec.decode(proof_bytes))
        if boundaries and boundaries[-1].start > proof.seq + lag:
            raise ValueError("the epoch chain goes beyond the snapshot")
        validators = validators_at(epochs, proof.seq)
        block, cert = Block.decode(block_bytes), CommitCertificate.decode(cert_bytes)
        if block.hash != proof.block_hash or block.header.height != proof.seq:
            raise ValueError("block s is not the checkpoint's block")
        _names_sets(block.header, epochs)
        payload = checkpoint_payload(proof.seq, proof.block_hash, proof.state_root, proof.results_root)
        signers = {i for i, _ in proof.signatures}
        if len(signers) != len(proof.signatures) or len(signers) < validators.quorum:
            raise ValueError("the stable checkpoint is not signed by a quorum")
        for i, sig in proof.signatures:
            if not 0 <= i < len(validators.pubkeys) or not verify(
                Domain.CHECKPOINT, chain_id, validators.pubkeys[i], payload, sig
            ):
                raise ValueError(f"checkpoint signature {i} does not verify")
        verify_certificate(cert, validators, chain_id, height=proof.seq, block_hash=block.hash)
        later: list[tuple[int, bytes, bytes]] = []
        prev = block.hash
        for i, (header_bytes, c_bytes) in enumerate(after):
            header = BlockHeader.decode(header_bytes)
            h = proof.seq + 1 + i
            if header.height != h or header.prev_block_hash != prev:
                raise ValueError(f"header {h} does not follow block {h - 1}")
            _names_sets(header, epochs)
            verify_certificate(
                CommitCertificate.decode(c_bytes),
                validators_at(epochs, h),
                chain_id,
                height=h,
                block_hash=header.hash,
            )
            later.append((h - lag, header.prev_state_root, header.prev_results_root))
            prev = header.hash
        if len(later) != lag - 1:
            raise ValueError(f"expected the {lag - 1} headers after the checkpoint")
    except (ValueError, TypeError, WireError) as exc:
        raise SnapshotError(f"the snapshot anchor does not verify: {exc}") from exc
    return Anchor(proof, proof_bytes, block, block_bytes, cert, cert_bytes, tuple(later), boundaries)


def _names_sets(header: BlockHeader, epochs: Sequence[ValidatorEpoch]) -> None:
    """The header names the set proven in force at its height, and the next height's."""
    h = header.height
    if header.validators_hash != validators_at(epochs, h).hash:
        raise ValueError(f"block {h} names another validator set than the one proven (an epoch withheld?)")
    if header.next_validators_hash != validators_at(epochs, h + 1).hash:
        raise ValueError(f"block {h} names another next validator set than the one proven")


async def fetch_state(
    request: Request, peer: str, anchor: Anchor, on_chunk: Callable[[list[tuple[bytes, bytes]]], None]
) -> int:
    """Fetch and verify the whole state at the anchor from `peer`; hand each verified chunk to
    `on_chunk`; return the number of entries. SnapshotError when a chunk does not verify."""
    root = anchor.proof.state_root
    after, total = b"", 0
    while True:
        raw = await request(
            peer,
            codec.encode_trusted(["chunk", anchor.proof.seq, after, CHUNK_ENTRIES_MAX]),
            REQUEST_TIMEOUT_S,
        )
        try:
            kind, pairs, proof, more = codec.decode(raw)
            if kind != "chunk" or not isinstance(pairs, list) or not isinstance(proof, list):
                raise ValueError("not a chunk")
            entries = [(bytes(k), bytes(v)) for k, v in pairs]
            if more and not entries:
                raise ValueError("an empty chunk that says more follows")
            end = entries[-1][0] + b"\x00" if more else None
            proven = stateproofs.ProofView(root, [bytes(p) for p in proof]).range(after, end)
            if proven != [(k, hashlib.sha256(v).digest()) for k, v in entries]:
                raise ProofError("the chunk's entries are not the proven ones")
        except (ValueError, TypeError, WireError) as exc:
            raise SnapshotError(f"a state chunk from {peer} does not verify: {exc}") from exc
        on_chunk(entries)
        total += len(entries)
        if not more:
            return total
        after = entries[-1][0] + b"\x00"


def install(
    store: BlockStore, anchor: Anchor, results_root: bytes, genesis_roots: tuple[bytes, bytes]
) -> None:
    """Build the state map from the installed state, check its root, then write what makes the
    store a node at height s (one synced batch)."""
    s = anchor.proof.seq
    root: statemap.Ref | None = None
    version = 0
    batch: list[tuple[bytes, bytes]] = []

    def flush() -> None:
        nonlocal root, version
        if not batch:
            return
        version += 1
        root, changes = statemap.update(store.map_node, root, version, batch)
        store.write_map_nodes(changes, drop_stale=True)
        batch.clear()

    for item in store.state_items():
        batch.append(item)
        if len(batch) >= INSTALL_BATCH:
            flush()
    flush()
    if version > s:
        raise StorageError("the snapshot's state needs more map versions than its height allows")
    if statemap.root_hash(root) != anchor.proof.state_root:
        raise SnapshotError("the installed state does not hash to the certified state root")
    meta = Meta(
        height=s, block_hash=anchor.block.hash, state_root=anchor.proof.state_root, results_root=results_root
    )
    store.install_snapshot(
        meta=meta,
        root=root,
        block_bytes=anchor.block_bytes,
        certificate_bytes=anchor.certificate_bytes,
        earlier_roots=((0, *genesis_roots), *anchor.later_roots),
        consensus=[(KEY_STABLE, anchor.proof_bytes)],
        boundaries=encode_boundaries(anchor.boundaries) if anchor.boundaries else b"",
    )


@dataclass(frozen=True, slots=True)
class Retry:
    """How a node that waits for its admission keeps asking: back-off from `first_s` doubling to
    `max_s`, and the "waiting for admission" line at most every `log_every_s`."""

    first_s: float = 1.0
    max_s: float = 10.0
    log_every_s: float = 30.0


@dataclass(slots=True)
class _Round:
    """One round of asking every linked peer: the anchors that verified and why the others gave none."""

    anchors: list[tuple[int, str, Anchor]]
    answered: bool  # a peer answered with a snapshot or with "none": it let us in
    why: dict[str, str]
    asked: int = 0  # linked peers asked
    none: int = 0  # of them, those that answered they have no stable checkpoint yet


async def _ask(
    request: Request,
    peers: Sequence[str],
    genesis_validators: ValidatorSet,
    chain_id: str,
    lag: int,
    checkpoint_interval: int,
) -> _Round:
    found = _Round([], False, {}, asked=len(peers))
    for peer in peers:
        try:
            answer = codec.decode(await request(peer, codec.encode_trusted(["snapshot"]), REQUEST_TIMEOUT_S))
        except Exception as exc:  # a peer that does not answer: ask the others
            found.why[peer] = f"gave no snapshot: {exc}"
            log.info("peer %s gave no snapshot: %s", peer, exc)
            continue
        if answer == ["none"]:
            found.answered = True
            found.none += 1
            found.why[peer] = "has no stable checkpoint yet"
            continue
        if not (isinstance(answer, list) and answer and answer[0] == "snapshot"):
            found.why[peer] = f"answered no snapshot: {str(answer)[:80]}"
            continue
        try:
            anchor = verify_anchor(answer, genesis_validators, chain_id, lag, checkpoint_interval)
        except SnapshotError as exc:
            found.why[peer] = f"offered a snapshot that does not verify: {exc}"
            log.warning("peer %s offered a snapshot that does not verify: %s", peer, exc)
            continue
        found.answered = True
        found.anchors.append((anchor.proof.seq, peer, anchor))
        if anchor.proof.seq < SNAPSHOT_MIN_BLOCKS:
            found.why[peer] = f"is at checkpoint {anchor.proof.seq}, too close to genesis for a snapshot"
    found.anchors.sort(key=lambda a: -a[0])
    return found


async def _install_best(
    request: Request, store: BlockStore, found: _Round, genesis_roots: tuple[bytes, bytes]
) -> int | None:
    """Install the highest anchor whose state verifies; a peer that fails (a chunk that does not
    verify, a link lost mid-transfer) is noted in `found.why` and the next one asked."""
    for seq, peer, anchor in found.anchors:
        if seq < SNAPSHOT_MIN_BLOCKS:
            break
        log.info("joining by snapshot: the state of height %d from %s", seq, peer)
        await asyncio.to_thread(store.reset_for_snapshot)
        try:
            entries = await fetch_state(request, peer, anchor, store.write_state)
            await asyncio.to_thread(install, store, anchor, anchor.proof.results_root, genesis_roots)
        except (SnapshotError, NodeError, NetworkError, OSError) as exc:
            found.why[peer] = f"failed mid-transfer: {exc}"
            log.warning("snapshot from %s failed, trying another peer: %s", peer, exc)
            continue
        log.info("installed %d state entries of height %d from %s, verified", entries, seq, peer)
        return seq
    if store.snapshot_pending():  # a failed install: empty again (genesis is written by the caller)
        await asyncio.to_thread(store.reset_for_snapshot)
        store.clear_snapshot_pending()
    return None


async def join(
    request: Request,
    peers: Callable[[], list[str]],
    store: BlockStore,
    genesis_validators: ValidatorSet,
    chain_id: str,
    lag: int,
    checkpoint_interval: int,
    genesis_roots: tuple[bytes, bytes],
    *,
    wait_peers_s: float = 15.0,
    admission: Retry | None = None,
    unlinked: Callable[[], dict[str, str]] = dict,
) -> int | None:
    """Join by snapshot if a peer is far enough ahead: the height installed, or None (the store is
    left holding genesis only, to replay from it). Peers are tried highest checkpoint first; a peer
    whose anchor or chunk does not verify, or whose link is lost mid-transfer, is skipped.

    A node that is not in the genesis node set passes `admission`: no peer links with it until the
    ledger admits it, so it keeps asking (back-off, a "waiting for admission" line naming the peers
    and why each gave nothing: `unlinked` says why the peers not linked are not) until a snapshot
    is installed, or a peer that let it in is too close to genesis for one (None: replay). Without
    `admission` it asks for `wait_peers_s`, then gives up (None); at once when at least as many
    peers as the genesis set has other validators are linked and every one of them answers that it
    has no stable checkpoint yet: a network starting for the first time, where each node waited
    the whole `wait_peers_s` for snapshots that cannot exist (replaying is always correct, so an
    early "none" costs at most a slower join)."""

    async def ask() -> _Round:
        return await _ask(request, peers(), genesis_validators, chain_id, lag, checkpoint_interval)

    async def install(found: _Round) -> int | None:
        return await _install_best(request, store, found, genesis_roots)

    if admission is not None:
        return await _join_when_admitted(ask, install, admission, unlinked)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_peers_s
    # a lone validator keeps the whole wait: its observers, the only peers that could hold its
    # chain, get that long to link before it replays from genesis
    others = max(1, len(genesis_validators.pubkeys) - 1)
    while True:
        found = await ask()
        if found.anchors or loop.time() >= deadline:
            break
        if found.asked >= others and found.none == found.asked:
            log.info(
                "every linked peer (%d) has no stable checkpoint yet: a new network, replaying", found.none
            )
            break
        await asyncio.sleep(0.5)
    return await install(found)


async def _join_when_admitted(
    ask: Callable[[], Awaitable[_Round]],
    install: Callable[[_Round], Awaitable[int | None]],
    retry: Retry,
    unlinked: Callable[[], dict[str, str]],
) -> int | None:
    loop = asyncio.get_running_loop()
    delay, attempt, logged_at = retry.first_s, 0, None
    while True:
        attempt += 1
        found = await ask()
        installed = await install(found)
        if installed is not None:
            return installed
        if found.answered and not any(seq >= SNAPSHOT_MIN_BLOCKS for seq, _, _ in found.anchors):
            log.info(
                "admitted, but the peers are too close to genesis for a snapshot (%s): replaying",
                _tried({**unlinked(), **found.why}),
            )
            return None
        now = loop.time()
        if logged_at is None or now - logged_at >= retry.log_every_s:
            logged_at = now
            log.warning(
                "waiting for admission by a peer (attempt %d, next in %.0f s): %s",
                attempt,
                delay,
                _tried({**unlinked(), **found.why}),
            )
        await asyncio.sleep(delay)
        delay = min(retry.max_s, max(delay * 2, retry.first_s))


def _tried(why: dict[str, str]) -> str:
    if not why:
        return "no peer to ask (no bootstrap peer, or none is linked)"
    return "; ".join(f"{peer} {reason}" for peer, reason in sorted(why.items()))
