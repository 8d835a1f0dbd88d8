"""Normal-case operation (Castro & Liskov, OSDI'99 §4.2): PRE-PREPARE, PREPARE, COMMIT.

Rules:

- seq == block height. The primary of view v proposes seq s only when it knows the chain tip s-1
  in v (committed, or accepted in v), s is within the watermarks (stable, stable + L], s is above
  the NEW-VIEW floor, and it knows the roots after executing s - exec_lag (the block's
  `prev_state_root`/`prev_results_root`). Timestamp = max(now_ms, previous + 1).
- Batching: a full block (`max_block_txs` or `max_block_bytes`) is proposed at once; a partial one
  only when its oldest request arrived `batch_delay_ticks` or more ticks ago, so under a steady
  trickle the primary proposes at most one partial block per tick instead of one per request
  (every block costs each replica signatures, verifications and synced writes). 0 = at once.
- Chain rule: a backup accepts PRE-PREPARE(v, s) only if it accepted s-1 in v (or s-1 is its
  committed tip) and the block names that hash as its parent; otherwise, and while it does not know
  the roots of s - exec_lag, it buffers one PRE-PREPARE per seq. A proposal is refused (and the
  request timer will replace the primary) unless height, view, proposer, parent hash, timestamp
  (strictly increasing, within `timestamp_drift_ms` of the local clock), tx root, validator-set
  hash, roots, size limits and the injected tx checker all agree.
- Prepared(v, s, d) = the accepted PRE-PREPARE plus q-1 matching PREPAREs from distinct replicas
  other than the primary. COMMITs go out in seq order: COMMIT for s only after COMMIT for s-1 in
  this view (or s-1 committed), so a committed block's ancestors are all prepared at the same
  honest replicas (the argument in docs/consensus.md).
- Every own vote is persisted (`_write`) before the broadcast that carries it.
- Epochs: a PRE-PREPARE or PREPARE is handled only for a seq of the epoch this replica works in
  (others are remembered as blocks or dropped); a COMMIT for any seq whose set is fixed, verified
  against that set, so observers and laggards build certificates across boundaries. A header
  carries the hash of the set in force at its height and of the set at the next height.
"""

from __future__ import annotations

from collections.abc import Callable

from consensus.messages import (
    CommitVote,
    PreparedCert,
    PrepareVote,
    PrePrepare,
    block_body_ok,
    commit_payload,
    pre_prepare_payload,
    prepare_payload,
)
from consensus.state import PREPARED_PREFIX, SLOT_PREFIX, ChainTip, ReplicaBase, Slot, seq_key
from wire import codec
from wire.certificate import make_certificate
from wire.crypto import Domain
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader

WAIT = "wait"


