"""The `Replica`: one PBFT replica (validator or observer) as a pure state machine.

Rules:

- `step(event) -> list[Action]` is the only entry point; the same sequence of events always gives
  the same actions. Remote input never raises: undecodable, badly signed, spoofed, stale,
  out-of-window or inconsistent messages are dropped and counted in `stats`. A local contract
  violation (e.g. `Executed` out of order) raises `ConsensusError`.
- Action order within one step: a `Persist` of every record written during the step (own votes,
  view, view-change, new-view), then the sends, commits and requests in the order they happened,
  then a `Persist` deleting records that the commits made obsolete.
- Every `retransmit_ticks` a validator re-broadcasts what the protocol still waits for (its
  pending PRE-PREPAREs, PREPAREs and COMMITs older than one period, its VIEW-CHANGE while the view
  is changing, its latest CHECKPOINT) and a STATUS; lost messages cost time, never safety.
- Restart: the replica reloads its persisted records (`RecoveredState.entries`) so it re-sends,
  never contradicts, what it voted; it resumes in the highest view it entered.
"""

from __future__ import annotations

from consensus.actions import Action, Persist
from consensus.catchup import CatchUp
from consensus.checkpoint import Checkpoints
from consensus.config import RecoveredState, ReplicaConfig, SignerLike, TxChecker
from consensus.delivery import Delivery
from consensus.errors import ConsensusError, invariant
from consensus.events import BlocksFetched, Event, Executed, MessageReceived, RequestsAvailable, Tick
from consensus.messages import (
    Checkpoint,
    CommittedProof,
    CommitVote,
    NewView,
    PreparedCert,
    PrepareVote,
    PrePrepare,
    StableProof,
    Status,
    ViewChange,
    decode_message,
)
from consensus.normal_case import NormalCase
from consensus.quorum import Verifier, VerifyFn
from consensus.state import (
    KEY_NEW_VIEW,
    KEY_PREFIX,
    KEY_STABLE,
    KEY_VIEW,
    KEY_VIEW_CHANGE,
    MAX_BACKOFF_EXP,
    PREPARED_PREFIX,
    SLOT_PREFIX,
    ReplicaState,
    Slot,
)
from consensus.view_change import ViewChanges, compute_new_view
from wire import codec
from wire.crypto import verify
from wire.errors import WireError
from wire.types import Block, CommitCertificate

KNOWN_MUTANTS = frozenset(
    {"quorum_f_plus_1", "quorum_2f_plus_1", "persist_after_send", "nv_no_recompute", "no_rejoin"}
)


