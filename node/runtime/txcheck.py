"""The transaction checker consensus uses to validate proposals (`consensus.TxChecker`).

Rules: a block's transactions are acceptable when each one decodes strictly, names this chain,
is within the size limit, passes the contracts' stateless check, carries valid signatures, and
appears once in the block. Signatures already verified on this node (at mempool admission) cost a
hash lookup, not a verification (`SignatureCache`). Deterministic for a given input.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import TxRejected, check_tx
from node.runtime.mempool import SignatureCache
from wire.errors import DecodeError
from wire.types import SignedTransaction


class TxChecker:
    def __init__(self, chain_id: str, signatures: SignatureCache, max_tx_bytes: int) -> None:
        self._chain_id = chain_id
        self._signatures = signatures
        self._max = max_tx_bytes + 1024
        self.refused = 0

    def __call__(self, txs: Sequence[bytes]) -> bool:
        seen: set[bytes] = set()
        for raw in txs:
            if not self._ok(raw, seen):
                self.refused += 1
                return False
        return True

    def _ok(self, raw: bytes, seen: set[bytes]) -> bool:
        if len(raw) > self._max:
            return False
        tx = self._signatures.known(raw)
        if tx is None:
            tx = self._check(raw)
            if tx is None:
                return False
        if tx.tx_id in seen:
            return False
        seen.add(tx.tx_id)
        return True

    def _check(self, raw: bytes) -> SignedTransaction | None:
        try:
            tx = SignedTransaction.decode(raw)
        except DecodeError:
            return None
        if tx.body.chain_id != self._chain_id:
            return None
        try:
            check_tx(tx)
        except TxRejected:
            return None
        self._signatures.misses += 1
        if not tx.signature_ok():
            return None
        self._signatures.add(raw, tx)
        return tx
