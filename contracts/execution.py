"""Executing a block: the one definition the node's executor and the auditor's replay share.

Rules: each entry of the block is decoded strictly (an undecodable entry gets a REJECTED
`malformed` receipt, its id the SHA-256 of its bytes, and is skipped); the decoded transactions
run through the contracts (`execute_block`) over the state; the result is the writes and one
receipt per entry, in block order. Pure given the state: same block and state in, same result out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from contracts.base import BlockContext
from contracts.engine import execute_block
from contracts.state import StateReader
from wire.crypto import sha256
from wire.errors import DecodeError
from wire.types import RECEIPT_REJECTED, Block, Receipt, SignedTransaction


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockResult:
    writes: tuple[tuple[bytes, bytes | None], ...]
    receipts: tuple[Receipt, ...]


def run_block(
    state: StateReader,
    chain_id: str,
    block: Block,
    decode: Callable[[bytes], SignedTransaction] = SignedTransaction.decode,
) -> BlockResult:
    """Execute `block` over `state`: writes and one receipt per entry.

    `decode` may return an already decoded object for the same bytes (the node's admission cache);
    decoding is deterministic, so the result is the same."""
    decoded: list[SignedTransaction] = []
    slots: list[Receipt | None] = []
    for raw in block.txs:
        try:
            decoded.append(decode(raw))
            slots.append(None)
        except DecodeError as exc:
            slots.append(
                Receipt(
                    tx_id=sha256(raw),
                    status=RECEIPT_REJECTED,
                    reason_code="malformed",
                    reason=exc.message[:200],
                )
            )
    ctx = BlockContext(chain_id=chain_id, height=block.header.height, time_ms=block.header.timestamp_ms)
    outcome = execute_block(state, ctx, decoded)
    engine_receipts = iter(outcome.receipts)
    receipts = tuple(r if r is not None else next(engine_receipts) for r in slots)
    return BlockResult(writes=outcome.writes, receipts=receipts)
