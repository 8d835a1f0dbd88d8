"""Verification of what a node serves, against the validator set the client already knows.

Rules: never trust a node. A block is accepted only if it decodes canonically, its header names
this chain and the expected height, its transactions hash to its `tx_root`, and a commit
certificate with a quorum of valid signatures of the validator set in force at its height (from
the client's verified epochs) names its hash; a header naming another set is `UnknownEpochError`. Everything
else a client learns (receipts, records) is checked against such a verified block.
"""

from __future__ import annotations

from client_sdk.errors import UnknownEpochError, VerificationError
from wire.certificate import ValidatorSet, verify_certificate
from wire.crypto import sha256
from wire.errors import CertificateError, DecodeError
from wire.merkle import merkle_root
from wire.types import Block, BlockHeader, CommitCertificate


def verify_block(
    block_bytes: bytes, certificate_bytes: bytes, validators: ValidatorSet, chain_id: str, height: int
) -> tuple[Block, CommitCertificate]:
    try:
        block = Block.decode(block_bytes)
        cert = CommitCertificate.decode(certificate_bytes)
    except DecodeError as exc:
        raise VerificationError(f"block {height} does not decode: {exc.message}") from exc
    h = block.header
    if h.chain_id != chain_id:
        raise VerificationError(f"block {height} belongs to chain {h.chain_id!r}")
    if h.height != height:
        raise VerificationError(f"asked for block {height}, got {h.height}")
    if h.validators_hash != validators.hash:
        raise UnknownEpochError(f"block {height} names another validator set than the one known")
    if merkle_root(block.txs) != h.tx_root:
        raise VerificationError(f"block {height}: transactions do not match the tx root")
    try:
        verify_certificate(cert, validators, chain_id, height=height, block_hash=block.hash)
    except CertificateError as exc:
        raise VerificationError(f"block {height}: {exc.message}") from exc
    return block, cert


def verify_header(
    header_bytes: bytes, certificate_bytes: bytes, validators: ValidatorSet, chain_id: str, height: int
) -> tuple[BlockHeader, CommitCertificate]:
    """A block header alone, certified: its hash (SHA-256 of the header bytes) is what a quorum signed."""
    try:
        header = BlockHeader.decode(header_bytes)
        cert = CommitCertificate.decode(certificate_bytes)
    except DecodeError as exc:
        raise VerificationError(f"header {height} does not decode: {exc.message}") from exc
    if header.chain_id != chain_id or header.height != height:
        raise VerificationError(f"header {height} is for another chain or height")
    if header.validators_hash != validators.hash:
        raise UnknownEpochError(f"block {height} names another validator set than the one known")
    try:
        verify_certificate(cert, validators, chain_id, height=height, block_hash=header.hash)
    except CertificateError as exc:
        raise VerificationError(f"block {height}: {exc.message}") from exc
    return header, cert


def tx_index_in_block(block: Block, tx_id: bytes) -> int:
    """Position of the transaction with id `tx_id` in a verified block, or VerificationError."""
    from wire.types import SignedTransaction

    for i, raw in enumerate(block.txs):
        try:
            if SignedTransaction.decode(raw).tx_id == tx_id:
                return i
        except DecodeError:
            continue
    raise VerificationError(f"transaction {tx_id.hex()[:16]}… is not in block {block.header.height}")


def tx_id_of(raw: bytes) -> bytes:
    from wire.types import SignedTransaction

    try:
        return SignedTransaction.decode(raw).tx_id
    except DecodeError:
        return sha256(raw)