class NormalCase(ReplicaBase):
    # ------------------------------------------------------------------ PRE-PREPARE
    def _on_pre_prepare(self, sender: bytes, pp: PrePrepare) -> None:
        st = self.st
        if pp.seq <= st.committed_height:
            self._count("stale_message")
            return
        ep = self.epoch_of(pp.seq)
        if ep is None:
            self._count("unknown_epoch")
            return
        primary = ep.validators.pubkeys[pp.view % ep.validators.n]
        if sender != primary or not ep.verifier.pre_prepare_ok(pp):
            self._count("bad_pre_prepare")
            return
        if pp.block.header.height != pp.seq or not block_body_ok(pp.block):
            self._count("bad_block")
            return
        if (
            not self.is_validator
            or ep.start != st.epoch_start
            or pp.view != st.view
            or not st.active
            or self.muted
        ):
            self._remember_block(pp.seq, pp.block)
            return
        if not self.in_window(pp.seq) or pp.seq <= st.view_floor:
            self._count("outside_watermarks")
            return
        slot = st.slots.get(pp.seq)
        if slot is not None:
            if slot.digest != pp.digest:
                self._count("equivocation")
            return
        waiting = st.waiting_pps.get(pp.seq)
        if waiting is not None and waiting.digest != pp.digest:
            self._count("equivocation")
            return
        verdict = self._validate_proposal(pp)
        if verdict == WAIT:
            st.waiting_pps[pp.seq] = pp
            return
        if verdict is not None:
            self._count(f"invalid_proposal_{verdict}")
            return
        st.waiting_pps.pop(pp.seq, None)
        self._accept_slot(pp, from_new_view=False)
        self._retry_waiting()

    def _remember_block(self, seq: int, block: Block) -> None:
        """Keep a signed, well-formed block we cannot vote on: a certificate may name it later."""
        if seq > self.st.committed_height + 2 * self.window:
            return
        known = self.st.blocks.setdefault(seq, {})
        if block.hash not in known and len(known) < 4:
            known[block.hash] = block

    def _parent(self, seq: int) -> ChainTip | None:
        st = self.st
        if seq - 1 == st.committed_height:
            return ChainTip(st.committed_height, st.committed_hash, st.committed_ts)
        slot = st.slots.get(seq - 1)
        if slot is None:
            return None
        header = slot.pp.block.header
        return ChainTip(seq - 1, slot.digest, header.timestamp_ms)

    def _roots_for(self, seq: int) -> tuple[bytes, bytes] | None:
        at = seq - self.cfg.params.exec_lag
        if at <= 0:
            return (self.cfg.genesis_state_root, self.cfg.genesis_results_root)
        return self.st.roots.get(at)

    def _validate_proposal(self, pp: PrePrepare) -> str | None:
        """None when acceptable, WAIT when it needs the parent, roots or a clock, else a reason."""
        parent = self._parent(pp.seq)
        roots = self._roots_for(pp.seq)
        if parent is None or roots is None or self.st.now_ms is None:
            return WAIT
        h = pp.block.header
        p = self.cfg.params
        if h.chain_id != self.cfg.chain_id or h.view != pp.view or h.proposer != self.primary(pp.view):
            return "header"
        if h.prev_block_hash != parent.block_hash:
            return "parent"
        if (
            h.timestamp_ms <= parent.timestamp_ms
            or abs(h.timestamp_ms - self.st.now_ms) > p.timestamp_drift_ms
        ):
            return "timestamp"
        if not self.known(pp.seq + 1):
            return WAIT
        if h.validators_hash != self.epoch.validators.hash:
            return "validators"
        if h.next_validators_hash != self.epochs.at(pp.seq + 1).validators.hash:
            return "validators"
        if (h.prev_state_root, h.prev_results_root) != roots:
            return "roots"
        txs = pp.block.txs
        if len(txs) > p.max_block_txs or sum(len(t) for t in txs) > p.max_block_bytes:
            return "size"
        if any(len(t) > p.max_tx_bytes for t in txs) or len(set(txs)) != len(txs):
            return "txs"
        if not self.tx_checker(txs):
            return "tx_checker"
        return None

    def _accept_slot(self, pp: PrePrepare, *, from_new_view: bool) -> None:
        """Make `pp` this view's PRE-PREPARE for its seq; a backup persists and sends its PREPARE."""
        st = self.st
        if not any(seq > st.committed_height for seq in st.slots):
            st.last_progress_tick = st.tick
        slot = Slot(pp=pp, pp_bytes=pp.encode(), created_tick=st.tick, from_new_view=from_new_view)
        st.slots[pp.seq] = slot
        if not self.is_primary and self.me is not None:
            sig = self._sign(Domain.PREPARE, prepare_payload(pp.view, pp.seq, pp.digest))
            vote = PrepareVote(view=pp.view, seq=pp.seq, digest=pp.digest, replica=self.me, signature=sig)
            slot.my_prepare = vote.encode()
            # A backup's own PREPARE counts towards its prepared certificate (Castro-Liskov §4.2).
            st.prepare_votes.setdefault(pp.seq, {})[self.me] = (pp.digest, sig)
            self._persist_slot(slot)
            self._broadcast(slot.my_prepare)
        elif self.is_primary:
            self._persist_slot(slot)
            if not from_new_view:
                self._broadcast(slot.pp_bytes)
        self._check_prepared(pp.seq)

    def _persist_slot(self, slot: Slot) -> None:
        record = [slot.pp.view, slot.pp_bytes, slot.my_prepare or b"", slot.my_commit or b""]
        self.st.persisted_seqs.add(slot.pp.seq)
        self._write(seq_key(SLOT_PREFIX, slot.pp.seq), codec.encode_trusted(record))

    def _retry_waiting(self) -> None:
        """Re-examine buffered PRE-PREPAREs in seq order (a parent or roots may have arrived)."""
        st = self.st
        for seq in sorted(st.waiting_pps):
            pp = st.waiting_pps.get(seq)
            if pp is None or seq in st.slots:
                st.waiting_pps.pop(seq, None)
                continue
            if pp.view != st.view or not st.active or seq <= st.committed_height:
                st.waiting_pps.pop(seq, None)
                continue
            verdict = self._validate_proposal(pp)
            if verdict == WAIT:
                continue
            del st.waiting_pps[seq]
            if verdict is None:
                self._accept_slot(pp, from_new_view=False)
            else:
                self._count(f"invalid_proposal_{verdict}")

    # ------------------------------------------------------------------ PREPARE
    def _on_prepare(self, sender: bytes, p: PrepareVote) -> None:
        st = self.st
        if not self.is_validator:
            return
        if p.view != st.view or not st.active or p.seq <= self.low or not self.in_epoch(p.seq):
            self._count("stale_message")
            return
        if not self.sender_is(p.replica, sender):
            self._count("spoofed_sender")
            return
        if p.seq <= st.committed_height and p.seq not in st.slots:
            self._count("stale_message")
            return
        if not self.in_window(p.seq) or p.replica == self.primary(p.view):
            self._count("outside_watermarks")
            return
        votes = st.prepare_votes.setdefault(p.seq, {})
        known = votes.get(p.replica)
        if known is not None:
            if known[0] != p.digest:
                self._count("double_vote")
            return
        if not self.verifier.prepare_ok(p):
            self._count("bad_signature")
            return
        votes[p.replica] = (p.digest, p.signature)
        self._check_prepared(p.seq)

    def _check_prepared(self, seq: int) -> None:
        st = self.st
        slot = st.slots.get(seq)
        if slot is None or slot.prepared:
            return
        votes = st.prepare_votes.get(seq, {})
        primary = self.primary(slot.pp.view)
        matching = sorted((i, sig) for i, (d, sig) in votes.items() if d == slot.digest and i != primary)
        if len(matching) < self.q - 1:
            return
        slot.prepared = True
        cert = PreparedCert(
            view=slot.pp.view,
            seq=seq,
            block=slot.pp.block,
            pp_signature=slot.pp.signature,
            prepares=tuple(matching[: self.q - 1]),
        )
        st.prepared_certs[seq] = cert
        st.persisted_seqs.add(seq)
        self._write(seq_key(PREPARED_PREFIX, seq), codec.encode_trusted(cert.to_wire()))
        self._send_commits()
        self._try_commit()  # our own COMMIT may have completed a certificate

    def _send_commits(self) -> None:
        """Send COMMITs for prepared slots, strictly in seq order (the chain-safety rule).

        Re-proposed slots at or below the committed height are voted on again: a replica that
        missed their certificates needs q COMMITs of this view.
        """
        st = self.st
        if self.me is None or not st.active or self.muted:
            return
        for seq in sorted(st.slots):
            slot = st.slots[seq]
            if slot.my_commit is not None:
                continue
            if not slot.prepared:
                if seq > st.committed_height:
                    return
                continue
            before = st.slots.get(seq - 1)
            if seq - 1 > st.committed_height and (before is None or before.my_commit is None):
                return
            pp = slot.pp
            sig = self._sign(Domain.COMMIT, commit_payload(pp.view, seq, pp.digest))
            vote = CommitVote(view=pp.view, seq=seq, digest=pp.digest, replica=self.me, signature=sig)
            slot.my_commit = vote.encode()
            self._persist_slot(slot)
            self._broadcast(slot.my_commit)
            if seq > st.committed_height:
                self._add_commit_vote(vote)

    # ------------------------------------------------------------------ COMMIT
    def _on_commit(self, sender: bytes, c: CommitVote) -> None:
        st = self.st
        if c.seq <= st.committed_height:
            self._count("stale_message")
            return
        if c.seq > max(st.stable_seq, st.committed_height) + self.window:
            self._count("outside_watermarks")
            return
        ep = self.epoch_of(c.seq)
        if ep is None:
            self._count("unknown_epoch")
            return
        if not self.sender_is(c.replica, sender, c.seq):
            self._count("spoofed_sender")
            return
        known = st.commit_votes.get(c.seq, {}).get(c.replica)
        if known is not None and known.view >= c.view:
            if known.view == c.view and known.digest != c.digest:
                self._count("double_vote")
            return
        if not ep.verifier.commit_ok(c):
            self._count("bad_signature")
            return
        self._add_commit_vote(c)
        self._try_commit()

    def _add_commit_vote(self, c: CommitVote) -> None:
        """Count `c` (verified); q COMMITs of one (view, digest) make the commit certificate."""
        st = self.st
        votes = st.commit_votes.setdefault(c.seq, {})
        votes[c.replica] = c
        if c.seq in st.certs:
            return
        ep = self.epochs.at(c.seq)
        sigs = [(v.replica, v.signature) for v in votes.values() if v.view == c.view and v.digest == c.digest]
        if len(sigs) >= ep.verifier.quorum:
            st.certs[c.seq] = make_certificate(c.seq, c.view, c.digest, sigs)
            for signer, _ in sigs:
                self._note_certified(c.seq, self.key_of(signer, c.seq))

    # ------------------------------------------------------------------ proposing (primary)
    def _chain_tip(self) -> ChainTip | None:
        """The last seq of the chain this view extends: committed, then accepted slots."""
        st = self.st
        if st.committed_height >= st.view_floor:
            tip = ChainTip(st.committed_height, st.committed_hash, st.committed_ts)
        elif st.view_floor + 1 in st.slots:
            first = st.slots[st.view_floor + 1]
            tip = ChainTip(first.pp.seq, first.digest, first.pp.block.header.timestamp_ms)
        else:
            return None
        while tip.seq + 1 in st.slots:
            slot = st.slots[tip.seq + 1]
            tip = ChainTip(tip.seq + 1, slot.digest, slot.pp.block.header.timestamp_ms)
        return tip

    def _try_propose(self) -> None:
        st = self.st
        if not self.is_primary or not st.active or st.now_ms is None or self.muted:
            return
        while st.pending:
            if not self._propose(self._next_batch):
                return
        if self._empty_block_due():
            self._propose(lambda: ())

    def _propose(self, batch: Callable[[], tuple[bytes, ...]]) -> bool:
        """Pre-prepare the next seq with `batch()`; False when it cannot be proposed now."""
        st = self.st
        tip = self._chain_tip()
        if tip is None:
            return False
        seq = tip.seq + 1
        roots = self._roots_for(seq)
        if roots is None or not self.in_window(seq) or seq <= st.view_floor or not self.known(seq + 1):
            return False
        txs = batch()
        if not txs and st.pending:
            return False
        block = self._build_block(seq, tip, roots, txs)
        sig = self._sign(Domain.PRE_PREPARE, pre_prepare_payload(st.view, seq, block.hash))
        self._accept_slot(PrePrepare(view=st.view, seq=seq, block=block, signature=sig), from_new_view=False)
        return True

    def _empty_block_due(self) -> bool:
        """An empty block is proposed when nothing is pending or in flight and either
        - a block with transactions is not yet sealed: its results root is carried by the header
          `exec_lag` blocks later, so receipts become provable without waiting for more traffic; or
        - `empty_block_interval_ms` passed since the last block: block time advances through quiet
          periods, so deadlines fire on time (they fire in the first block past their due time);
        - heartbeats are on and a validator-set change is scheduled: the new epoch begins as soon
          as the chain reaches its boundary, not after the next quiet interval.
        """
        st = self.st
        if st.pending or st.now_ms is None:
            return False
        tip = self._chain_tip()
        if tip is None or tip.seq != st.committed_height:
            return False
        p = self.cfg.params
        unsealed = bool(p.seal_results) and st.committed_height < st.last_tx_height + p.exec_lag
        quiet = p.empty_block_interval_ms > 0 and st.now_ms - tip.timestamp_ms >= p.empty_block_interval_ms
        # with heartbeats on, a scheduled validator-set change does not wait for traffic either
        changing = p.empty_block_interval_ms > 0 and self.epochs.next_after(st.epoch_start) is not None
        return unsealed or quiet or changing

    def _next_batch(self) -> tuple[bytes, ...]:
        st = self.st
        p = self.cfg.params
        in_flight = {t for slot in st.slots.values() for t in slot.pp.block.txs}
        batch: list[bytes] = []
        size = 0
        oldest: int | None = None
        full = False
        for tx, arrived in st.pending.items():
            if tx in in_flight:
                continue
            if len(batch) >= p.max_block_txs or size + len(tx) > p.max_block_bytes:
                full = True
                break
            if oldest is None:
                oldest = arrived
            batch.append(tx)
            size += len(tx)
        full = full or len(batch) >= p.max_block_txs
        if not full and oldest is not None and st.tick - oldest < p.batch_delay_ticks:
            return ()  # not worth a block yet: more requests join it until the delay passes
        return tuple(batch)

    def _build_block(
        self, seq: int, tip: ChainTip, roots: tuple[bytes, bytes], txs: tuple[bytes, ...]
    ) -> Block:
        st = self.st
        now = st.now_ms if st.now_ms is not None else 0
        header = BlockHeader(
            chain_id=self.cfg.chain_id,
            height=seq,
            view=st.view,
            timestamp_ms=max(now, tip.timestamp_ms + 1),
            prev_block_hash=tip.block_hash,
            tx_root=merkle_root(txs),
            prev_state_root=roots[0],
            prev_results_root=roots[1],
            validators_hash=self.epoch.validators.hash,
            proposer=self.primary(st.view),
            next_validators_hash=self.epochs.at(seq + 1).validators.hash,
        )
        return Block(header=header, txs=txs)
