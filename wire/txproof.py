"""The proof of one transaction and its receipt: the data, and its JSON form on the API.

Rules (docs/audit.md has the formats; verification is `client_sdk.proofs` and the auditor's):

- `TxProof`: the signed transaction bytes, its index and RFC 6962 inclusion path into block h's
  `tx_root` (with the tree size), block h's header and certificate bytes, and a `ReceiptProof`:
  the receipt bytes with their path into the results root that block h + exec_lag's header
  carries, the headers in between and that block's certificate (None until it exists).
- `proof_to_json` is the node's rendering; `proof_from_json` parses it strictly (ProofError on
  anything malformed), so both sides read and write exactly one format.
- `tx_id_of` is a block entry's transaction id as execution defines it (`contracts.run_block`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wire.crypto import HASH_SIZE, sha256
from wire.errors import DecodeError, ProofError
from wire.types import SignedTransaction

MAX_PATH = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptProof:
    receipt_bytes: bytes
    index: int
    tree_size: int
    path: tuple[bytes, ...]
    root_height: int
    link_headers: tuple[bytes, ...]  # headers of block_height+1 .. root_height-1
    header_bytes: bytes  # header of root_height: its prev_results_root is the proven root
    certificate_bytes: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TxProof:
    tx_id: bytes
    block_height: int
    index: int
    tx_bytes: bytes
    tree_size: int
    path: tuple[bytes, ...]
    header_bytes: bytes
    certificate_bytes: bytes
    receipt: ReceiptProof | None
    available_at_height: int


def tx_id_of(raw: bytes) -> bytes:
    """A block entry's transaction id as execution defines it (`contracts.run_block`)."""
    try:
        return SignedTransaction.decode(raw).tx_id
    except DecodeError:
        return sha256(raw)


def _hex(value: Any, what: str, size: int | None = None, max_len: int = 1 << 24) -> bytes:
    if not isinstance(value, str) or len(value) > 2 * max_len:
        raise ProofError(f"{what} is not a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ProofError(f"{what} is not a hex string") from None
    if size is not None and len(raw) != size:
        raise ProofError(f"{what} must be {size} bytes")
    return raw


def _int(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:
        raise ProofError(f"{what} is not a non-negative integer")
    return value


def _path_json(value: Any, what: str) -> tuple[bytes, ...]:
    if not isinstance(value, list) or len(value) > MAX_PATH:
        raise ProofError(f"{what} is not a list of hashes")
    return tuple(_hex(p, what, HASH_SIZE) for p in value)


def proof_from_json(doc: Any) -> TxProof:
    """Parse a `GET /v1/proofs/tx/{id}` answer (hex fields); raise ProofError if malformed."""
    if not isinstance(doc, Mapping):
        raise ProofError("the proof is not a JSON object")
    try:
        txp = doc["tx_proof"]
        rdoc = doc["receipt_proof"]
        receipt = None
        if rdoc is not None:
            if not isinstance(rdoc, Mapping) or not isinstance(rdoc["link_headers"], list):
                raise ProofError("receipt_proof is malformed")
            receipt = ReceiptProof(
                receipt_bytes=_hex(rdoc["receipt_bytes"], "receipt_bytes"),
                index=_int(rdoc["index"], "receipt index"),
                tree_size=_int(rdoc["tree_size"], "receipt tree size"),
                path=_path_json(rdoc["path"], "receipt path"),
                root_height=_int(rdoc["root_height"], "root_height"),
                link_headers=tuple(_hex(x, "link header") for x in rdoc["link_headers"]),
                header_bytes=_hex(rdoc["header_bytes"], "root header"),
                certificate_bytes=_hex(rdoc["certificate_bytes"], "root certificate"),
            )
        if not isinstance(txp, Mapping):
            raise ProofError("tx_proof is malformed")
        return TxProof(
            tx_id=_hex(doc["tx_id"], "tx_id", HASH_SIZE),
            block_height=_int(doc["block_height"], "block_height"),
            index=_int(doc["index"], "index"),
            tx_bytes=_hex(doc["tx_bytes"], "tx_bytes"),
            tree_size=_int(txp["tree_size"], "tree size"),
            path=_path_json(txp["path"], "tx path"),
            header_bytes=_hex(doc["header_bytes"], "header_bytes"),
            certificate_bytes=_hex(doc["certificate_bytes"], "certificate_bytes"),
            receipt=receipt,
            available_at_height=_int(doc["available_at_height"], "available_at_height"),
        )
    except KeyError as exc:
        raise ProofError(f"the proof lacks {exc.args[0]!r}") from None
    except TypeError as exc:
        raise ProofError(f"the proof is malformed: {exc}") from None


def proof_to_json(proof: TxProof) -> dict[str, Any]:
    """The endpoint's rendering of a proof (the node builds it with this function)."""
    rp = proof.receipt
    return {
        "tx_id": proof.tx_id.hex(),
        "block_height": proof.block_height,
        "index": proof.index,
        "tx_bytes": proof.tx_bytes.hex(),
        "tx_proof": {"tree_size": proof.tree_size, "path": [p.hex() for p in proof.path]},
        "header_bytes": proof.header_bytes.hex(),
        "certificate_bytes": proof.certificate_bytes.hex(),
        "block_hash": sha256(proof.header_bytes).hex(),
        "available_at_height": proof.available_at_height,
        "receipt_proof": None
        if rp is None
        else {
            "receipt_bytes": rp.receipt_bytes.hex(),
            "index": rp.index,
            "tree_size": rp.tree_size,
            "path": [p.hex() for p in rp.path],
            "root_height": rp.root_height,
            "link_headers": [x.hex() for x in rp.link_headers],
            "header_bytes": rp.header_bytes.hex(),
            "certificate_bytes": rp.certificate_bytes.hex(),
        },
    }