class Replica(NormalCase, Delivery, ViewChanges, Checkpoints, CatchUp):
    """A PBFT replica; see the package docstring for the interface and docs/consensus.md for the
    protocol. `verify_fn` and `mutants` exist for the simulator only (a fast keyed-hash signature
    scheme, and the negative-control bugs the checkers must catch); production passes neither."""

    def __init__(
        self,
        config: ReplicaConfig,
        signer: SignerLike | None,
        tx_checker: TxChecker,
        recovered: RecoveredState | None = None,
        *,
        verify_fn: VerifyFn = verify,
        mutants: frozenset[str] = frozenset(),
    ) -> None:
        n = config.validators.n
        if config.my_index is not None:
            if not 0 <= config.my_index < n:
                raise ConsensusError(f"my_index {config.my_index} is not in a set of {n}")
            if signer is None or signer.public != config.validators.pubkeys[config.my_index]:
                raise ConsensusError("a validator needs the signer of its own validator key")
        if mutants - KNOWN_MUTANTS:
            raise ConsensusError(f"unknown mutants {sorted(mutants - KNOWN_MUTANTS)}")
        self.cfg = config
        self.signer = signer if config.my_index is not None else None
        self.tx_checker = tx_checker
        self.me = config.my_index
        self.n = n
        self.f = config.validators.f
        self.mutants = mutants
        quorum = None
        if "quorum_f_plus_1" in mutants:
            quorum = self.f + 1
        elif "quorum_2f_plus_1" in mutants:
            quorum = 2 * self.f + 1
        self.verifier = Verifier.create(
            config.chain_id, config.validators, config.genesis_hash, verify_fn, quorum
        )
        self.q = self.verifier.quorum
        self.stats = {}
        self._out = []
        self._writes = {}
        self._deletes = []
        self.st = ReplicaState(
            committed_height=0,
            committed_hash=config.genesis_hash,
            committed_ts=config.genesis_time_ms,
            committed_cert=None,
        )
        if recovered is not None:
            self._recover(recovered)

    # ------------------------------------------------------------------ public read-only view
    @property
    def view(self) -> int:
        return self.st.view

    @property
    def view_active(self) -> bool:
        return self.st.active

    @property
    def view_change_timeout_ticks(self) -> int:
        """The view-change timeout in force (the base doubled per failed view change, up to 8x)."""
        return self.cfg.params.view_change_timeout_ticks << min(self.st.backoff_exp, MAX_BACKOFF_EXP)

    @property
    def following(self) -> bool:
        """True while it follows the network's view below the view it announced (it does not vote)."""
        return self.muted

    @property
    def committed_height(self) -> int:
        return self.st.committed_height

    @property
    def stable_checkpoint(self) -> int:
        return self.st.stable_seq

    @property
    def last_new_view(self) -> NewView | None:
        """The NEW-VIEW installed for the current view (None in view 0 or while changing)."""
        return self.st.new_view

    @property
    def pending_count(self) -> int:
        return len(self.st.pending)

    # ------------------------------------------------------------------ the entry point
    def step(self, event: Event) -> list[Action]:
        # _deletes may hold records recovery found obsolete: they go out with the first step.
        self._out = []
        self._writes = {}
        match event:
            case Tick():
                self._on_tick(event)
            case MessageReceived():
                self._on_message(event.sender, event.data)
            case RequestsAvailable():
                self._on_requests(event.txs)
            case Executed():
                self._on_executed(event)
            case BlocksFetched():
                self._on_blocks_fetched(event)
            case _:
                raise ConsensusError(f"unknown event {event!r}")
        return self._finish()

    def _finish(self) -> list[Action]:
        out: list[Action] = []
        writes = Persist(entries=tuple(self._writes.items())) if self._writes else None
        if writes is not None and "persist_after_send" not in self.mutants:
            out.append(writes)
        out.extend(self._out)
        if writes is not None and "persist_after_send" in self.mutants:
            out.append(writes)
        if self._deletes:
            unique = dict.fromkeys(self._deletes)
            out.append(Persist(entries=tuple((k, None) for k in unique)))
        self._out, self._writes, self._deletes = [], {}, []
        return out

    def _on_tick(self, ev: Tick) -> None:
        st = self.st
        st.tick += 1
        st.now_ms = ev.now_ms
        if st.waiting_pps:
            self._retry_waiting()
        if self.me is not None:
            self._check_view_timers()
            if st.tick % self.retransmit_ticks == 0:
                self._retransmit()
            self._try_propose()
        self._check_catch_up()

    def _on_message(self, sender: int, data: bytes) -> None:
        try:
            msg = decode_message(data)
        except WireError:
            self._count("undecodable")
            return
        if (
            isinstance(msg, (PrepareVote, CommitVote, Checkpoint, ViewChange, Status))
            and not 0 <= sender < self.n
        ):
            self._count("not_a_validator")
            return
        match msg:
            case PrePrepare():
                self._on_pre_prepare(sender, msg)
            case PrepareVote():
                self._on_prepare(sender, msg)
            case CommitVote():
                self._on_commit(sender, msg)
            case Checkpoint():
                self._on_checkpoint(sender, msg)
            case ViewChange():
                self._on_view_change(sender, msg, data)
            case NewView():
                self._on_new_view(sender, msg, data)
            case Status():
                self._on_status(sender, msg)

    def _retransmit(self) -> None:
        st = self.st
        old = st.tick - self.retransmit_ticks
        if st.active:
            for seq in sorted(st.slots):
                slot = st.slots[seq]
                # Committed slots are kept for VIEW-CHANGEs, not resent: a replica that missed
                # them catches up by transfer. Re-proposals are resent: laggards need their votes.
                if slot.created_tick > old or (seq <= st.committed_height and not slot.from_new_view):
                    continue
                if self.is_primary and not slot.from_new_view:
                    self._broadcast(slot.pp_bytes)
                if slot.my_prepare is not None:
                    self._broadcast(slot.my_prepare)
                if slot.my_commit is not None:
                    self._broadcast(slot.my_commit)
        elif st.my_view_change is not None:
            self._broadcast(st.my_view_change)
        if st.my_checkpoint is not None and st.my_checkpoint_seq > st.stable_seq:
            self._broadcast(st.my_checkpoint)
        self._send_status(st.tick // self.retransmit_ticks)

    # ------------------------------------------------------------------ restart
    def _recover(self, rec: RecoveredState) -> None:
        st = self.st
        invariant(rec.committed_height >= 0, "negative committed height")
        invariant(
            (rec.committed_height == 0) == (rec.committed_certificate is None),
            "a committed height above 0 comes with its certificate",
        )
        st.committed_height = rec.committed_height
        st.committed_hash = rec.committed_hash
        st.committed_ts = rec.committed_timestamp_ms
        st.committed_cert = rec.committed_certificate
        st.committed_hashes[rec.committed_height] = rec.committed_hash
        for block, _ in rec.recent_commits:
            if block.txs:
                st.last_tx_height = max(st.last_tx_height, block.header.height)
        for height, state_root, results_root in sorted(rec.executed):
            st.roots[height] = (state_root, results_root)
            st.executed_height = max(st.executed_height, height)
        invariant(st.executed_height <= st.committed_height, "executed above the committed height")
        entries = dict(rec.entries)
        for key in entries:
            invariant(key.startswith(KEY_PREFIX), f"foreign key {key!r} in the consensus namespace")
        try:
            self._recover_entries(entries)
            self._recover_commits(rec.recent_commits)
        except (WireError, ValueError, TypeError, IndexError) as exc:
            raise ConsensusError(f"persisted consensus records are corrupt: {exc}") from exc

    def _recover_entries(self, entries: dict[bytes, bytes]) -> None:
        st = self.st
        if KEY_VIEW in entries:
            view, active = codec.decode(entries[KEY_VIEW])
            st.view, st.active = int(view), bool(active)
            st.entered_view = st.view
        if KEY_STABLE in entries:
            proof = StableProof.from_wire(codec.decode(entries[KEY_STABLE]))
            st.stable_seq, st.stable_proof = proof.seq, proof
        if KEY_VIEW_CHANGE in entries and self.me is not None:
            vc = decode_message(entries[KEY_VIEW_CHANGE])
            if isinstance(vc, ViewChange) and vc.view == st.view:
                st.view_changes[self.me] = vc
                st.view_change_bytes[self.me] = entries[KEY_VIEW_CHANGE]
                st.my_view_change = entries[KEY_VIEW_CHANGE]
        if KEY_NEW_VIEW in entries:
            nv = decode_message(entries[KEY_NEW_VIEW])
            if isinstance(nv, NewView) and nv.view == st.view and st.active:
                plan = compute_new_view(nv.view_changes, self.cfg.genesis_hash)
                st.new_view, st.new_view_bytes = nv, entries[KEY_NEW_VIEW]
                st.view_floor = plan.base_height
                st.floor_hash = self.cfg.genesis_hash if plan.base is None else plan.base.block_hash
        for key, value in sorted(entries.items()):
            if key.startswith(PREPARED_PREFIX):
                self._recover_prepared(key, value)
        for key, value in sorted(entries.items()):
            if key.startswith(SLOT_PREFIX):
                self._recover_slot(key, value)

    def _recover_commits(self, recent: tuple[tuple[Block, CommitCertificate], ...]) -> None:
        st = self.st
        for block, cert in recent:
            h = block.header.height
            invariant(h <= st.committed_height and cert.block_hash == block.hash, "recent commits disagree")
            st.committed_hashes[h] = block.hash
            if h > st.stable_seq:
                st.commit_proofs[h] = CommittedProof(block=block, certificate=cert)

    def _recover_prepared(self, key: bytes, value: bytes) -> None:
        seq = int.from_bytes(key[len(PREPARED_PREFIX) :], "big")
        self.st.persisted_seqs.add(seq)
        if seq <= self.st.stable_seq:
            return
        self.st.prepared_certs[seq] = PreparedCert.from_wire(codec.decode(value))

    def _recover_slot(self, key: bytes, value: bytes) -> None:
        st = self.st
        seq = int.from_bytes(key[len(SLOT_PREFIX) :], "big")
        st.persisted_seqs.add(seq)
        view, pp_bytes, my_prepare, my_commit = codec.decode(value)
        if seq <= st.stable_seq or view != st.view or not st.active:
            return
        pp = decode_message(pp_bytes)
        if not isinstance(pp, PrePrepare):
            raise ConsensusError("a slot record holds a pre-prepare")
        reproposed = st.new_view is not None and any(r.seq == seq for r in st.new_view.reproposals)
        slot = Slot(pp=pp, pp_bytes=pp_bytes, created_tick=0, from_new_view=reproposed)
        slot.my_prepare = my_prepare or None
        slot.my_commit = my_commit or None
        cert = st.prepared_certs.get(seq)
        slot.prepared = cert is not None and cert.view == view and cert.digest == pp.digest
        st.slots[seq] = slot
        if slot.my_prepare is not None:
            vote = decode_message(slot.my_prepare)
            if isinstance(vote, PrepareVote):
                st.prepare_votes.setdefault(seq, {})[vote.replica] = (vote.digest, vote.signature)
        if slot.my_commit is not None and seq > st.committed_height:
            commit = decode_message(slot.my_commit)
            if isinstance(commit, CommitVote):
                st.commit_votes.setdefault(seq, {})[commit.replica] = commit
