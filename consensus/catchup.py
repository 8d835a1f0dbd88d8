"""Catch-up: a lagging replica or observer learns it is behind and fetches certified blocks.

Rules (RELIABILITY B10, C13, N13):

- "Behind" is learned only from *verified* commit certificates: one carried by a STATUS, a
  VIEW-CHANGE or a NEW-VIEW base, or built from q COMMITs. A peer's bare claim of a height is
  never trusted; a certificate cannot be forged by f liars.
- After `catchup_delay` ticks behind (the block may still arrive by the normal case) the replica
  sends `RequestTransfer(peer, committed+1, ...)` to a peer that proved it has the height (then
  to peers with hints, below), rotating through them; an answer that does not help, or no
  answer within `transfer_timeout` (the peer then has to prove a height again before it is
  asked: it may have left the network), moves on to the next peer.
- Every fetched item is decoded strictly and its certificate verified against the validator set
  in force at the block's own height and hash; its body must match its tx root. Items above the
  committed height are buffered (bounded) and committed in order by `Delivery._try_commit`.
- Epochs: a certificate of a height whose set this replica does not know yet (its epoch's changes
  are in blocks it has not executed) cannot be verified: it is a *hint* only. Hints never count as
  "behind" for the request timers; they only make the replica fetch from the hinting peer, and a
  peer whose answer gives nothing verifiable loses its hint. Transfers stop at the `horizon`, the
  last height whose set is fixed; executing up to it moves it on.
- Validators send STATUS every `retransmit_ticks` (with the certificate to peers whose reported
  height is lower and did not move since their previous STATUS, and to everyone every fourth
  time); a replica that sees a peer in an older view
  forwards it the NEW-VIEW of its own view (self-verifying), so a replica that missed it rejoins.
"""

from __future__ import annotations

from consensus.actions import RequestTransfer
from consensus.events import BlocksFetched
from consensus.messages import Status, block_body_ok
from consensus.state import ReplicaBase, Transfer
from wire.errors import WireError
from wire.types import Block, CommitCertificate

TRANSFER_BATCH = 32


