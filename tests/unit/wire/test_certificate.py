"""wire.certificate's optional `verifier` (added for the simulator): the default stays ed25519, and
an injected scheme is used for every signature, so a certificate valid under one is not under the
other."""

from __future__ import annotations

import pytest

from consensus.sim.crypto import FakeSigner, FakeVerifier
from wire.certificate import ValidatorSet, certificate_ok, make_certificate, verify_certificate
from wire.crypto import Domain, SigningKey
from wire.errors import CertificateError
from wire.types import commit_vote_bytes

H = bytes(range(32))


def test_default_is_ed25519_and_an_injected_verifier_replaces_it() -> None:
    keys = [SigningKey(bytes([i + 1]) * 32) for i in range(4)]
    real = ValidatorSet(tuple(k.public for k in keys))
    sigs = [(i, k.sign(Domain.COMMIT, "c", commit_vote_bytes(5, 1, H))) for i, k in enumerate(keys[:3])]
    cert = make_certificate(5, 1, H, sigs)
    verify_certificate(cert, real, "c", height=5, block_hash=H)
    assert not certificate_ok(cert, real, "c", height=5, block_hash=H, verifier=lambda *a: False)

    secrets = [bytes([i]) * 32 for i in range(4)]
    fakes = [FakeSigner(s) for s in secrets]
    fake_set = ValidatorSet(tuple(f.public for f in fakes))
    fake_sigs = [(i, f.sign(Domain.COMMIT, "c", commit_vote_bytes(5, 1, H))) for i, f in enumerate(fakes[:3])]
    fake_cert = make_certificate(5, 1, H, fake_sigs)
    verify_certificate(fake_cert, fake_set, "c", height=5, block_hash=H, verifier=FakeVerifier(secrets))
    with pytest.raises(CertificateError):
        verify_certificate(fake_cert, fake_set, "c", height=5, block_hash=H)
