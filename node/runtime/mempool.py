"""The mempool: admission of signed transactions, deduplication and bounds.

Rules:

- Admission runs the one stateless check (`node/runtime/txcheck.py`: size, strict decoding, chain
  id, the contracts' stateless check, signatures; each once per node thanks to the signature
  cache), then: not already committed, the signer's authority at the current state
  (`node/runtime/authority.py`: a registered live user key or a node key), room in the pool,
  the signer's quota. Each failure is an `AdmissionError` with a stable reason code
  (`already_committed`, `unknown_signer`, `mempool_full`, `signer_quota`, or the check's own);
  the API maps codes to statuses.
- Deduplicated by transaction id: admitting a transaction already pending is not an error (the
  caller gets the same id back), so client retries are idempotent.
- Bounded in count and bytes overall and per signer; a full pool refuses new transactions rather
  than evicting admitted ones: nothing admitted is silently lost.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from node.errors import AdmissionError
from node.runtime.sigcache import SignatureCache
from node.runtime.txcheck import check_stateless
from wire.types import MAX_TX_BYTES, SignedTransaction


@dataclass(slots=True)
class Pending:
    tx: SignedTransaction
    raw: bytes
    admitted_s: float = 0.0
    offered_s: float = 0.0
    reoffers: int = 0


class Mempool:
    def __init__(
        self,
        *,
        chain_id: str,
        signatures: SignatureCache,
        is_committed: Callable[[bytes], bool],
        authority: Callable[[SignedTransaction], None] | None = None,
        max_txs: int = 50_000,
        max_bytes: int = 128 * 1024 * 1024,
        per_signer_max: int = 5_000,
        max_tx_bytes: int = MAX_TX_BYTES,
    ) -> None:
        self._chain_id = chain_id
        self._signatures = signatures
        self._is_committed = is_committed
        self._authority = authority
        self.max_txs, self.max_bytes, self.per_signer_max = max_txs, max_bytes, per_signer_max
        self._max_tx_bytes = max_tx_bytes
        self._pending: OrderedDict[bytes, Pending] = OrderedDict()
        self._per_signer: dict[bytes, int] = {}
        self.bytes = 0
        self.refused: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self._pending

    def get(self, tx_id: bytes) -> Pending | None:
        return self._pending.get(tx_id)

    def admit(self, raw: bytes, now_s: float = 0.0) -> tuple[SignedTransaction, bool]:
        """Admit `raw`; return (transaction, newly_added). Raises AdmissionError."""
        try:
            return self._admit(raw, now_s)
        except AdmissionError as exc:
            self.refused[exc.code] = self.refused.get(exc.code, 0) + 1
            raise

    def _admit(self, raw: bytes, now_s: float) -> tuple[SignedTransaction, bool]:
        tx = check_stateless(raw, self._chain_id, self._max_tx_bytes, self._signatures)
        tx_id = tx.tx_id
        if tx_id in self._pending:
            return self._pending[tx_id].tx, False
        if self._is_committed(tx_id):
            raise AdmissionError("already_committed", "the transaction is already in the ledger")
        if self._authority is not None:
            self._authority(tx)
        if len(self._pending) >= self.max_txs or self.bytes + len(raw) > self.max_bytes:
            raise AdmissionError("mempool_full", "the node's mempool is full; retry later")
        signer = tx.body.signer
        if self._per_signer.get(signer, 0) >= self.per_signer_max:
            raise AdmissionError("signer_quota", "too many pending transactions from this key")
        self._pending[tx_id] = Pending(tx=tx, raw=raw, admitted_s=now_s, offered_s=now_s)
        self._per_signer[signer] = self._per_signer.get(signer, 0) + 1
        self.bytes += len(raw)
        return tx, True

    def remove(self, tx_ids: Sequence[bytes]) -> None:
        for tx_id in tx_ids:
            p = self._pending.pop(tx_id, None)
            if p is None:
                continue
            self.bytes -= len(p.raw)
            signer = p.tx.body.signer
            left = self._per_signer.get(signer, 1) - 1
            if left:
                self._per_signer[signer] = left
            else:
                self._per_signer.pop(signer, None)

    def raws(self) -> Iterator[bytes]:
        for p in self._pending.values():
            yield p.raw

    def stale(
        self, now_s: float, older_than_s: float, limit: int, max_wait_s: float | None = None
    ) -> list[bytes]:
        """Up to `limit` oldest transactions due for another offer; marks them offered now.

        The first re-offer is due `older_than_s` after the last offer, and each later one waits
        twice as long as the one before, up to `max_wait_s` (default 4 x older_than_s). A
        transaction stays pending until a stored block commits it, so the node keeps offering it
        (to consensus and to peers) across view changes, lost gossip and restarts of peers:
        nothing admitted is silently lost. The back-off keeps an overloaded network (pending for
        many seconds) from re-sending every pending transaction to every validator every few
        seconds, which cost more CPU than admitting it the first time."""
        cap = 4 * older_than_s if max_wait_s is None else max_wait_s
        out: list[bytes] = []
        for p in self._pending.values():
            if len(out) >= limit:
                break
            wait = min(cap, older_than_s * (1 << min(p.reoffers, 16)))
            if now_s - p.offered_s >= wait:
                p.offered_s = now_s
                p.reoffers += 1
                out.append(p.raw)
        return out
