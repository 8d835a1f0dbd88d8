"""The mempool: admission of signed transactions, deduplication, bounds, and the signature cache.

Rules:

- Admission checks, in order: size, strict decoding, chain id, the contracts' stateless check
  (known type, payload schema), signatures (main and approvals), not already committed. Each
  failure is an AdmissionError with a stable reason code and the HTTP status the API returns.
- Deduplicated by transaction id: admitting a transaction already pending is not an error (the
  caller gets the same id back), so client retries are idempotent.
- Bounded in count and bytes overall and per signer; a full pool refuses new transactions
  (status 503 / 429) rather than evicting admitted ones: nothing admitted is silently lost.
- Every signature is verified once per node: `SignatureCache` remembers the SHA-256 of transaction
  bytes that verified, so proposal validation of a block whose transactions were admitted here
  costs a hash per transaction, not a verification (bounded LRU).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from contracts import TxRejected, check_tx
from node.errors import NodeError
from wire.crypto import sha256
from wire.errors import DecodeError
from wire.types import MAX_TX_BYTES, SignedTransaction


class AdmissionError(NodeError):
    """A transaction refused at admission. `status` is the HTTP status the API answers with."""

    code = "rejected"

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


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


@dataclass(slots=True)
class Pending:
    tx: SignedTransaction
    raw: bytes
    admitted_s: float = 0.0
    offered_s: float = 0.0


class Mempool:
    def __init__(
        self,
        *,
        chain_id: str,
        signatures: SignatureCache,
        is_committed: Callable[[bytes], bool],
        max_txs: int = 50_000,
        max_bytes: int = 128 * 1024 * 1024,
        per_signer_max: int = 5_000,
        max_tx_bytes: int = MAX_TX_BYTES,
    ) -> None:
        self._chain_id = chain_id
        self._signatures = signatures
        self._is_committed = is_committed
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
        if len(raw) > self._max_tx_bytes + 1024:
            raise AdmissionError("too_large", f"transaction of {len(raw)} bytes exceeds the limit", 413)
        # Bytes this node already checked cost a hash lookup; new bytes get every stateless check
        # once, and are remembered so proposal validation and execution do not repeat it.
        tx = self._signatures.known(raw) or self._check(raw)
        tx_id = tx.tx_id
        if tx_id in self._pending:
            return self._pending[tx_id].tx, False
        if self._is_committed(tx_id):
            raise AdmissionError("already_committed", "the transaction is already in the ledger", 409)
        if len(self._pending) >= self.max_txs or self.bytes + len(raw) > self.max_bytes:
            raise AdmissionError("mempool_full", "the node's mempool is full; retry later", 503)
        signer = tx.body.signer
        if self._per_signer.get(signer, 0) >= self.per_signer_max:
            raise AdmissionError("signer_quota", "too many pending transactions from this key", 429)
        self._pending[tx_id] = Pending(tx=tx, raw=raw, admitted_s=now_s, offered_s=now_s)
        self._per_signer[signer] = self._per_signer.get(signer, 0) + 1
        self.bytes += len(raw)
        return tx, True

    def _check(self, raw: bytes) -> SignedTransaction:
        """Every stateless check of new bytes; remembered in the cache when all pass."""
        try:
            tx = SignedTransaction.decode(raw)
        except DecodeError as exc:
            raise AdmissionError(exc.code, f"malformed transaction: {exc.message}") from exc
        if tx.body.chain_id != self._chain_id:
            raise AdmissionError(
                "wrong_chain", f"transaction is for chain {tx.body.chain_id!r}, this is {self._chain_id!r}"
            )
        try:
            check_tx(tx)
        except TxRejected as exc:
            raise AdmissionError(exc.code, str(exc)) from exc
        self._signatures.misses += 1
        if not tx.signature_ok():
            raise AdmissionError("bad_signature", "a signature of the transaction does not verify", 401)
        self._signatures.add(raw, tx)
        return tx

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

    def stale(self, now_s: float, older_than_s: float, limit: int) -> list[bytes]:
        """Up to `limit` oldest transactions last offered more than `older_than_s` ago; marks them
        offered now. A transaction stays pending until a stored block commits it, so the node keeps
        offering it (to consensus and to peers) across view changes, lost gossip and restarts of
        peers: nothing admitted is silently lost."""
        out: list[bytes] = []
        for p in self._pending.values():
            if len(out) >= limit:
                break
            if now_s - p.offered_s >= older_than_s:
                p.offered_s = now_s
                out.append(p.raw)
        return out
