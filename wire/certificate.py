"""Validator sets, quorum arithmetic, and commit-certificate verification that any third party can run.

Rules:

- `f = (n - 1) // 3` and `q = ceil((n + f + 1) / 2)`: any two quorums intersect in at least f+1
  validators. Never 2f+1 when n != 3f+1 (at n=5 two quorums of 3 could share only the faulty one).
- A validator set is an ordered tuple of ed25519 public keys; a validator's index is its position.
  `validators_hash` = SHA-256 of the canonical encoding of the key list.
- A certificate is valid for (chain, height, block hash) when it names that height and hash and
  carries at least q signatures from distinct indexes of the set in force at that height, each a
  valid `commit` signature over `commit_vote_bytes(height, view, block_hash)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from wire import codec
from wire.crypto import PUBKEY_SIZE, Domain, sha256, verify
from wire.errors import CertificateError
from wire.types import MAX_VALIDATORS, CommitCertificate, commit_vote_bytes

VerifyFn = Callable[[Domain, str, bytes, bytes, bytes], bool]
"""The shape of `wire.crypto.verify`: (domain, chain_id, pubkey, payload, signature) -> bool.

Injectable only so that the deterministic simulator can swap in a fast keyed-hash scheme; every
production caller uses the default, ed25519."""


def max_faulty(n: int) -> int:
    return (n - 1) // 3


def quorum_size(n: int) -> int:
    """q = ceil((n + f + 1) / 2) with f = (n - 1) // 3."""
    if n < 1:
        raise ValueError("a validator set has at least one member")
    f = max_faulty(n)
    return (n + f + 2) // 2


@dataclass(frozen=True)
class ValidatorSet:
    pubkeys: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 0 < len(self.pubkeys) <= MAX_VALIDATORS:
            raise CertificateError(f"a validator set has 1..{MAX_VALIDATORS} members")
        if any(len(k) != PUBKEY_SIZE for k in self.pubkeys):
            raise CertificateError("validator keys are 32-byte ed25519 public keys")
        if len(set(self.pubkeys)) != len(self.pubkeys):
            raise CertificateError("a validator key appears twice")

    @property
    def n(self) -> int:
        return len(self.pubkeys)

    @property
    def f(self) -> int:
        return max_faulty(self.n)

    @property
    def quorum(self) -> int:
        return quorum_size(self.n)

    @cached_property
    def hash(self) -> bytes:
        return sha256(codec.encode_trusted([list(self.pubkeys)]))

    def index_of(self, pubkey: bytes) -> int | None:
        try:
            return self.pubkeys.index(pubkey)
        except ValueError:
            return None


def verify_certificate(
    cert: CommitCertificate,
    validators: ValidatorSet,
    chain_id: str,
    *,
    height: int | None = None,
    block_hash: bytes | None = None,
    verifier: VerifyFn = verify,
) -> None:
    """Raise CertificateError unless `cert` proves a quorum committed `block_hash` at `height`."""
    if height is not None and cert.height != height:
        raise CertificateError(f"certificate is for height {cert.height}, expected {height}")
    if block_hash is not None and cert.block_hash != block_hash:
        raise CertificateError(f"certificate at height {cert.height} is for another block hash")
    seen: set[int] = set()
    payload = commit_vote_bytes(cert.height, cert.view, cert.block_hash)
    for index, signature in cert.signatures:
        if index in seen:
            raise CertificateError(f"validator {index} signs twice in the certificate")
        if not 0 <= index < validators.n:
            raise CertificateError(f"validator index {index} is not in the set of {validators.n}")
        if not verifier(Domain.COMMIT, chain_id, validators.pubkeys[index], payload, signature):
            raise CertificateError(f"signature of validator {index} does not verify at height {cert.height}")
        seen.add(index)
    if len(seen) < validators.quorum:
        raise CertificateError(
            f"certificate at height {cert.height} has {len(seen)} signatures, quorum is {validators.quorum}"
        )


def certificate_ok(
    cert: CommitCertificate,
    validators: ValidatorSet,
    chain_id: str,
    *,
    height: int,
    block_hash: bytes,
    verifier: VerifyFn = verify,
) -> bool:
    try:
        verify_certificate(
            cert, validators, chain_id, height=height, block_hash=block_hash, verifier=verifier
        )
    except CertificateError:
        return False
    return True


def make_certificate(
    height: int, view: int, block_hash: bytes, signatures: Sequence[tuple[int, bytes]]
) -> CommitCertificate:
    """A canonical certificate: signatures sorted by validator index, one per index."""
    by_index = dict(sorted(signatures))
    return CommitCertificate(
        height=height, view=view, block_hash=block_hash, signatures=tuple(sorted(by_index.items()))
    )
