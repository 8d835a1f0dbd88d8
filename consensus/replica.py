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
- Epochs (docs/consensus.md, "Validator-set changes"): at the start of every step the replica
  enters the next epoch once it committed that epoch's base block (its start - 1) and the new set
  is fixed. Entering starts the epoch in view 0 on that base, with no slots: the old epoch's
  evidence is not needed by anyone who committed its last block, and an old-epoch view change
  among replicas that did not is never joined by this one. Its writes go out in the step's first
  `Persist`, after the base block was stored by an earlier step.
"""

from __future__ import annotations

from consensus.actions import Action, Persist
from consensus.catchup import CatchUp
from consensus.checkpoint import Checkpoints
from consensus.config import RecoveredState, ReplicaConfig, SignerLike, TxChecker
from consensus.delivery import Delivery
from consensus.epochs import Epoch, EpochTable
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
    seq_key,
)
from consensus.view_change import ViewChanges, compute_new_view
from wire import codec
from wire.certificate import ValidatorSet, max_faulty
from wire.crypto import verify
from wire.errors import WireError
from wire.types import Block, CommitCertificate

KNOWN_MUTANTS = frozenset(
    {
        "quorum_f_plus_1",
        "quorum_2f_plus_1",
        "persist_after_send",
        "nv_no_recompute",
        "epoch_at_commit",
        "accept_rotated_key",
        "no_rejoin",
    }
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
        self.signer = signer
        self.my_key = None if signer is None else signer.public
        self.tx_checker = tx_checker
        self.mutants = mutants
        self._verify_fn = verify_fn
        self.epochs = EpochTable(
            config.validators,
            config.genesis_hash,
            config.params.checkpoint_interval,
            config.params.exec_lag,
            self._make_verifier,
            mutants,
        )
        self._set_epoch(self.epochs.epochs[0])
        self.stats = {}
        self._out = []
        self._writes = {}
        self._deletes = []
        self._stashed: dict[bytes, bytes] = {}  # recovered records of an epoch not yet re-entered
        self.st = ReplicaState(
            committed_height=0,
            committed_hash=config.genesis_hash,
            committed_ts=config.genesis_time_ms,
            committed_cert=None,
        )
        if recovered is not None:
            self._recover(recovered)

    def _make_verifier(self, validators: ValidatorSet, alt: tuple[bytes, ...]) -> Verifier:
        quorum = None
        f = max_faulty(validators.n)
        if "quorum_f_plus_1" in self.mutants:
            quorum = f + 1
        elif "quorum_2f_plus_1" in self.mutants:
            quorum = 2 * f + 1
        return Verifier.create(
            self.cfg.chain_id, validators, self.cfg.genesis_hash, self._verify_fn, quorum, alt
        )

    def _set_epoch(self, ep: Epoch) -> None:
        """Work in epoch `ep`: its set, quorum and this replica's index in it."""
        self.epoch = ep
        self.verifier = ep.verifier
        self.n = ep.validators.n
        self.f = ep.validators.f
        self.q = ep.verifier.quorum
        self.me = None if self.my_key is None else ep.validators.index_of(self.my_key)

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

    @property
    def epoch_start(self) -> int:
        """The first height of the epoch this replica works in."""
        return self.st.epoch_start

    @property
    def validators(self) -> ValidatorSet:
        """The validator set of the epoch this replica works in."""
        return self.epoch.validators

    @property
    def is_validator(self) -> bool:
        return self.me is not None

    @property
    def reported_height(self) -> int:
        """The height at least one honest validator of the current set is at, by their STATUS: the
        (f+1)-th highest height the others report (f of them may lie). A hint for readiness (a
        node replaying from genesis cannot verify certificates past the epochs it knows), never
        for safety."""
        vs = self.validators
        claims = sorted(
            (self.st.peer_heights.get(k, 0) for k in vs.pubkeys if k != self.my_key), reverse=True
        )
        f = len(vs.pubkeys) - vs.quorum
        return claims[f] if len(claims) > f else 0

    # ------------------------------------------------------------------ the entry point
    def step(self, event: Event) -> list[Action]:
        # _deletes may hold records recovery found obsolete: they go out with the first step.
        self._out = []
        self._writes = {}
        self._sync_epoch()
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

    def _on_message(self, sender: bytes, data: bytes) -> None:
        try:
            msg = decode_message(data)
        except WireError:
            self._count("undecodable")
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

    # ------------------------------------------------------------------ epochs
    def _sync_epoch(self) -> None:
        """Enter every next epoch whose base block is committed and whose set is fixed."""
        st = self.st
        current = self.epochs.by_start(st.epoch_start)
        if current is not None and current is not self.epoch:
            self._set_epoch(current)  # the table replaced it (a report for a future start: never here)
        while True:
            nxt = self.epochs.next_after(st.epoch_start)
            if nxt is None or st.committed_height < nxt.start - 1 or not self.known(nxt.start):
                return
            self._enter_epoch(nxt)

    def _enter_epoch(self, ep: Epoch) -> None:
        st = self.st
        stashed = self._stashed_for(ep.start)
        base = ep.start - 1
        base_hash = ep.base_hash or st.committed_hashes.get(base, b"")
        invariant(bool(base_hash), f"entering the epoch from {ep.start} without the hash of block {base}")
        ep.base_hash = base_hash
        st.epoch_start = ep.start
        self._set_epoch(ep)
        st.view, st.active = 0, True
        st.entered_view = 0  # views count from 0 in every epoch (a higher one would mute it)
        st.peer_views.clear()
        st.new_view, st.new_view_bytes = None, b""
        st.view_floor, st.floor_hash = base, base_hash
        st.slots.clear()
        st.waiting_pps.clear()
        st.prepare_votes.clear()
        st.view_changes.clear()
        st.view_change_bytes.clear()
        st.my_view_change = None
        st.vc_timer_start = None
        st.backoff_exp = 0
        st.last_progress_tick = st.tick
        for table in (st.prepared_certs, st.commit_proofs):
            for key in [k for k in table if k <= base]:
                del table[key]
        for seq in sorted(s for s in st.persisted_seqs if s <= base):
            self._delete(seq_key(SLOT_PREFIX, seq))
            self._delete(seq_key(PREPARED_PREFIX, seq))
            st.persisted_seqs.discard(seq)
        if stashed is not None:
            # a restart interrupted this epoch before execution caught up: resume what it voted
            self._recover_entries(stashed)
        else:
            self._persist_view()
            self._writes[KEY_VIEW_CHANGE] = None
            self._writes[KEY_NEW_VIEW] = None
        self._restart_request_timers()
        self._count("epochs_entered")

    def _stashed_for(self, start: int) -> dict[bytes, bytes] | None:
        """The recovered records if they belong to the epoch from `start` (then used up)."""
        raw = self._stashed.get(KEY_VIEW)
        if raw is None or _view_epoch(raw) != start:
            return None
        stashed, self._stashed = self._stashed, {}
        return stashed

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
        for info in sorted(rec.epochs, key=lambda e: e.start):
            self.epochs.learn(info)
        entries = dict(rec.entries)
        for key in entries:
            invariant(key.startswith(KEY_PREFIX), f"foreign key {key!r} in the consensus namespace")
        try:
            self._recover_commits(rec.recent_commits)
            self._recover_epoch()
            self._recover_entries(entries)
            for seq in [s for s in st.commit_proofs if s <= self.low]:
                del st.commit_proofs[seq]
        except (WireError, ValueError, TypeError, IndexError) as exc:
            raise ConsensusError(f"persisted consensus records are corrupt: {exc}") from exc

    def _recover_epoch(self) -> None:
        """The epoch the replica was working in: the last one it may have entered."""
        st = self.st
        ep = self.epochs.epochs[0]
        while True:
            nxt = self.epochs.next_after(ep.start)
            if nxt is None or st.committed_height < nxt.start - 1 or not self.known(nxt.start):
                break
            ep = nxt
        base_hash = ep.base_hash or st.committed_hashes.get(ep.start - 1, b"")
        invariant(bool(base_hash), f"the hash of block {ep.start - 1}, base of the current epoch, is unknown")
        ep.base_hash = base_hash
        st.epoch_start = ep.start
        st.view_floor, st.floor_hash = ep.start - 1, base_hash
        self._set_epoch(ep)

    def _recover_entries(self, entries: dict[bytes, bytes]) -> None:
        st = self.st
        if KEY_VIEW in entries:
            record = codec.decode(entries[KEY_VIEW])
            view_epoch = _view_epoch(entries[KEY_VIEW])
            if view_epoch == st.epoch_start:
                st.view, st.active = int(record[0]), bool(record[1])
                st.entered_view = st.view
            elif view_epoch > st.epoch_start:
                # voted in a later epoch than the executed blocks tell: resume it when re-entered
                self._stashed = dict(entries)
        if KEY_STABLE in entries:
            proof = StableProof.from_wire(codec.decode(entries[KEY_STABLE]))
            st.stable_seq, st.stable_proof = proof.seq, proof
        if KEY_VIEW_CHANGE in entries and self.me is not None:
            vc = decode_message(entries[KEY_VIEW_CHANGE])
            if isinstance(vc, ViewChange) and vc.view == st.view and vc.epoch == st.epoch_start:
                st.view_changes[self.me] = vc
                st.view_change_bytes[self.me] = entries[KEY_VIEW_CHANGE]
                st.my_view_change = entries[KEY_VIEW_CHANGE]
        if KEY_NEW_VIEW in entries:
            nv = decode_message(entries[KEY_NEW_VIEW])
            if isinstance(nv, NewView) and nv.view == st.view and nv.epoch == st.epoch_start and st.active:
                plan = compute_new_view(nv.view_changes, self.floor, st.floor_hash)
                st.new_view, st.new_view_bytes = nv, entries[KEY_NEW_VIEW]
                st.view_floor = plan.base_height
                st.floor_hash = plan.base_hash
        for key, value in sorted(entries.items()):
            if key.startswith(PREPARED_PREFIX):
                self._recover_prepared(key, value)
        for key, value in sorted(entries.items()):
            if key.startswith(SLOT_PREFIX):
                self._recover_slot(key, value)

    def _may_be_current(self, seq: int) -> bool:
        """`seq` is not known to lie in a later epoch than the current one."""
        nxt = self.epochs.next_after(self.st.epoch_start)
        return nxt is None or seq < nxt.start

    def _recover_commits(self, recent: tuple[tuple[Block, CommitCertificate], ...]) -> None:
        st = self.st
        for block, cert in recent:
            h = block.header.height
            invariant(h <= st.committed_height and cert.block_hash == block.hash, "recent commits disagree")
            st.committed_hashes[h] = block.hash
            st.commit_proofs[h] = CommittedProof(block=block, certificate=cert)
            self.epochs.note_base(h, block.hash)

    def _recover_prepared(self, key: bytes, value: bytes) -> None:
        seq = int.from_bytes(key[len(PREPARED_PREFIX) :], "big")
        self.st.persisted_seqs.add(seq)
        if seq <= self.low or not self._may_be_current(seq):
            return
        self.st.prepared_certs[seq] = PreparedCert.from_wire(codec.decode(value))

    def _recover_slot(self, key: bytes, value: bytes) -> None:
        st = self.st
        seq = int.from_bytes(key[len(SLOT_PREFIX) :], "big")
        st.persisted_seqs.add(seq)
        view, pp_bytes, my_prepare, my_commit = codec.decode(value)
        if seq <= self.low or view != st.view or not st.active or not self._may_be_current(seq):
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


def _view_epoch(raw: bytes) -> int:
    """The epoch start a `cs/view` record belongs to (records before epochs: the first)."""
    record = codec.decode(raw)
    return int(record[2]) if len(record) > 2 else 1
