"""Committing in height order, and the pending request queue with its timer.

Rules:

- A block is committed when this replica holds a commit certificate for the next height (built
  from q verified COMMITs, or verified in a catch-up answer) and a block with exactly that hash
  whose parent is the last committed block. `Commit` is emitted once per height, in order.
- Committing a seq retires its votes and fetched blocks; its slot, its prepared certificate and
  its commit certificate stay (a VIEW-CHANGE reports them) until a stable checkpoint covers it,
  when they and their persisted records go (`_collect_garbage`, Castro-Liskov §4.3).
- Requests: the pending queue is bounded (`max_pending`); a request refused by the tx checker, too
  big, or already committed recently is dropped. Arrival ticks drive the request timer: a request
  waiting longer than `request_timeout_ticks` (doubled per failed view change) in an active view
  makes this replica ask for a view change; while other requests keep committing, only a request
  waiting four times as long does (a primary skipping it), so a backlog alone does not.
"""

from __future__ import annotations

from consensus.actions import Commit, RequestsDropped
from consensus.messages import CommittedProof
from consensus.state import MAX_RECENT_COMMITTED, PREPARED_PREFIX, SLOT_PREFIX, ReplicaBase, seq_key
from wire.types import Block


class Delivery(ReplicaBase):
    def _block_for(self, seq: int, digest: bytes) -> Block | None:
        st = self.st
        slot = st.slots.get(seq)
        if slot is not None and slot.digest == digest:
            return slot.pp.block
        fetched = st.fetched.get(seq)
        if fetched is not None and fetched.hash == digest:
            return fetched
        cert = st.prepared_certs.get(seq)
        if cert is not None and cert.digest == digest:
            return cert.block
        return st.blocks.get(seq, {}).get(digest)

    def _try_commit(self) -> None:
        st = self.st
        progressed = False
        while True:
            seq = st.committed_height + 1
            cert = st.certs.get(seq)
            if cert is None:
                break
            block = self._block_for(seq, cert.block_hash)
            if block is None:
                break
            if block.header.prev_block_hash != st.committed_hash:
                # Two certified blocks that do not chain means more than f faulty validators.
                self._count("certified_fork")
                del st.certs[seq]
                break
            self._commit(block)
            progressed = True
        if progressed:
            self._send_commits()
            self._retry_waiting()
            self._try_propose()

    def _commit(self, block: Block) -> None:
        st = self.st
        seq = block.header.height
        cert = st.certs[seq]
        self._out.append(Commit(block=block, certificate=cert))
        st.committed_height = seq
        st.committed_hash = block.hash
        st.committed_ts = block.header.timestamp_ms
        st.committed_cert = cert
        if block.txs:
            st.last_tx_height = seq
        st.committed_hashes[seq] = block.hash
        self.epochs.note_base(seq, block.hash)
        st.commit_proofs[seq] = CommittedProof(block=block, certificate=cert)
        st.last_progress_tick = st.tick
        if st.active:
            st.backoff_exp = 0
        self._count("committed_blocks")
        for tx in block.txs:
            st.pending.pop(tx, None)
            st.recent_committed[tx] = None
        while len(st.recent_committed) > MAX_RECENT_COMMITTED:
            del st.recent_committed[next(iter(st.recent_committed))]
        self._retire(seq)

    def _retire(self, seq: int) -> None:
        """Forget what committing `seq` made useless; slots and evidence stay until stable."""
        st = self.st
        for table in (st.certs, st.fetched, st.blocks, st.commit_votes, st.waiting_pps):
            for key in [k for k in table if k <= seq]:
                del table[key]
        keep_from = seq - 2 * self.window
        for key in [k for k in st.committed_hashes if k < keep_from]:
            del st.committed_hashes[key]
        if st.target_height <= seq:
            st.behind_since = None

    def _collect_garbage(self, stable: int) -> None:
        """Castro-Liskov §4.3: discard the log at and below the stable checkpoint."""
        st = self.st
        for table in (st.slots, st.prepared_certs, st.commit_proofs, st.prepare_votes):
            for key in [k for k in table if k <= stable]:
                del table[key]
        for seq in sorted(s for s in st.persisted_seqs if s <= stable):
            self._delete(seq_key(SLOT_PREFIX, seq))
            self._delete(seq_key(PREPARED_PREFIX, seq))
            st.persisted_seqs.discard(seq)

    # ------------------------------------------------------------------ requests
    def _on_requests(self, txs: tuple[bytes, ...]) -> None:
        st = self.st
        if not self.is_validator:
            return
        p = self.cfg.params
        refused: list[bytes] = []
        full: list[bytes] = []
        for tx in txs:
            if tx in st.pending or tx in st.recent_committed:
                continue
            if len(tx) > p.max_tx_bytes or not self.tx_checker((tx,)):
                refused.append(tx)
            elif len(st.pending) >= self.max_pending:
                full.append(tx)
            else:
                st.pending[tx] = st.tick
        if refused:
            self._count("requests_refused")
            self._out.append(RequestsDropped(txs=tuple(refused), reason="refused"))
        if full:
            self._count("requests_queue_full")
            self._out.append(RequestsDropped(txs=tuple(full), reason="queue_full"))
        self._try_propose()

    @property
    def max_pending(self) -> int:
        return max(4096, 4 * self.cfg.params.max_block_txs)

    def _request_timer_expired(self) -> bool:
        """PBFT's request timer, tolerant of a backlog: a request waiting `request_timeout_ticks`
        while nothing commits, or four times that while other requests commit (a primary that
        keeps skipping it), asks for a view change."""
        st = self.st
        if not st.pending or st.target_height > st.committed_height:
            return False
        oldest = next(iter(st.pending.values()))
        timeout = self.cfg.params.request_timeout_ticks << min(st.backoff_exp, 3)
        age = st.tick - oldest
        if st.tick - st.last_progress_tick >= timeout:
            return age >= timeout
        return age >= 4 * timeout

    def _restart_request_timers(self) -> None:
        """A new view gives its primary a full timeout for every pending request."""
        st = self.st
        st.pending = dict.fromkeys(st.pending, st.tick)
