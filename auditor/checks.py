"""The auditor's pure checks of one block, and how a failed check is reported.

Rules: the functions here do no IO and keep no state between calls; a failed check raises
`AuditFailed(height, check, reason)` naming one of `auditor.report.CHECKS`.
`AuditIncomplete` means the audit could not run to the end (no verdict), never that something
is wrong. `check_tx_batch` runs in the auditor's worker processes, so it takes and returns only
picklable values and reports bad transactions instead of raising.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from auditor.errors import AuditFailed
from contracts import TxRejected, check_tx
from wire.certificate import ValidatorSet, verify_certificate
from wire.errors import CertificateError, DecodeError
from wire.genesis import Genesis
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader, CommitCertificate, SignedTransaction


# ------------------------------------------------------------------------------------ pure checks
@dataclass(frozen=True, slots=True)
class ChainTip:
    height: int
    block_hash: bytes
    timestamp_ms: int


def decode_block(
    height: int, block_bytes: bytes, certificate_bytes: bytes
) -> tuple[Block, CommitCertificate]:
    try:
        block = Block.decode(block_bytes)
    except DecodeError as exc:
        raise AuditFailed(height, "decode", f"block does not decode: {exc.message}") from exc
    try:
        cert = CommitCertificate.decode(certificate_bytes)
    except DecodeError as exc:
        raise AuditFailed(height, "decode", f"certificate does not decode: {exc.message}") from exc
    return block, cert


def check_header(
    block: Block,
    height: int,
    tip: ChainTip,
    genesis: Genesis,
    validators: ValidatorSet,
    next_validators: ValidatorSet | None = None,
) -> None:
    """Header link and limits of block `height` following `tip` (raises AuditFailed 'headers');
    `validators` is the set in force at `height`, `next_validators` the one at `height + 1`."""
    h = block.header
    p = genesis.consensus

    def bad(reason: str) -> AuditFailed:
        return AuditFailed(height, "headers", reason)

    if h.chain_id != genesis.chain_id:
        raise bad(f"chain id {h.chain_id!r}, expected {genesis.chain_id!r}")
    if h.height != height or tip.height != height - 1:
        raise bad(f"header says height {h.height}, expected {height}")
    if h.prev_block_hash != tip.block_hash:
        raise bad(f"prev_block_hash is not the hash of block {tip.height}")
    if h.timestamp_ms <= tip.timestamp_ms:
        raise bad(f"timestamp {h.timestamp_ms} is not after block {tip.height}'s {tip.timestamp_ms}")
    if h.validators_hash != validators.hash:
        raise bad("validators_hash is not the hash of the validator set in force")
    if h.next_validators_hash != (next_validators or validators).hash:
        raise bad("next_validators_hash is not the hash of the validator set of the next height")
    if h.proposer != h.view % validators.n:
        raise bad(f"proposer {h.proposer} is not the primary of view {h.view}")
    if merkle_root(block.txs) != h.tx_root:
        raise bad("tx_root is not the Merkle root of the block's transactions")
    if len(block.txs) > p.max_block_txs or sum(len(t) for t in block.txs) > p.max_block_bytes:
        raise bad("the block exceeds the size limits")
    if len(set(block.txs)) != len(block.txs):
        raise bad("a transaction appears twice in the block")


def check_certificate(
    cert: CommitCertificate, block: Block, height: int, validators: ValidatorSet, chain_id: str
) -> None:
    try:
        verify_certificate(cert, validators, chain_id, height=height, block_hash=block.hash)
    except CertificateError as exc:
        raise AuditFailed(height, "certificates", exc.message) from exc


def check_roots(header: BlockHeader, roots: tuple[bytes, bytes], lag: int) -> None:
    """Header h carries the roots after block h - lag (genesis roots for h <= lag)."""
    at = max(0, header.height - lag)
    where = "genesis" if at == 0 else f"block {at}"
    if header.prev_state_root != roots[0]:
        raise AuditFailed(
            at or header.height,
            "state_roots",
            f"replaying {where} gives state root {roots[0].hex()[:16]}…, block {header.height} carries "
            f"{header.prev_state_root.hex()[:16]}…",
        )
    if header.prev_results_root != roots[1]:
        raise AuditFailed(
            at or header.height,
            "results_roots",
            f"replaying {where} gives results root {roots[1].hex()[:16]}…, block {header.height} carries "
            f"{header.prev_results_root.hex()[:16]}…",
        )


@dataclass(frozen=True, slots=True)
class TxBatchResult:
    checked: int
    bad: tuple[tuple[int, int, str, str], ...]  # (height, index, check, reason), sorted
    cpu_s: float


def check_tx_batch(
    chain_id: str, max_tx_bytes: int, items: Sequence[tuple[int, int, bytes]]
) -> TxBatchResult:
    """Stateless validity and signatures of (height, index, raw) entries; runs in a worker process."""
    started = time.process_time()
    bad: list[tuple[int, int, str, str]] = []
    for height, index, raw in items:
        if len(raw) > max_tx_bytes + 1024:
            bad.append((height, index, "tx_validity", f"transaction {index} exceeds the size limit"))
            continue
        try:
            tx = SignedTransaction.decode(raw)
        except DecodeError as exc:
            bad.append((height, index, "tx_validity", f"transaction {index} does not decode: {exc.message}"))
            continue
        if tx.body.chain_id != chain_id:
            bad.append(
                (height, index, "tx_validity", f"transaction {index} names chain {tx.body.chain_id!r}")
            )
            continue
        try:
            check_tx(tx)
        except TxRejected as exc:
            bad.append((height, index, "tx_validity", f"transaction {index} is invalid ({exc.code}): {exc}"))
            continue
        if not tx.signature_ok():
            bad.append((height, index, "tx_signatures", f"transaction {index}'s signature does not verify"))
    return TxBatchResult(len(items), tuple(sorted(bad)), time.process_time() - started)
