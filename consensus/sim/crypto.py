"""Signing for the simulator: real ed25519, or a fast keyed-hash stand-in with the same interface.

The stand-in signs `sha256(secret || sign_bytes(domain, chain_id, payload))` (doubled to 64
bytes) and verifies with a table of every validator's secret, which only the simulator holds: a
byzantine replica can still sign only with its own key, and forged or flipped signatures fail,
exactly as with ed25519. Real-crypto seeds keep the production verification path exercised.
"""

from __future__ import annotations

from collections.abc import Sequence

from wire.crypto import Domain, SigningKey, sha256, sign_bytes


class FakeSigner:
    __slots__ = ("_secret", "public")

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self.public = sha256(b"sim-public/" + secret)

    def sign(self, domain: Domain, chain_id: str, payload: bytes) -> bytes:
        digest = sha256(self._secret + sign_bytes(domain, chain_id, payload))
        return digest + digest


class FakeVerifier:
    __slots__ = ("_secrets",)

    def __init__(self, secrets: Sequence[bytes]) -> None:
        self._secrets = {sha256(b"sim-public/" + s): s for s in secrets}

    def __call__(
        self, domain: Domain, chain_id: str, pubkey: bytes, payload: bytes, signature: bytes
    ) -> bool:
        secret = self._secrets.get(pubkey)
        if secret is None or len(signature) != 64:
            return False
        digest = sha256(secret + sign_bytes(domain, chain_id, payload))
        return signature == digest + digest


def real_signers(seed: int, n: int) -> list[SigningKey]:
    return [SigningKey(sha256(b"sim-key/%d/%d" % (seed, i))) for i in range(n)]
