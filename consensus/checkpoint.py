"""Checkpoints, stable checkpoints and garbage collection (Castro & Liskov, OSDI'99 §4.3).

Rules:

- Every `checkpoint_interval` (K) heights, once the driver reports it *executed* seq k
  (`Executed`), a validator signs CHECKPOINT(k, block hash, state root, results root) and
  broadcasts it. q matching CHECKPOINTs make k a *stable checkpoint*: q replicas (so at least f+1
  honest ones) hold that block and the same state after it.
- The stable checkpoint is the low watermark h; seqs are accepted only in (h, h + L]
  (L = `watermark_window`). A new stable checkpoint discards the checkpoint votes, slots, prepared
  and commit evidence at or below it, persists its proof (a VIEW-CHANGE carries it) and deletes
  the persisted records it covers. A valid proof seen in a VIEW-CHANGE or NEW-VIEW is adopted
  when we committed that block, and tells us we are behind when we did not.
- Matching means block hash *and* both roots: CHECKPOINTs that agree on the block but not on the
  state reveal non-deterministic execution; they are counted (`checkpoint_state_divergence`).
- A stable checkpoint above our committed height tells us we are behind; catch-up follows the
  certificates, not the checkpoint.
- Epochs: CHECKPOINT(k) is signed by the set in force at k (the last checkpoint of an epoch by the
  old set), with the signer's index in it; q is that set's. `Executed` also brings the epochs the
  block scheduled, which the replica records before anything else.
"""

from __future__ import annotations

from consensus.errors import ConsensusError
from consensus.events import Executed
from consensus.messages import Checkpoint, StableProof, checkpoint_payload
from consensus.state import KEY_STABLE, ReplicaBase
from wire import codec
from wire.crypto import Domain


class Checkpoints(ReplicaBase):
    def _on_executed(self, ev: Executed) -> None:
        st = self.st
        if ev.height != st.executed_height + 1 or ev.height > st.committed_height:
            raise ConsensusError(
                f"Executed({ev.height}) out of order: executed {st.executed_height}, committed {st.committed_height}"
            )
        for info in ev.epochs:
            self.epochs.learn(info, ev.height)
        st.executed_height = ev.height
        st.roots[ev.height] = (ev.state_root, ev.results_root)
        for h in [h for h in st.roots if h < ev.height - 2 * self.window]:
            del st.roots[h]
        if ev.height % self.cfg.params.checkpoint_interval == 0:
            block_hash = st.committed_hashes.get(ev.height)
            if block_hash is not None:
                self._send_checkpoint(ev, block_hash)
        self._retry_waiting()
        self._try_propose()

    def _send_checkpoint(self, ev: Executed, block_hash: bytes) -> None:
        signer = self.signer
        if signer is None or self.my_key is None or not self.known(ev.height):
            return
        index = self.epochs.at(ev.height).validators.index_of(self.my_key)
        if index is None:
            return
        payload = checkpoint_payload(ev.height, block_hash, ev.state_root, ev.results_root)
        msg = Checkpoint(
            seq=ev.height,
            block_hash=block_hash,
            state_root=ev.state_root,
            results_root=ev.results_root,
            replica=index,
            signature=signer.sign(Domain.CHECKPOINT, self.cfg.chain_id, payload),
        )
        self.st.my_checkpoint = msg.encode()
        self.st.my_checkpoint_seq = ev.height
        self._broadcast(self.st.my_checkpoint)
        self._add_checkpoint_vote(msg)

    def _on_checkpoint(self, sender: bytes, c: Checkpoint) -> None:
        st = self.st
        if not self.is_validator:
            return
        if c.seq <= st.stable_seq or c.seq % self.cfg.params.checkpoint_interval != 0:
            self._count("stale_message")
            return
        if c.seq > max(st.stable_seq, st.committed_height) + 2 * self.window:
            self._count("outside_watermarks")
            return
        ep = self.epoch_of(c.seq)
        if ep is None:
            self._count("unknown_epoch")
            return
        if not self.sender_is(c.replica, sender, c.seq):
            self._count("spoofed_sender")
            return
        if c.replica in st.checkpoint_votes.get(c.seq, {}):
            return
        if not ep.verifier.checkpoint_ok(c):
            self._count("bad_signature")
            return
        self._add_checkpoint_vote(c)

    def _add_checkpoint_vote(self, c: Checkpoint) -> None:
        st = self.st
        votes = st.checkpoint_votes.setdefault(c.seq, {})
        votes[c.replica] = c
        key = (c.block_hash, c.state_root, c.results_root)
        matching = sorted(
            (v.replica, v.signature)
            for v in votes.values()
            if (v.block_hash, v.state_root, v.results_root) == key
        )
        if any(v.block_hash == c.block_hash and v.state_root != c.state_root for v in votes.values()):
            self._count("checkpoint_state_divergence")
        if len(matching) >= self.epochs.at(c.seq).verifier.quorum and c.seq > st.stable_seq:
            proof = StableProof(
                seq=c.seq,
                block_hash=c.block_hash,
                state_root=c.state_root,
                results_root=c.results_root,
                signatures=tuple(matching),
            )
            self._make_stable(proof)

    def _note_stable_elsewhere(self, proof: StableProof) -> None:
        """A verified stable checkpoint from a VIEW-CHANGE or NEW-VIEW: q replicas hold that block."""
        st = self.st
        if proof.seq > st.committed_height:
            for signer, _ in proof.signatures:
                self._note_certified(proof.seq, self.key_of(signer, proof.seq))
        elif proof.seq > st.stable_seq and st.committed_hashes.get(proof.seq) == proof.block_hash:
            self._make_stable(proof)

    def _make_stable(self, proof: StableProof) -> None:
        st = self.st
        st.stable_seq = proof.seq
        st.stable_proof = proof
        for s in [s for s in st.checkpoint_votes if s <= proof.seq]:
            del st.checkpoint_votes[s]
        self._write(KEY_STABLE, codec.encode_trusted(proof.to_wire()))
        self._collect_garbage(min(proof.seq, st.committed_height))
        self._count("stable_checkpoints")
        # The window moved: buffered or new proposals above the old high watermark may proceed.
        self._retry_waiting()
        self._try_propose()
