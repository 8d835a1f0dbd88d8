"""The signature cache: every transaction's stateless checks run once per node.

Rules:

- `verified`: SHA-256 of transaction bytes that passed every stateless check (strict decode,
  chain id, the contracts' schema check, signatures; `node/runtime/txcheck.py`): a bounded LRU of
  32-byte keys, so proposal validation of a block whose transactions were admitted here costs a
  hash per transaction, not a verification.
- `decoded`: the decoded transactions of the most recent of those, so proposal validation and
  block execution reuse the object admission built instead of decoding again.
"""

from __future__ import annotations

from collections import OrderedDict

from wire.crypto import sha256
from wire.types import SignedTransaction


class SignatureCache:
    """What this node has already checked, so nothing is checked twice.

    - `verified`: SHA-256 of transaction bytes that passed every stateless check (strict decode,
      chain id, the contracts' schema check, signatures): a bounded LRU of 32-byte keys.
    - `decoded`: the decoded transactions of the most recent of those, so proposal validation and
      block execution reuse the object the mempool built instead of decoding again.
    """

    def __init__(self, capacity: int = 200_000, decoded_capacity: int = 20_000) -> None:
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._decoded: OrderedDict[bytes, SignedTransaction] = OrderedDict()
        self._capacity, self._decoded_capacity = capacity, decoded_capacity
        self.hits = 0
        self.misses = 0

    def known(self, raw: bytes) -> SignedTransaction | None:
        """The decoded transaction if these exact bytes passed every check here, else None."""
        key = sha256(raw)
        if key not in self._seen:
            return None
        self._seen.move_to_end(key)
        tx = self._decoded.get(key)
        if tx is None:
            tx = SignedTransaction.decode(raw)  # known good bytes: this cannot fail
            self._remember_decoded(key, tx)
        self.hits += 1
        return tx

    def add(self, raw: bytes, tx: SignedTransaction) -> None:
        """Record that `raw` (decoded as `tx`) passed every stateless check."""
        key = sha256(raw)
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        self._remember_decoded(key, tx)

    def _remember_decoded(self, key: bytes, tx: SignedTransaction) -> None:
        self._decoded[key] = tx
        self._decoded.move_to_end(key)
        if len(self._decoded) > self._decoded_capacity:
            self._decoded.popitem(last=False)

    def decode(self, raw: bytes) -> SignedTransaction:
        """Decode `raw`, reusing the object from admission when there is one (raises DecodeError)."""
        key = sha256(raw)
        tx = self._decoded.get(key)
        return tx if tx is not None else SignedTransaction.decode(raw)
