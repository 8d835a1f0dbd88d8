"""The safety checkers, run on every step of the simulation (RELIABILITY §5.2).

- agreement: one block hash per height across honest validators and observers;
- certificate: every committed block's certificate verifies (q distinct valid COMMIT signatures of
  the validator set in force at its height, `wire.certificate.verify_certificate`), and blocks
  chain (height, parent hash, strictly increasing timestamps);
- epoch: every committed header names the set in force at its height and at the next one; the
  checker derives both itself from the canonical chain (`consensus/sim/reconfig.py`), never from
  a replica;
- equivocation: no honest validator signs two different PRE-PREPAREs, PREPAREs or COMMITs for one
  (view, seq), nor two different VIEW-CHANGEs or NEW-VIEWs for one view;
- regress: a restarted node's committed height never goes below what it had committed, nor its
  view below the one it voted in within the same epoch;
- fabrication: every committed transaction was submitted by a client;
- new-view: every NEW-VIEW an honest replica installs equals the recomputation from its
  VIEW-CHANGEs.
"""

from __future__ import annotations

from consensus.messages import (
    TAG_COMMIT,
    TAG_NEW_VIEW,
    TAG_PRE_PREPARE,
    TAG_PREPARE,
    TAG_VIEW_CHANGE,
    CommitVote,
    NewView,
    PrepareVote,
    PrePrepare,
    ViewChange,
    decode_message,
    message_tag,
)
from consensus.quorum import VerifyFn
from consensus.sim.reconfig import SetSchedule
from consensus.sim.workload import Workload
from consensus.view_change import compute_new_view
from wire.certificate import ValidatorSet, verify_certificate
from wire.crypto import sha256
from wire.errors import CertificateError
from wire.types import Block, CommitCertificate

CHECKS = ("agreement", "certificate", "epoch", "equivocation", "regress", "fabrication", "new_view")
SIGNED_TAGS = frozenset((TAG_PRE_PREPARE, TAG_PREPARE, TAG_COMMIT, TAG_VIEW_CHANGE, TAG_NEW_VIEW))


class Checker:
    def __init__(
        self,
        validators: ValidatorSet,
        chain_id: str,
        verify_fn: VerifyFn,
        workload: Workload,
        genesis_hash: bytes,
        skip: frozenset[str] = frozenset(),
        schedule: SetSchedule | None = None,
    ) -> None:
        self.genesis_hash = genesis_hash
        self.validators = validators
        self.schedule = schedule
        self.chain_id = chain_id
        self.verify_fn = verify_fn
        self.workload = workload
        self.skip = skip
        self.violations: list[str] = []
        self.canonical: dict[int, bytes] = {}
        self.signed: dict[tuple[int, bytes, int, int, int], bytes] = {}
        self.max_view_voted: dict[tuple[bytes, int], int] = {}  # (key, epoch) -> view
        self._seen_sends: set[bytes] = set()

    def fail(self, check: str, detail: str) -> None:
        if check not in self.skip:
            self.violations.append(f"{check}: {detail}")

    # ------------------------------------------------------------------ commits
    def on_commit(self, node: str, block: Block, cert: CommitCertificate, prev: Block | None) -> None:
        h = block.header
        digest = block.hash
        new = h.height not in self.canonical
        known = self.canonical.setdefault(h.height, digest)
        if known != digest:
            self.fail(
                "agreement",
                f"{node} committed {digest.hex()[:12]} at height {h.height}, others {known.hex()[:12]}",
            )
        validators = self.validators if self.schedule is None else self.schedule.set_at(h.height)
        if self.schedule is not None:
            following = self.schedule.set_at(h.height + 1)
            if h.validators_hash != validators.hash or h.next_validators_hash != following.hash:
                self.fail("epoch", f"{node} height {h.height}: the header names another validator set")
        try:
            verify_certificate(
                cert,
                validators,
                self.chain_id,
                height=h.height,
                block_hash=digest,
                verifier=self.verify_fn,
            )
        except CertificateError as exc:
            self.fail("certificate", f"{node} height {h.height}: {exc}")
        if prev is None:
            if h.height != 1:
                self.fail("certificate", f"{node} first commit is height {h.height}")
        elif h.height != prev.header.height + 1 or h.prev_block_hash != prev.hash:
            self.fail("certificate", f"{node} height {h.height} does not chain to {prev.header.height}")
        elif h.timestamp_ms <= prev.header.timestamp_ms:
            self.fail("certificate", f"{node} height {h.height} timestamp does not increase")
        for tx in block.txs:
            if tx not in self.workload.submitted:
                self.fail("fabrication", f"{node} height {h.height} holds a transaction no client submitted")
        if new and self.schedule is not None and known == digest:
            self.schedule.apply_block(h.height, block.txs)

    # ------------------------------------------------------------------ what honest validators sign
    def on_sent(self, node: str, key: bytes, data: bytes) -> None:
        tag = message_tag(data)
        if tag not in SIGNED_TAGS:
            return
        fingerprint = sha256(data)
        if fingerprint in self._seen_sends:
            return
        self._seen_sends.add(fingerprint)
        msg = decode_message(data)
        if isinstance(msg, (PrePrepare, PrepareVote, CommitVote)):
            # a seq belongs to one epoch, so (view, seq) names one slot
            slot, value, view, epoch = (tag, key, 0, msg.view, msg.seq), msg.digest, msg.view, 0
        elif isinstance(msg, (ViewChange, NewView)):
            slot, value, view, epoch = (
                (tag, key, msg.epoch, msg.view, 0),
                sha256(msg.payload()),
                msg.view,
                msg.epoch,
            )
        else:  # pragma: no cover - SIGNED_TAGS lists exactly the kinds above
            return
        known = self.signed.setdefault(slot, value)
        if known != value:
            self.fail(
                "equivocation",
                f"{node} signed two different {type(msg).__name__}s for view {view} seq {slot[4]}",
            )
        if epoch:
            self.max_view_voted[(key, epoch)] = max(self.max_view_voted.get((key, epoch), 0), view)

    # ------------------------------------------------------------------ restarts and new views
    def on_restart(
        self,
        node: str,
        key: bytes | None,
        before_height: int,
        after_height: int,
        epoch: int,
        after_view: int,
    ) -> None:
        if after_height < before_height:
            self.fail(
                "regress", f"{node} restarted at height {after_height} after committing {before_height}"
            )
        voted = self.max_view_voted.get((key or b"", epoch), 0)
        if key is not None and after_view < voted:
            self.fail("regress", f"{node} restarted in view {after_view} after voting in view {voted}")

    def on_new_view(self, node: str, nv: NewView, quorum: int) -> None:
        claimed = tuple((r.seq, r.digest) for r in nv.reproposals)
        replicas = {vc.replica for vc in nv.view_changes}
        if len(replicas) < quorum or any(vc.view != nv.view for vc in nv.view_changes):
            self.fail("new_view", f"{node} installed NEW-VIEW {nv.view} without q VIEW-CHANGEs for it")
            return
        floor = nv.epoch - 1
        floor_hash = self.genesis_hash if floor == 0 else self.canonical.get(floor, b"")
        if claimed != compute_new_view(nv.view_changes, floor, floor_hash).reproposal_keys():
            self.fail(
                "new_view",
                f"{node} installed NEW-VIEW {nv.view} whose re-proposals differ from the recomputation",
            )
