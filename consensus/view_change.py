"""View changes (Castro & Liskov, OSDI'99 §4.4) with the chain rule of docs/consensus.md.

Rules:

- A replica leaves view v for v+1 when a timer expires (`_on_view_change_timeout`): a slot of v
  was accepted but nothing committed for `view_change_timeout_ticks`, or a request waited longer
  than `request_timeout_ticks`; or when it receives valid VIEW-CHANGEs for higher views from f+1
  replicas (it joins the (f+1)-th highest, so f liars cannot drag it anywhere). It never votes in
  a view lower than one it entered, and it persists the new view and its VIEW-CHANGE before
  sending it.
- Alone in a higher view while f+1 peers report (STATUS) that they are active in a lower one, it
  follows that view without voting (`_maybe_follow`; `cs/view` keeps the view it announced), and
  re-enters its announced view with the same VIEW-CHANGE when the others leave the followed one.
- VIEW-CHANGE(v', i) carries i's stable checkpoint proof and, for each seq above it, its best
  evidence: the block with its commit certificate if i committed it, else i's highest-view
  prepared certificate.
- View changes happen inside one validator epoch: VIEW-CHANGE and NEW-VIEW name it, views are
  numbered per epoch, and a replica only handles those of the epoch it works in. The epoch's base
  block (its start - 1, which every replica of the epoch committed) plays the part genesis plays
  in the first epoch.
- The NEW-VIEW computation (`compute_new_view`, run by the new primary and recomputed by every
  backup): base = the highest stable checkpoint among the q VIEW-CHANGEs, or the epoch's base if
  that is higher; per seq above it take
  the evidence with the highest view (a commit certificate counts with its view); keep the
  longest prefix whose blocks chain by hash from the base. The prefix is re-proposed in the new
  view, committed blocks included, and replicas that already committed them vote again, so a
  replica that missed their certificates gets new ones from honest votes. Seqs after the prefix
  are proposed afresh; no null requests. The base is a *stable* checkpoint, which q replicas
  hold, so a lagging replica can always fetch up to it from an honest one.
- A backup accepts NEW-VIEW(v') only if it is signed by primary(v'), holds q valid VIEW-CHANGEs for
  v' from distinct replicas, and its re-proposals equal the recomputation exactly.
- The timer waiting for NEW-VIEW starts only once q VIEW-CHANGEs for the view or a higher one are
  known (so a partitioned replica does not run its view up alone, and one that moved on alone
  does not strand the others); each failed view change doubles the timeouts, up to 8x, and a
  commit in an active view resets them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from consensus.messages import NewView, PrePrepare, Reproposal, StableProof, ViewChange, pre_prepare_payload
from consensus.state import KEY_NEW_VIEW, KEY_VIEW, KEY_VIEW_CHANGE, MAX_BACKOFF_EXP, ReplicaBase
from wire import codec
from wire.crypto import Domain
from wire.types import Block


@dataclass(frozen=True, slots=True, kw_only=True)
class Pick:
    """One re-proposal of a NEW-VIEW: the block chosen for `seq` and the view of its evidence."""

    seq: int
    view: int
    block: Block

    @property
    def digest(self) -> bytes:
        return self.block.hash


@dataclass(frozen=True, slots=True, kw_only=True)
class NewViewPlan:
    """What a NEW-VIEW must contain, recomputed from its VIEW-CHANGEs."""

    base: StableProof | None  # None: the epoch's base block
    base_height: int
    base_hash: bytes
    picks: tuple[Pick, ...]

    def reproposal_keys(self) -> tuple[tuple[int, bytes], ...]:
        return tuple((p.seq, p.digest) for p in self.picks)


def compute_new_view(view_changes: Sequence[ViewChange], floor: int, floor_hash: bytes) -> NewViewPlan:
    """The deterministic NEW-VIEW computation over already-verified VIEW-CHANGEs of one epoch
    whose base block is `floor` (hash `floor_hash`; 0 and the genesis hash in the first epoch)."""
    best_vc = max(view_changes, key=lambda vc: (vc.stable_seq, -vc.replica))
    base: StableProof | None = None
    base_height, base_hash = floor, floor_hash
    if best_vc.checkpoint is not None and best_vc.stable_seq > floor:
        base, base_height, base_hash = best_vc.checkpoint, best_vc.stable_seq, best_vc.checkpoint.block_hash
    best: dict[int, tuple[int, bool, bytes, Block]] = {}
    for vc in view_changes:
        entries = [(c.seq, c.view, True, c.block) for c in vc.committed]
        entries += [(pc.seq, pc.view, False, pc.block) for pc in vc.prepared]
        for seq, view, committed, block in entries:
            if seq <= base_height:
                continue
            cur = best.get(seq)
            # Highest view wins, a commit certificate before a prepared one; any other tie needs
            # more than f faulty replicas and is broken by digest so every backup agrees.
            key = (view, committed, _neg(block.hash))
            if cur is None or key > (cur[0], cur[1], _neg(cur[2])):
                best[seq] = (view, committed, block.hash, block)
    picks: list[Pick] = []
    prev = base_hash
    seq = base_height + 1
    while seq in best and best[seq][3].header.prev_block_hash == prev:
        view, _, digest, block = best[seq]
        picks.append(Pick(seq=seq, view=view, block=block))
        prev, seq = digest, seq + 1
    return NewViewPlan(base=base, base_height=base_height, base_hash=base_hash, picks=tuple(picks))


def _neg(digest: bytes) -> bytes:
    return bytes(255 - b for b in digest)


class ViewChanges(ReplicaBase):
    # ------------------------------------------------------------------ leaving a view
    def _on_view_change_timeout(self) -> None:
        st = self.st
        self._count("view_change_timeouts")
        st.backoff_exp = min(st.backoff_exp + 1, MAX_BACKOFF_EXP + 1)
        self._start_view_change(st.view + 1)

    def _start_view_change(self, new_view: int) -> None:
        st = self.st
        if self.me is None or new_view <= st.view:
            return
        if new_view <= st.entered_view and self._reenter_announced_view():
            return
        new_view = max(new_view, st.entered_view)
        st.view = new_view
        st.entered_view = new_view
        st.active = False
        st.new_view = None
        st.new_view_bytes = b""
        st.slots.clear()
        st.waiting_pps.clear()
        st.prepare_votes.clear()
        st.vc_timer_start = None
        low = self.low
        high = low + self.window
        committed = tuple(st.commit_proofs[s] for s in sorted(st.commit_proofs) if low < s <= high)
        done = {c.seq for c in committed}
        prepared = tuple(
            st.prepared_certs[s] for s in sorted(st.prepared_certs) if low < s <= high and s not in done
        )
        unsigned = ViewChange(
            view=new_view,
            epoch=st.epoch_start,
            replica=self.me,
            checkpoint=st.stable_proof if st.stable_seq >= self.floor and st.stable_seq > 0 else None,
            committed=committed,
            prepared=prepared,
            signature=bytes(64),
        )
        vc = replace(unsigned, signature=self._sign(Domain.VIEW_CHANGE, unsigned.payload()))
        data = vc.encode()
        st.view_changes[self.me] = vc
        st.view_change_bytes[self.me] = data
        st.my_view_change = data
        self._persist_view()
        self._write(KEY_VIEW_CHANGE, data)
        self._broadcast(data)
        self._count("view_changes_sent")
        self._maybe_send_new_view()

    def _persist_view(self) -> None:
        if self.muted:
            return  # `cs/view` keeps the announced view: a restart resumes there, never lower
        self._write(KEY_VIEW, codec.encode_trusted([self.st.view, self.st.active, self.st.epoch_start]))

    # ------------------------------------------------------------------ following a lower view
    def _maybe_follow(self) -> None:
        """Alone in a higher view: follow the view f+1 peers are active in (issue 18.8).

        A replica that entered view w on its own (a timer, or a NEW-VIEW it missed) waits there for
        q VIEW-CHANGEs that never come while the others commit in v < w. When f+1 peers whose
        VIEW-CHANGEs (if any) are below w report in STATUS that they are active in a view below
        w, at least one honest replica is, and this replica follows the (f+1)-th highest of those
        views: it counts COMMITs, commits, checkpoints and reports that view. It does not vote
        there: its VIEW-CHANGE(w) promised to vote in no view below w (the (P) property of the
        safety argument), so a NEW-VIEW(w) built on that VIEW-CHANGE still reflects every vote it
        cast. It votes again from the next view change, where it re-sends that same VIEW-CHANGE.
        """
        st = self.st
        if self.me is None or st.active or st.view != st.entered_view or "no_rejoin" in self.mutants:
            return
        views = []
        for peer, (view, active) in st.peer_views.items():
            index = self.epoch.validators.index_of(peer)  # STATUS of this epoch only (catchup.py)
            if index is None or index == self.me:
                continue
            vc = st.view_changes.get(index)
            if active and view < st.view and (vc is None or vc.view < st.view):
                views.append(view)
        if len(views) < self.f + 1:
            return
        views.sort(reverse=True)
        st.view = views[self.f]
        st.active = True
        st.new_view = None
        st.new_view_bytes = b""
        st.view_floor = max(st.view_floor, st.committed_height)
        st.slots.clear()
        st.waiting_pps.clear()
        st.prepare_votes.clear()
        st.vc_timer_start = None
        st.last_progress_tick = st.tick
        self._restart_request_timers()
        self._count("views_followed")

    def _reenter_announced_view(self) -> bool:
        """Back from following to the view this replica announced, with the same VIEW-CHANGE."""
        st = self.st
        data = st.my_view_change
        if self.me is None or data is None:
            return False
        vc = st.view_changes.get(self.me)
        if vc is None or vc.view != st.entered_view or st.view_change_bytes.get(self.me) != data:
            return False
        st.view = st.entered_view
        st.active = False
        st.new_view = None
        st.new_view_bytes = b""
        st.slots.clear()
        st.waiting_pps.clear()
        st.prepare_votes.clear()
        st.vc_timer_start = None
        self._broadcast(data)
        self._count("views_reentered")
        self._maybe_send_new_view()
        return True

    # ------------------------------------------------------------------ VIEW-CHANGE
    def _on_view_change(self, sender: bytes, vc: ViewChange, data: bytes) -> None:
        st = self.st
        if not self.is_validator:
            return
        if vc.epoch != st.epoch_start:
            self._count("other_epoch")
            return
        if not self.sender_is(vc.replica, sender):
            self._count("spoofed_sender")
            return
        if vc.view < st.view or (vc.view == st.view and st.active):
            self._count("stale_message")
            return
        known = st.view_changes.get(vc.replica)
        if known is not None and (known.view > vc.view or st.view_change_bytes.get(vc.replica) == data):
            return
        if not self._view_change_ok(vc):
            self._count("bad_view_change")
            return
        st.view_changes[vc.replica] = vc
        st.view_change_bytes[vc.replica] = data
        if vc.checkpoint is not None:
            self._note_stable_elsewhere(vc.checkpoint)
        self._maybe_join_higher_view()
        self._maybe_send_new_view()

    def _view_change_ok(self, vc: ViewChange) -> bool:
        proof_verifier = None if vc.checkpoint is None else self.verifier_for(vc.checkpoint.seq)
        return self.verifier.view_change_ok(vc, self.window, self.floor, proof_verifier)

    def _maybe_join_higher_view(self) -> None:
        """Join the (f+1)-th highest view announced above ours: at least one honest replica is there."""
        st = self.st
        higher = sorted(
            (vc.view for i, vc in st.view_changes.items() if i != self.me and vc.view > st.view), reverse=True
        )
        if len(higher) >= self.f + 1:
            self._start_view_change(higher[self.f])

    def _view_changes_for(self, view: int) -> list[ViewChange]:
        return [vc for _, vc in sorted(self.st.view_changes.items()) if vc.view == view]

    # ------------------------------------------------------------------ NEW-VIEW
    def _maybe_send_new_view(self) -> None:
        st = self.st
        if not self.is_primary or st.active or st.new_view is not None or self.me is None:
            return
        vcs = self._view_changes_for(st.view)
        if len(vcs) < self.q:
            return
        mine = [vc for vc in vcs if vc.replica == self.me]
        chosen = (mine + [vc for vc in vcs if vc.replica != self.me])[: self.q]
        chosen.sort(key=lambda vc: vc.replica)
        plan = compute_new_view(chosen, self.floor, self.epoch.base_hash)
        reps = tuple(
            Reproposal(
                seq=pc.seq,
                digest=pc.digest,
                signature=self._sign(Domain.PRE_PREPARE, pre_prepare_payload(st.view, pc.seq, pc.digest)),
            )
            for pc in plan.picks
        )
        unsigned = NewView(
            view=st.view,
            epoch=st.epoch_start,
            replica=self.me,
            view_changes=tuple(chosen),
            reproposals=reps,
            signature=bytes(64),
        )
        nv = NewView(
            view=st.view,
            epoch=st.epoch_start,
            replica=self.me,
            view_changes=tuple(chosen),
            reproposals=reps,
            signature=self._sign(Domain.NEW_VIEW, unsigned.payload()),
        )
        data = nv.encode()
        self._write(KEY_NEW_VIEW, data)
        self._broadcast(data)
        self._count("new_views_sent")
        self._install_new_view(nv, data, plan)

    def _on_new_view(self, sender: bytes, nv: NewView, data: bytes) -> None:
        st = self.st
        if not self.is_validator:
            return
        if nv.epoch != st.epoch_start:
            self._count("other_epoch")
            return
        if nv.view < st.view or (nv.view == st.view and st.active):
            self._count("stale_message")
            return
        plan = self._verify_new_view(nv)
        if plan is None:
            self._count("bad_new_view")
            return
        self._write(KEY_NEW_VIEW, data)
        self._install_new_view(nv, data, plan)

    def _verify_new_view(self, nv: NewView) -> NewViewPlan | None:
        if nv.replica != self.primary(nv.view) or nv.view == 0:
            return None
        if not self.verifier.sig_ok(Domain.NEW_VIEW, nv.replica, nv.payload(), nv.signature):
            return None
        replicas = [vc.replica for vc in nv.view_changes]
        if len(set(replicas)) != len(replicas) or len(replicas) < self.q:
            return None
        for vc in nv.view_changes:
            if vc.view != nv.view or vc.epoch != nv.epoch or not self._view_change_ok(vc):
                return None
        plan = compute_new_view(nv.view_changes, self.floor, self.epoch.base_hash)
        claimed = tuple((r.seq, r.digest) for r in nv.reproposals)
        if "nv_no_recompute" in self.mutants:
            plan = _trust_claimed(plan, nv)
        elif claimed != plan.reproposal_keys():
            return None
        for r in nv.reproposals:
            if not self.verifier.sig_ok(
                Domain.PRE_PREPARE, nv.replica, pre_prepare_payload(nv.view, r.seq, r.digest), r.signature
            ):
                return None
        return plan

    def _install_new_view(self, nv: NewView, data: bytes, plan: NewViewPlan) -> None:
        st = self.st
        st.view = nv.view
        st.active = True
        if not self.muted:
            st.entered_view = nv.view
        st.new_view = nv
        st.new_view_bytes = data
        st.view_floor = plan.base_height
        st.floor_hash = plan.base_hash
        st.slots.clear()
        st.waiting_pps.clear()
        st.prepare_votes.clear()
        st.vc_timer_start = None
        st.last_progress_tick = st.tick
        self._persist_view()
        self._restart_request_timers()
        self._count("new_views_installed")
        if plan.base is not None:
            self._note_stable_elsewhere(plan.base)
        sigs = {r.seq: r.signature for r in nv.reproposals}
        for pick in plan.picks:
            if pick.seq <= st.stable_seq:
                continue
            if not self.in_window(pick.seq) or pick.seq not in sigs:
                break
            if self.muted:
                self._remember_block(pick.seq, pick.block)
                continue
            mine = st.committed_hashes.get(pick.seq) if pick.seq <= st.committed_height else None
            if mine is not None and mine != pick.digest:
                self._count("certified_fork")
                break
            pp = PrePrepare(view=nv.view, seq=pick.seq, block=pick.block, signature=sigs[pick.seq])
            self._accept_slot(pp, from_new_view=True)
        self._send_commits()
        self._try_commit()
        self._try_propose()

    # ------------------------------------------------------------------ timers
    def _check_view_timers(self) -> None:
        st = self.st
        if self.me is None:
            return
        timeout = self.cfg.params.view_change_timeout_ticks << min(st.backoff_exp, MAX_BACKOFF_EXP)
        if not st.active:
            if st.vc_timer_start is None:
                # q replicas gave up on views below ours or ours (the latest VIEW-CHANGE of each):
                # those already past ours count, or a replica that moved on alone could leave the
                # rest waiting for a VIEW-CHANGE it no longer sends
                if sum(1 for vc in st.view_changes.values() if vc.view >= st.view) >= self.q:
                    st.vc_timer_start = st.tick
            elif st.tick - st.vc_timer_start >= timeout:
                self._on_view_change_timeout()
            return
        waiting = any(seq > st.committed_height for seq in st.slots)
        stalled = waiting and st.tick - st.last_progress_tick >= timeout
        if stalled or self._request_timer_expired():
            self._on_view_change_timeout()


def _trust_claimed(plan: NewViewPlan, nv: NewView) -> NewViewPlan:
    """Negative-control mutant: take the primary's word for the re-proposals (never in production)."""
    blocks: dict[bytes, tuple[int, Block]] = {}
    for vc in nv.view_changes:
        for c in vc.committed:
            blocks[c.digest] = (c.view, c.block)
        for pc in vc.prepared:
            blocks[pc.digest] = (pc.view, pc.block)
    picks = tuple(
        Pick(seq=r.seq, view=blocks[r.digest][0], block=blocks[r.digest][1])
        for r in nv.reproposals
        if r.digest in blocks
    )
    return NewViewPlan(base=plan.base, base_height=plan.base_height, base_hash=plan.base_hash, picks=picks)
