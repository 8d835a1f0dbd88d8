"""Who counts and what proves a quorum: signature checks of every vote and certificate.

Rules:

- q = `wire.certificate.quorum_size(n)` = ceil((n+f+1)/2), f = (n-1)//3: any two quorums share
  at least f+1 validators, so at least one honest one. Never 2f+1 when n != 3f+1.
- primary(view) = view mod n.
- A *prepared certificate* for (view, seq, digest) is the primary's PRE-PREPARE signature plus
  q-1 PREPARE signatures of distinct replicas other than that primary (Castro-Liskov §4.2).
- A *commit certificate* is q distinct COMMIT signatures (`wire.certificate.verify_certificate`).
- A *stable checkpoint proof* is q CHECKPOINT signatures of distinct replicas on one
  (seq, block hash, state root, results root) (§4.3).
- A VIEW-CHANGE is valid when its signature, its stable checkpoint proof (none = the epoch's
  base) and every entry verify: commit certificates with their blocks and prepared certificates,
  each seq in (low, low + L] (low = its stable checkpoint or the epoch's base, the higher),
  strictly increasing, at most one entry per seq, each from a view lower than the one being
  changed to.
- A Verifier is bound to one epoch's validator set (`consensus/epochs.py` keeps one per epoch);
  indexes in votes and certificates are indexes into that set.
- Every check returns a bool and never raises on hostile input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from consensus.messages import (
    Checkpoint,
    CommittedProof,
    CommitVote,
    PreparedCert,
    PrepareVote,
    PrePrepare,
    StableProof,
    ViewChange,
    block_body_ok,
    checkpoint_payload,
    commit_payload,
    pre_prepare_payload,
    prepare_payload,
)
from wire.certificate import ValidatorSet, certificate_ok, quorum_size
from wire.crypto import Domain, verify
from wire.types import CommitCertificate

VerifyFn = Callable[[Domain, str, bytes, bytes, bytes], bool]


def primary_of(view: int, n: int) -> int:
    return view % n


@dataclass(slots=True)
class Verifier:
    """Signature and certificate checks bound to one chain and validator set."""

    chain_id: str
    validators: ValidatorSet
    genesis_hash: bytes
    quorum: int
    verify_fn: VerifyFn = verify
    # Negative control only (mutant accept_rotated_key): the previous epoch's key at each index,
    # also accepted. Production never sets it.
    alt_pubkeys: tuple[bytes, ...] = ()
    # Signatures already checked, keyed by (signer, payload, signature): a retransmitted or embedded
    # vote is verified once. Bounded by clearing, never by eviction order.
    _seen: dict[tuple[int, bytes, bytes], bool] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        chain_id: str,
        validators: ValidatorSet,
        genesis_hash: bytes,
        verify_fn: VerifyFn,
        quorum: int | None,
        alt_pubkeys: tuple[bytes, ...] = (),
    ) -> Verifier:
        q = quorum_size(validators.n) if quorum is None else quorum
        return cls(chain_id, validators, genesis_hash, q, verify_fn, alt_pubkeys)

    @property
    def n(self) -> int:
        return self.validators.n

    def sig_ok(self, domain: Domain, signer: int, payload: bytes, signature: bytes) -> bool:
        if not 0 <= signer < self.validators.n:
            return False
        key = (signer, payload, signature)
        hit = self._seen.get(key)
        if hit is not None:
            return hit
        ok = self.verify_fn(domain, self.chain_id, self.validators.pubkeys[signer], payload, signature)
        if not ok and signer < len(self.alt_pubkeys):
            ok = self.verify_fn(domain, self.chain_id, self.alt_pubkeys[signer], payload, signature)
        if len(self._seen) >= 8192:
            self._seen.clear()
        self._seen[key] = ok
        return ok

    def pre_prepare_ok(self, pp: PrePrepare) -> bool:
        signer = primary_of(pp.view, self.n)
        return self.sig_ok(
            Domain.PRE_PREPARE, signer, pre_prepare_payload(pp.view, pp.seq, pp.digest), pp.signature
        )

    def prepare_ok(self, p: PrepareVote) -> bool:
        return self.sig_ok(Domain.PREPARE, p.replica, prepare_payload(p.view, p.seq, p.digest), p.signature)

    def commit_ok(self, c: CommitVote) -> bool:
        return self.sig_ok(Domain.COMMIT, c.replica, commit_payload(c.view, c.seq, c.digest), c.signature)

    def checkpoint_ok(self, c: Checkpoint) -> bool:
        payload = checkpoint_payload(c.seq, c.block_hash, c.state_root, c.results_root)
        return self.sig_ok(Domain.CHECKPOINT, c.replica, payload, c.signature)

    def certificate_ok(self, cert: CommitCertificate, height: int, block_hash: bytes) -> bool:
        if cert.height != height or cert.block_hash != block_hash:
            return False
        if self.quorum == quorum_size(self.n) and not self.alt_pubkeys:
            return certificate_ok(
                cert,
                self.validators,
                self.chain_id,
                height=height,
                block_hash=block_hash,
                verifier=self.verify_fn,
            )
        # Only the negative-control mutants change q or keys, and wire's checker uses the true ones.
        signers = [i for i, _ in cert.signatures]
        payload = commit_payload(cert.view, cert.height, cert.block_hash)
        return len(set(signers)) == len(signers) >= self.quorum and all(
            self.sig_ok(Domain.COMMIT, i, payload, s) for i, s in cert.signatures
        )

    def prepared_cert_ok(self, pc: PreparedCert) -> bool:
        primary = primary_of(pc.view, self.n)
        digest = pc.digest
        if pc.block.header.height != pc.seq or not block_body_ok(pc.block):
            return False
        if not self.sig_ok(
            Domain.PRE_PREPARE, primary, pre_prepare_payload(pc.view, pc.seq, digest), pc.pp_signature
        ):
            return False
        signers = [i for i, _ in pc.prepares]
        if primary in signers or len(set(signers)) != len(signers) or len(signers) < self.quorum - 1:
            return False
        payload = prepare_payload(pc.view, pc.seq, digest)
        return all(self.sig_ok(Domain.PREPARE, i, payload, s) for i, s in pc.prepares)

    def stable_proof_ok(self, proof: StableProof) -> bool:
        signers = [i for i, _ in proof.signatures]
        if len(set(signers)) != len(signers) or len(signers) < self.quorum:
            return False
        payload = checkpoint_payload(proof.seq, proof.block_hash, proof.state_root, proof.results_root)
        return all(self.sig_ok(Domain.CHECKPOINT, i, payload, sig) for i, sig in proof.signatures)

    def committed_proof_ok(self, cp: CommittedProof) -> bool:
        return block_body_ok(cp.block) and self.certificate_ok(cp.certificate, cp.seq, cp.digest)

    def view_change_ok(
        self, vc: ViewChange, window: int, floor: int, proof_verifier: Verifier | None
    ) -> bool:
        """A VIEW-CHANGE of this epoch: `floor` is the epoch's base (its start - 1, what no stable
        checkpoint means); `proof_verifier` checks its stable checkpoint proof (the set of the
        proof's height: the previous epoch's at the floor itself)."""
        if not self.sig_ok(Domain.VIEW_CHANGE, vc.replica, vc.payload(), vc.signature):
            return False
        if vc.checkpoint is not None and (
            vc.checkpoint.seq == 0
            or vc.checkpoint.seq < floor
            or proof_verifier is None
            or not proof_verifier.stable_proof_ok(vc.checkpoint)
        ):
            return False
        low = max(vc.stable_seq, floor)
        high = low + window
        for entries in (vc.committed, vc.prepared):
            last = low
            for e in entries:
                if e.seq <= last or e.seq > high or e.view >= vc.view:
                    return False
                last = e.seq
        committed = {c.seq for c in vc.committed}
        if any(pc.seq in committed for pc in vc.prepared):
            return False
        return all(self.committed_proof_ok(c) for c in vc.committed) and all(
            self.prepared_cert_ok(pc) for pc in vc.prepared
        )
