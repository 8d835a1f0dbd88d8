"""The auditor: verify a whole chain from genesis without trusting whoever serves it.

What is checked, block by block from height 1 (docs/audit.md has the full list):

- availability: the source delivers every block (with its certificate and receipts) up to the
  height it claims.
- decode: the block and its certificate decode strictly (canonical bytes).
- headers: chain id, height, `prev_block_hash` = hash of the previous header (genesis hash for
  block 1), timestamps strictly increasing (block 1 after genesis time), `validators_hash` = the
  set in force, proposer = view mod n, `tx_root` = RFC 6962 root of the transactions, block
  limits (count, bytes, no repeated entry or transaction id).
- certificates: a quorum of valid `commit` signatures of the set in force over this block's hash.
- tx_validity / tx_signatures: every transaction decodes, names this chain, fits the size limit,
  passes the contracts' stateless check, and its signature and approvals verify. These run in a
  `ProcessPoolExecutor` (one batch of a few hundred transactions per task) while the main process
  replays.
- replay: every block through `contracts.run_block` (the node's own definition of executing a
  block) over an in-memory state starting from `contracts.genesis_state(genesis)`; that
  re-derives every receipt, and receipts encode permissions and rule verdicts.
- state_roots / results_roots: the header of block h carries the roots after block h - exec_lag;
  the replayed roots must equal them. The roots of the last exec_lag blocks are not yet carried by
  any header and are reported as unconfirmed.
- receipts: receipts served (by the node, or stored in the archive) equal the replayed ones.
- proofs (node only): the node's `/v1/proofs/tx/{id}` for one transaction per block (or every
  one, or none) verifies with `client_sdk.proofs` and matches the audited block and replay.
- state (node only): the node's live state, as (key, SHA-256 of value), equals the replayed state
  at the same height, and its state root is the replayed one.

The genesis always comes from the caller, never from the source. The first failure stops the
audit and is reported with its height, check and reason.

This module is the auditor's entry points (`audit_node`, `audit_archive`, `prove_tx`) and its
exit codes; the pieces it wires together live beside it, and their public names are importable
from here:

- `auditor/checks.py`: the pure checks of one block, `AuditFailed` / `AuditIncomplete`, and
  `check_tx_batch` (what the worker processes run)
- `auditor/replay.py`: the in-memory replay through `contracts.run_block`
- `auditor/sources.py`: a node or an archive as the source of blocks
- `auditor/report.py`: `CHECKS` and `AuditReport` (the `--report` file)
- `auditor/engine.py`: `Auditor`, the block-by-block loop and the worker pool
- `auditor/segments.py`: with two workers or more, an archive's segments replayed in parallel
  from the state snapshots it holds, each checked against the certified roots
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from auditor.archive import ArchiveReader, NodeReader, signed_reader
from auditor.checks import (
    ChainTip,
    TxBatchResult,
    check_certificate,
    check_header,
    check_roots,
    check_tx_batch,
    decode_block,
)
from auditor.engine import SIG_BATCH, Auditor
from auditor.errors import AuditFailed, AuditIncomplete, Failure, SourceError
from auditor.replay import MemoryState, Replayer
from auditor.report import CHECKS, AuditReport
from auditor.segments import audit_segments
from auditor.sources import PROOF_MODES, ArchiveSource, NodeSource, Source, SourceBlock
from client_sdk.errors import VerificationError
from client_sdk.proofs import verify_proof_response
from wire.genesis import Genesis

__all__ = [
    "CHECKS",
    "EXIT_FAILED",
    "EXIT_INCOMPLETE",
    "EXIT_OK",
    "PROOF_MODES",
    "SIG_BATCH",
    "ArchiveSource",
    "AuditFailed",
    "AuditIncomplete",
    "AuditReport",
    "Auditor",
    "ChainTip",
    "Failure",
    "MemoryState",
    "NodeSource",
    "Replayer",
    "Source",
    "SourceBlock",
    "TxBatchResult",
    "audit_archive",
    "audit_node",
    "check_certificate",
    "check_header",
    "check_roots",
    "check_tx_batch",
    "decode_block",
    "prove_tx",
]


# ------------------------------------------------------------------------------------ entry points
def audit_node(
    url: str,
    genesis: Genesis,
    *,
    proofs: str = "sample",
    workers: int | None = None,
    progress: bool = False,
    key_file: Path | None = None,
    ca_file: Path | None = None,
) -> AuditReport:
    with signed_reader(url, genesis, key_file, ca_file) as reader:
        return Auditor(genesis, workers=workers, progress=progress).run(NodeSource(reader, proofs=proofs))


def audit_archive(
    path: Any, genesis: Genesis, *, workers: int | None = None, progress: bool = False
) -> AuditReport:
    """With two workers or more and an archive holding snapshots: segments replayed in parallel
    (auditor/segments.py); otherwise block by block, the workers checking transactions."""
    n = (os.cpu_count() or 1) if workers is None else workers
    if n >= 2:
        try:
            report = audit_segments(Path(path), genesis, workers=n, progress=progress)
        except SourceError:
            report = None  # the sequential audit reports what is wrong with the file
        if report is not None:
            return report
    try:
        archive = ArchiveReader(path)
    except SourceError as exc:
        report = AuditReport(
            source=str(path), kind="archive", chain_id=genesis.chain_id, genesis_hash=genesis.hash.hex()
        )
        report.incomplete = str(exc)
        return report
    with archive:
        return Auditor(genesis, workers=workers, progress=progress).run(ArchiveSource(archive))


# ------------------------------------------------------------------------------------ proof bundles
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INCOMPLETE = 4


def prove_tx(reader: NodeReader, genesis: Genesis, tx_id: bytes, *, wait_s: float = 30.0) -> bytes:
    """Fetch, verify and bundle the proof of `tx_id`; wait up to `wait_s` for its receipt root.

    Raises SourceError (the node could not answer) or VerificationError (what it served is
    wrong, or the receipt is still not provable when the wait ends).
    """
    from client_sdk.proofs import check_bundle, make_bundle, proof_from_json

    deadline = time.monotonic() + wait_s
    while True:
        doc = reader.tx_proof(tx_id)
        verify_proof_response(doc, genesis, tx_id)
        proof = proof_from_json(doc)
        if proof.receipt is not None:
            break
        if time.monotonic() >= deadline:
            raise VerificationError(
                f"the receipt is not provable yet: it needs block {proof.available_at_height}, "
                f"the node is at {doc.get('height')} (blocks are made only when there are transactions)"
            )
        time.sleep(0.5)
    data = make_bundle(proof, genesis)
    check_bundle(data, genesis=genesis)
    return data