class CatchUp(ReplicaBase):
    def _note_certified(self, height: int, peer: bytes | None) -> None:
        st = self.st
        if height <= st.committed_height:
            return
        st.target_height = max(st.target_height, height)
        if peer is not None and peer != self.my_key:
            st.peer_proven[peer] = max(st.peer_proven.get(peer, 0), height)

    def _status(self, with_certificate: bool) -> Status | None:
        st = self.st
        if self.me is None:
            return None
        cert = st.committed_cert.encode() if with_certificate and st.committed_cert is not None else b""
        return Status(
            replica=self.me,
            view=st.view,
            active=st.active,
            committed_height=st.committed_height,
            certificate=cert,
            stable_seq=st.stable_seq,
            epoch=st.epoch_start,
        )

    def _send_status(self, periods: int) -> None:
        """STATUS to everyone; its certificate only to validators that reported a lower height, and
        in every fourth broadcast (observers send no STATUS): at n=31 the certificates were most
        of the bytes."""
        st = self.st
        full = self._status(True)
        light = self._status(periods % 4 == 0)
        if full is None or light is None:
            return
        self._broadcast(light.encode())
        if light.certificate or st.committed_cert is None:
            return
        data = full.encode()
        for peer in sorted(st.stuck_peers):
            # A peer whose height did not move between two STATUS is not being carried along by
            # COMMITs: give it the proof it needs to fetch.
            if st.peer_heights.get(peer, 0) < st.committed_height:
                self._send(peer, data)

    def _on_status(self, sender: bytes, s: Status) -> None:
        st = self.st
        same_epoch = s.epoch == st.epoch_start
        if same_epoch and not self.sender_is(s.replica, sender):
            self._count("spoofed_sender")
            return
        waiting = s.view == st.view and not s.active and "no_rejoin" not in self.mutants
        if (
            same_epoch
            and self.me is not None
            and st.active
            and st.new_view_bytes
            and (s.view < st.view or waiting)
        ):
            # A peer in an older view, or still waiting in ours for the NEW-VIEW it missed.
            self._send(sender, st.new_view_bytes)
        if same_epoch:
            st.peer_views[sender] = (s.view, s.active)
            if not st.active and s.active and s.view < st.view:
                self._maybe_follow()
        if st.peer_heights.get(sender) == s.committed_height:
            st.stuck_peers.add(sender)
        else:
            st.stuck_peers.discard(sender)
        st.peer_heights[sender] = s.committed_height
        height = s.committed_height
        if height <= st.committed_height or height <= st.peer_proven.get(sender, 0) or not s.certificate:
            return
        try:
            cert = CommitCertificate.decode(s.certificate)
        except WireError:
            self._count("bad_certificate")
            return
        known = st.certs.get(height)
        if known is not None and known.block_hash == cert.block_hash:
            self._note_certified(height, sender)
            return
        verifier = self.verifier_for(height)
        if verifier is None:
            if len(st.peer_hints) < 1024 or sender in st.peer_hints:
                st.peer_hints[sender] = max(st.peer_hints.get(sender, 0), height)
            return
        if verifier.certificate_ok(cert, height, cert.block_hash):
            self._note_certified(height, sender)
        else:
            self._count("bad_certificate")

    def _check_catch_up(self) -> None:
        st = self.st
        p = self.cfg.params
        for peer in [k for k, h in st.peer_hints.items() if h <= st.committed_height]:
            del st.peer_hints[peer]
        goal = max(st.target_height, max(st.peer_hints.values(), default=0))
        if goal <= st.committed_height:
            st.behind_since = None
            st.transfer = None
            return
        if st.behind_since is None:
            st.behind_since = st.tick
            return
        delay = max(2, p.view_change_timeout_ticks // 4)
        if st.tick - st.behind_since < delay:
            return
        if st.transfer is not None:
            if st.tick - st.transfer.started_tick < 2 * delay:
                return
            self._count("transfer_timeouts")
            # no answer at all: the peer may be gone for good (a validator removed since it
            # proved the height), so it is not asked again until it proves something anew
            st.peer_proven.pop(st.transfer.peer, None)
            st.transfer = None
            st.transfer_attempt += 1
        proven = sorted(p_ for p_, h in st.peer_proven.items() if h > st.committed_height)
        peers = proven + sorted(p_ for p_ in st.peer_hints if p_ not in proven)
        if not peers:
            return
        peer = peers[st.transfer_attempt % len(peers)]
        first = st.committed_height + 1
        reach = max(st.peer_proven.get(peer, 0), st.peer_hints.get(peer, 0))
        last = min(reach, first + TRANSFER_BATCH - 1, self.epochs.horizon(st.executed_height))
        if last < first:
            return  # the next set is not fixed yet: execution moves the horizon
        st.transfer = Transfer(peer=peer, from_height=first, to_height=last, started_tick=st.tick)
        self._out.append(RequestTransfer(peer=peer, from_height=first, to_height=last))
        self._count("transfers_requested")

    def _on_blocks_fetched(self, ev: BlocksFetched) -> None:
        st = self.st
        before = st.committed_height
        useful = 0
        horizon = self.epochs.horizon(st.executed_height)
        for block_bytes, cert_bytes in ev.items[: 2 * TRANSFER_BATCH]:
            item = self._verified_item(block_bytes, cert_bytes, horizon)
            if item is None:
                continue
            block, cert = item
            seq = block.header.height
            if seq <= st.committed_height or seq > st.committed_height + 4 * TRANSFER_BATCH:
                continue
            st.fetched[seq] = block
            st.certs.setdefault(seq, cert)
            useful += 1
        self._try_commit()
        transfer = st.transfer
        if transfer is not None and transfer.peer == ev.sender:
            st.transfer = None
            if st.committed_height == before or useful == 0:
                # A peer that proved a height but did not deliver it: try the next one at once.
                st.transfer_attempt += 1
                if useful == 0:
                    st.peer_proven.pop(ev.sender, None)
                    st.peer_hints.pop(ev.sender, None)
                st.behind_since = st.tick - max(2, self.cfg.params.view_change_timeout_ticks // 4)

    def _verified_item(
        self, block_bytes: bytes, cert_bytes: bytes, horizon: int
    ) -> tuple[Block, CommitCertificate] | None:
        try:
            block = Block.decode(block_bytes)
            cert = CommitCertificate.decode(cert_bytes)
        except WireError:
            self._count("bad_transfer_item")
            return None
        h = block.header
        if h.height > horizon or h.height <= self.st.committed_height:
            return None  # not verifiable yet, or not needed: neither is the peer's fault
        verifier = self.verifier_for(h.height)
        if (
            verifier is None
            or h.chain_id != self.cfg.chain_id
            or len(block_bytes) > self.cfg.params.max_block_bytes + (1 << 16)
            or not block_body_ok(block)
            or not verifier.certificate_ok(cert, h.height, block.hash)
        ):
            self._count("bad_transfer_item")
            return None
        return block, cert
