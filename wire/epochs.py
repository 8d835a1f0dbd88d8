"""Validator-set epochs: when a committed set change takes effect, which set is in force at a
height, and the proof of the set at a height that a verifier checks from genesis.

Rules:

- An epoch is a run of heights with one validator set: `ValidatorEpoch(from_height, validators)`.
  The first epoch is the genesis set from height 1.
- A set change whose transaction is executed in block h takes effect from block B + 1, where B is
  the first checkpoint height (a multiple of `checkpoint_interval` K) with B >= h + exec_lag:
  `epoch_start(h, K, exec_lag)`. So the change's receipt is sealed (carried by a header) inside
  the old epoch, and every node knows the set of block B + 1 as soon as it may validate it: the
  set of height s is fixed by the changes executed up to `((s - 1) // K) * K - exec_lag`
  (`set_known`), never later than the roots block s carries. Several changes aimed at one
  boundary make one epoch.
- The set in force at height s is that of the epoch with the largest start <= s.
- Block headers carry `validators_hash` (the set in force at their height) and
  `next_validators_hash` (the set at the next height), so the last header of an epoch, certified
  by the old set, names the next one.
- The proof of the set at a height is the chain of epoch proofs from genesis: for each epoch after
  the first, its key list, the header of its boundary block B = start - 1 and B's commit
  certificate. `verify_epoch_chain` checks each against the set before it: B is a checkpoint
  height after the previous start, the header is of this chain and height, names the previous
  set as in force and the new one as next, and the certificate holds a quorum of the previous set.
  A verifier that was not shown a later epoch keeps using the last set it verified: headers it
  then checks must name that set (a node can withhold news, not forge it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wire.certificate import ValidatorSet, VerifyFn, verify_certificate
from wire.crypto import PUBKEY_SIZE, sha256, verify
from wire.errors import CertificateError, DecodeError, ProofError
from wire.types import BlockHeader, CommitCertificate

MAX_EPOCHS = 4096


def epoch_start(change_height: int, checkpoint_interval: int, exec_lag: int) -> int:
    """The first height at which a set change executed in block `change_height` is in force."""
    if change_height < 1 or checkpoint_interval < 1 or exec_lag < 0:
        raise ValueError("heights start at 1; K >= 1; exec_lag >= 0")
    least = change_height + exec_lag
    boundary = -(-least // checkpoint_interval) * checkpoint_interval
    return boundary + 1


def epoch_base(height: int, checkpoint_interval: int) -> int:
    """The last checkpoint height strictly below `height` (0 for the first K heights)."""
    return ((height - 1) // checkpoint_interval) * checkpoint_interval


def set_known(height: int, executed_height: int, checkpoint_interval: int, exec_lag: int) -> bool:
    """Whether the set in force at `height` is fixed once blocks up to `executed_height` ran."""
    return executed_height >= epoch_base(height, checkpoint_interval) - exec_lag


def known_horizon(executed_height: int, checkpoint_interval: int, exec_lag: int) -> int:
    """The highest height whose set is fixed after executing up to `executed_height`."""
    k = checkpoint_interval
    return ((executed_height + exec_lag) // k) * k + k


@dataclass(frozen=True, slots=True)
class ValidatorEpoch:
    """The validator set in force from `from_height` until the next epoch."""

    from_height: int
    validators: ValidatorSet


def validators_at(epochs: Sequence[ValidatorEpoch], height: int) -> ValidatorSet:
    """The set of the epoch with the largest start <= `height` (epochs in start order)."""
    chosen: ValidatorSet | None = None
    for epoch in epochs:
        if epoch.from_height <= height:
            chosen = epoch.validators
        else:
            break
    if chosen is None:
        raise ProofError(f"no validator set is in force at height {height}")
    return chosen


@dataclass(frozen=True, slots=True, kw_only=True)
class EpochProof:
    """One epoch after genesis: its start, its keys, and the certified boundary header before it."""

    start: int
    validators: tuple[bytes, ...]
    header_bytes: bytes
    certificate_bytes: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "validators": [k.hex() for k in self.validators],
            "boundary_header": self.header_bytes.hex(),
            "boundary_certificate": self.certificate_bytes.hex(),
        }

    def to_wire(self) -> list[Any]:
        """The positional form inside msgpack messages (statesync answers, the store)."""
        return [self.start, list(self.validators), self.header_bytes, self.certificate_bytes]

    @classmethod
    def from_wire(cls, value: Any) -> EpochProof:
        try:
            start, keys, header_bytes, certificate_bytes = value
            if type(start) is not int or not isinstance(keys, list) or len(keys) > 256:
                raise TypeError("start is an integer, validators a list of keys")
            validators = tuple(bytes(k) for k in keys)
            if any(len(k) != PUBKEY_SIZE for k in validators):
                raise ValueError("validator keys are 32 bytes")
            if not isinstance(header_bytes, bytes) or not isinstance(certificate_bytes, bytes):
                raise TypeError("the boundary header and certificate are bytes")
        except (TypeError, ValueError) as exc:
            raise ProofError(f"malformed epoch proof: {exc}") from None
        return cls(
            start=start, validators=validators, header_bytes=header_bytes, certificate_bytes=certificate_bytes
        )

    @classmethod
    def from_json(cls, doc: Any) -> EpochProof:
        try:
            if not isinstance(doc, dict):
                raise TypeError("an epoch proof is an object")
            start = doc["start"]
            keys = doc["validators"]
            if type(start) is not int or not isinstance(keys, list) or len(keys) > 256:
                raise TypeError("start is an integer, validators a list of keys")
            validators = tuple(bytes.fromhex(k) for k in keys)
            if any(len(k) != PUBKEY_SIZE for k in validators):
                raise ValueError("validator keys are 32 bytes")
            return cls(
                start=start,
                validators=validators,
                header_bytes=bytes.fromhex(doc["boundary_header"]),
                certificate_bytes=bytes.fromhex(doc["boundary_certificate"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProofError(f"malformed epoch proof: {exc}") from None


def verify_epoch_chain(
    chain_id: str,
    genesis_validators: ValidatorSet,
    checkpoint_interval: int,
    proofs: Sequence[EpochProof],
    *,
    verifier: VerifyFn = verify,
) -> tuple[ValidatorEpoch, ...]:
    """The epochs from genesis proven by `proofs` (in start order); ProofError names the first flaw."""
    if len(proofs) > MAX_EPOCHS:
        raise ProofError(f"more than {MAX_EPOCHS} epochs")
    epochs = [ValidatorEpoch(1, genesis_validators)]
    for proof in proofs:
        prev = epochs[-1]
        boundary = proof.start - 1
        if boundary <= prev.from_height - 1 or boundary % checkpoint_interval != 0 or boundary < 1:
            raise ProofError(
                f"epoch from {proof.start}: its boundary {boundary} is not a checkpoint height after "
                f"the epoch from {prev.from_height}"
            )
        try:
            new = ValidatorSet(proof.validators)
        except CertificateError as exc:
            raise ProofError(f"epoch from {proof.start}: {exc.message}") from None
        try:
            header = BlockHeader.decode(proof.header_bytes)
            cert = CommitCertificate.decode(proof.certificate_bytes)
        except DecodeError as exc:
            raise ProofError(f"epoch from {proof.start}: boundary does not decode: {exc.message}") from None
        if header.chain_id != chain_id or header.height != boundary:
            raise ProofError(f"epoch from {proof.start}: the boundary header is not block {boundary}")
        if header.validators_hash != prev.validators.hash:
            raise ProofError(f"block {boundary} does not name the set of the epoch from {prev.from_height}")
        if header.next_validators_hash != new.hash:
            raise ProofError(f"block {boundary} does not name the set of the epoch from {proof.start}")
        try:
            verify_certificate(
                cert,
                prev.validators,
                chain_id,
                height=boundary,
                block_hash=sha256(proof.header_bytes),
                verifier=verifier,
            )
        except CertificateError as exc:
            raise ProofError(f"epoch from {proof.start}: {exc.message}") from None
        epochs.append(ValidatorEpoch(proof.start, new))
    return tuple(epochs)
