"""The one stateless transaction check, and the checker consensus uses to validate proposals.

Rules:

- `check_stateless(raw, ...)`: within the size limit, decodes strictly, names this chain, passes
  the contracts' stateless check (known type, payload schema), carries valid signatures (main and
  approvals). Each failure raises `AdmissionError` with a stable reason code. Bytes that passed
  once are remembered in the signature cache, so a second check costs a hash lookup, not a
  verification. Deterministic for a given input. Mempool admission and proposal validation both
  call it: the checks are written once.
- `TxChecker` (`consensus.TxChecker`): a block's transactions are acceptable when each one passes
  `check_stateless` and appears once in the block.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import TxRejected, check_tx
from node.errors import AdmissionError
from node.runtime.sigcache import SignatureCache
from wire.errors import DecodeError
from wire.types import SignedTransaction

SIZE_SLACK_BYTES = 1024  # the signed envelope around a body of at most max_tx_bytes


def check_stateless(
    raw: bytes, chain_id: str, max_tx_bytes: int, signatures: SignatureCache
) -> SignedTransaction:
    """Every stateless check of `raw`, once per node; the decoded transaction or AdmissionError."""
    if len(raw) > max_tx_bytes + SIZE_SLACK_BYTES:
        raise AdmissionError("too_large", f"transaction of {len(raw)} bytes exceeds the limit")
    known = signatures.known(raw)
    if known is not None:
        return known
    try:
        tx = SignedTransaction.decode(raw)
    except DecodeError as exc:
        raise AdmissionError(exc.code, f"malformed transaction: {exc.message}") from exc
    if tx.body.chain_id != chain_id:
        raise AdmissionError(
            "wrong_chain", f"transaction is for chain {tx.body.chain_id!r}, this is {chain_id!r}"
        )
    try:
        check_tx(tx)
    except TxRejected as exc:
        raise AdmissionError(exc.code, str(exc)) from exc
    signatures.misses += 1
    if not tx.signature_ok():
        raise AdmissionError("bad_signature", "a signature of the transaction does not verify")
    signatures.add(raw, tx)
    return tx


class TxChecker:
    def __init__(self, chain_id: str, signatures: SignatureCache, max_tx_bytes: int) -> None:
        self._chain_id = chain_id
        self._signatures = signatures
        self._max_tx_bytes = max_tx_bytes
        self.refused = 0

    def __call__(self, txs: Sequence[bytes]) -> bool:
        seen: set[bytes] = set()
        for raw in txs:
            try:
                tx = check_stateless(raw, self._chain_id, self._max_tx_bytes, self._signatures)
            except AdmissionError:
                self.refused += 1
                return False
            if tx.tx_id in seen:
                self.refused += 1
                return False
            seen.add(tx.tx_id)
        return True
