"""Byzantine replicas: the honest core underneath, with its outgoing messages tampered with.

Each behaviour is a way real implementations were broken (RELIABILITY §4.3): an equivocating
primary (B1), double votes (B2), forged or stale VIEW-CHANGE and NEW-VIEW (B8, B16), huge views
and seqs outside the watermarks (B9), bad signatures (B5), withheld messages, and lying during
catch-up (B10, answered in `runner`). Forged messages carry the byzantine replica's own valid
signature wherever that makes them harder to reject.

A byzantine validator that is removed or rotated out keeps its old key and goes on signing
COMMITs with its old index for what it sees (`retire`): a leaving validator that does not leave.
Honest replicas must refuse them from the epoch boundary on.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from consensus.actions import Action, Broadcast, Send
from consensus.config import SignerLike
from consensus.messages import (
    TAG_COMMIT,
    TAG_NEW_VIEW,
    TAG_PRE_PREPARE,
    TAG_PREPARE,
    CommitVote,
    NewView,
    PreparedCert,
    PrepareVote,
    PrePrepare,
    Reproposal,
    ViewChange,
    commit_payload,
    decode_message,
    message_tag,
    pre_prepare_payload,
    prepare_payload,
)
from consensus.replica import Replica
from wire.crypto import Domain
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader


class Byzantine:
    def __init__(
        self,
        behaviours: tuple[str, ...],
        replica: Callable[[], Replica | None],
        signer: SignerLike,
        chain_id: str,
        rng: random.Random,
    ) -> None:
        self.behaviours = set(behaviours)
        self.replica = replica
        self.signer = signer
        self.chain_id = chain_id
        self.rng = rng
        self.history: list[bytes] = []
        self.last_view = 0
        self.last_height = 0
        self.genesis_hash = b""
        self.retired: list[tuple[SignerLike, int]] = []  # old keys it keeps signing with

    @property
    def index(self) -> int:
        r = self.replica()
        return 0 if r is None or r.me is None else r.me

    @property
    def n(self) -> int:
        r = self.replica()
        return 4 if r is None else r.n

    def retire(self, old: SignerLike, index: int, new: SignerLike) -> None:
        """Its key was rotated out (or the node removed): keep the old one for mischief."""
        self.retired.append((old, index))
        self.signer = new

    def _sign(self, domain: Domain, payload: bytes) -> bytes:
        return self.signer.sign(domain, self.chain_id, payload)

    def _halves(self) -> tuple[list[bytes], list[bytes]]:
        r = self.replica()
        keys = [] if r is None else list(r.validators.pubkeys)
        others = [k for k in keys if k != self.signer.public]
        self.rng.shuffle(others)
        return others[: len(others) // 2], others[len(others) // 2 :]

    def outgoing(self, actions: list[Action], on_tick: bool) -> list[Action]:
        out: list[Action] = []
        for action in actions:
            if isinstance(action, (Broadcast, Send)):
                out.extend(self._tamper(action))
            else:
                out.append(action)
        if on_tick:
            out.extend(self._noise())
        return out

    def _tamper(self, action: Broadcast | Send) -> list[Action]:
        data = action.data
        if len(self.history) < 64:
            self.history.append(data)
        else:
            self.history[self.rng.randrange(64)] = data
        rng = self.rng
        if "withhold" in self.behaviours and rng.random() < 0.5:
            return []
        tag = message_tag(data)
        if isinstance(action, Broadcast) and tag in (TAG_PRE_PREPARE, TAG_PREPARE, TAG_COMMIT, TAG_NEW_VIEW):
            alt = self._conflicting(data, tag)
            if alt is not None:
                a, b = self._halves()
                split: list[Action] = [Send(to=k, data=data) for k in a]
                split.extend(Send(to=k, data=alt) for k in b)
                return split
        if "bad_signature" in self.behaviours and rng.random() < 0.3:
            flipped = data[:-1] + bytes([data[-1] ^ 0x01])
            return [replace(action, data=flipped)]
        return [action]

    def _conflicting(self, data: bytes, tag: int | None) -> bytes | None:
        """A validly signed message that contradicts `data`, if a behaviour asks for one."""
        msg = decode_message(data)
        if isinstance(msg, PrePrepare):
            self.last_view = max(self.last_view, msg.view)
            if "equivocate" not in self.behaviours:
                return None
            h = msg.block.header
            block = Block(header=replace(h, timestamp_ms=h.timestamp_ms + 1), txs=msg.block.txs)
            sig = self._sign(Domain.PRE_PREPARE, pre_prepare_payload(msg.view, msg.seq, block.hash))
            return PrePrepare(view=msg.view, seq=msg.seq, block=block, signature=sig).encode()
        if isinstance(msg, (PrepareVote, CommitVote)):
            self.last_height = max(self.last_height, msg.seq)
            if "double_vote" not in self.behaviours:
                return None
            digest = bytes(self.rng.getrandbits(8) for _ in range(32))
            if isinstance(msg, PrepareVote):
                sig = self._sign(Domain.PREPARE, prepare_payload(msg.view, msg.seq, digest))
                return replace(msg, digest=digest, signature=sig).encode()
            sig = self._sign(Domain.COMMIT, commit_payload(msg.view, msg.seq, digest))
            return replace(msg, digest=digest, signature=sig).encode()
        if isinstance(msg, NewView) and "forge_new_view" in self.behaviours:
            return self._forged_new_view(msg)
        return None

    def _forged_new_view(self, nv: NewView) -> bytes:
        if nv.reproposals:
            reps: tuple[Reproposal, ...] = ()
        else:
            base = max(vc.stable_seq for vc in nv.view_changes)
            digest = bytes(self.rng.getrandbits(8) for _ in range(32))
            sig = self._sign(Domain.PRE_PREPARE, pre_prepare_payload(nv.view, base + 1, digest))
            reps = (Reproposal(seq=base + 1, digest=digest, signature=sig),)
        forged = replace(nv, reproposals=reps)
        return replace(forged, signature=self._sign(Domain.NEW_VIEW, forged.payload())).encode()

    def _zombie_votes(self) -> list[Action]:
        """COMMITs signed with retired keys and indexes for the seqs it hears votes about."""
        r = self.replica()
        if r is None or not self.retired:
            return []
        out: list[Action] = []
        for seq in sorted(r.st.commit_votes)[-3:]:
            votes = r.st.commit_votes[seq]
            if not votes:
                continue
            vote = votes[min(votes)]
            for old, index in self.retired:
                sig = old.sign(Domain.COMMIT, self.chain_id, commit_payload(vote.view, seq, vote.digest))
                forged = CommitVote(view=vote.view, seq=seq, digest=vote.digest, replica=index, signature=sig)
                out.append(Broadcast(data=forged.encode()))
        return out

    def _noise(self) -> list[Action]:
        rng = self.rng
        out: list[Action] = self._zombie_votes()
        if rng.random() > 0.1:
            return out
        if "stale_replay" in self.behaviours and self.history:
            out.extend(Broadcast(data=rng.choice(self.history)) for _ in range(3))
        if "huge_view" in self.behaviours:
            out.append(Broadcast(data=self._view_change(2**40 + rng.getrandbits(20), ())))
        if "forge_view_change" in self.behaviours:
            out.append(Broadcast(data=self._view_change(self.last_view + 1, (self._bogus_prepared(),))))
        if "out_of_window" in self.behaviours:
            seq = self.last_height + 10_000 + rng.randrange(1000)
            digest = bytes(32)
            sig = self._sign(Domain.PREPARE, prepare_payload(self.last_view, seq, digest))
            out.append(
                Broadcast(
                    data=PrepareVote(
                        view=self.last_view, seq=seq, digest=digest, replica=self.index, signature=sig
                    ).encode()
                )
            )
        return out

    def _view_change(self, view: int, prepared: tuple[PreparedCert, ...]) -> bytes:
        r = self.replica()
        unsigned = ViewChange(
            view=view,
            epoch=1 if r is None else r.epoch_start,
            replica=self.index,
            checkpoint=None,
            committed=(),
            prepared=prepared,
            signature=bytes(64),
        )
        return replace(unsigned, signature=self._sign(Domain.VIEW_CHANGE, unsigned.payload())).encode()

    def _bogus_prepared(self) -> PreparedCert:
        """A prepared certificate for a made-up block: signed pre-prepare, forged prepares."""
        txs = (b"fabricated",)
        header = BlockHeader(
            chain_id=self.chain_id,
            height=1,
            view=0,
            timestamp_ms=1,
            prev_block_hash=self.genesis_hash,
            tx_root=merkle_root(txs),
            prev_state_root=bytes(32),
            prev_results_root=bytes(32),
            validators_hash=bytes(32),
            proposer=0,
        )
        block = Block(header=header, txs=txs)
        prepares = tuple((i, bytes(64)) for i in range(self.n) if i != 0)
        sig = self._sign(Domain.PRE_PREPARE, pre_prepare_payload(0, 1, block.hash))
        return PreparedCert(view=0, seq=1, block=block, pp_signature=sig, prepares=prepares)
