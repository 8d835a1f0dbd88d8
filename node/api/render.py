"""How chain objects look in JSON: block headers, certificates, receipts, transaction status.

Rules: bytes are lowercase hex; every rendering that a client may want to verify also carries the
exact stored bytes (`receipt_bytes`, ...), so the client checks what it reads instead of trusting
this rendering. One function per object, used by every route that shows it.
"""

from __future__ import annotations

from typing import Any

from node.runtime.node import TxStatus
from wire.types import BlockHeader, CommitCertificate


def header_json(h: BlockHeader) -> dict[str, Any]:
    return {
        "chain_id": h.chain_id,
        "height": h.height,
        "view": h.view,
        "timestamp_ms": h.timestamp_ms,
        "prev_block_hash": h.prev_block_hash.hex(),
        "tx_root": h.tx_root.hex(),
        "prev_state_root": h.prev_state_root.hex(),
        "prev_results_root": h.prev_results_root.hex(),
        "validators_hash": h.validators_hash.hex(),
        "proposer": h.proposer,
    }


def certificate_json(c: CommitCertificate) -> dict[str, Any]:
    return {
        "height": c.height,
        "view": c.view,
        "block_hash": c.block_hash.hex(),
        "signatures": [{"validator_index": i, "signature": s.hex()} for i, s in c.signatures],
    }


def tx_status_json(s: TxStatus) -> dict[str, Any]:
    out: dict[str, Any] = {"tx_id": s.tx_id.hex(), "status": s.state}
    if s.block_height is not None:
        out["block_height"] = s.block_height
        out["index"] = s.index
        out["receipt"] = None if s.receipt is None else s.receipt.to_json()
    out["height"] = s.height
    return out
