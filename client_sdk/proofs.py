"""Proofs of single transactions and their receipts, and proof bundles that verify with no node.

Rules (docs/audit.md has the formats):

- Trust comes only from the genesis the caller already holds (or, for a bundle checked with
  nothing else, from the genesis embedded in it, identified by its hash for an out-of-band
  comparison). Everything a node serves is checked: certificates against the validator set in
  force at the height, header hash = the certificate's block hash, RFC 6962 inclusion proofs
  into the header's `tx_root` and into the results root that a later header carries, and the
  receipt's transaction id.
- A receipt of block h is proven by the `prev_results_root` of block h + exec_lag, linked back
  to block h by the headers in between (each `prev_block_hash` is the hash of the one before).
- RFC 6962 inclusion proofs authenticate a leaf's position only together with the tree size,
  which block headers do not commit to; the transaction and receipt proofs each carry index and
  size and they must agree (one receipt per transaction, in order).
- Validator-set history: a list of epochs `(from_height, validators)`, the first the genesis set
  from height 1; each later one is proven by the header of its boundary block (the last block of
  the epoch before, certified by that epoch's set, naming the new set as `next_validators_hash`:
  `wire.epochs.verify_epoch_chain`). A client learns them from a node's `/v1/validators` and checks
  them from its genesis (`TrustAnchor.extended`); a header naming a set the anchor does not know
  raises `UnknownEpochError`, on which the clients refresh the epochs once.
- Bundles: version 1 holds one validator set (the genesis one: every bundle made before any set
  change, which keeps checking); version 2 holds the whole epoch chain, each later epoch with its
  boundary header and certificate, so a bundle of any height checks offline.
- Bundles are canonical msgpack maps (`wire.codec`): any changed byte either fails to decode or
  changes a value that is checked.
- Every failure raises `VerificationError` with the reason; nothing else escapes on hostile input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from client_sdk.errors import UnknownEpochError, VerificationError
from wire import codec, txproof
from wire.certificate import ValidatorSet, verify_certificate
from wire.crypto import HASH_SIZE, sha256
from wire.epochs import EpochProof, ValidatorEpoch, verify_epoch_chain
from wire.errors import CertificateError, DecodeError, GenesisError, ProofError, WireError
from wire.genesis import Genesis
from wire.merkle import leaf_hash, verify_inclusion
from wire.txproof import MAX_PATH, ReceiptProof, TxProof, proof_to_json, tx_id_of
from wire.types import BlockHeader, CommitCertificate, Receipt, SignedTransaction

BUNDLE_FORMAT = "orgledger/proof-bundle"
BUNDLE_VERSION = 2  # written when the anchor holds more than the genesis epoch; 1 is still read
MAX_BUNDLE_BYTES = 4 * 1024 * 1024


# ------------------------------------------------------------------------------------ trust anchor
@dataclass(frozen=True)
class TrustAnchor:
    """What a verifier trusts: the chain, its genesis hash, exec_lag and the validator-set history
    (with the boundary proofs of every epoch after the first)."""

    chain_id: str
    genesis_hash: bytes
    exec_lag: int
    epochs: tuple[ValidatorEpoch, ...]
    checkpoint_interval: int = 1
    proofs: tuple[EpochProof, ...] = ()

    @classmethod
    def from_genesis(cls, genesis: Genesis, epochs: tuple[ValidatorEpoch, ...] | None = None) -> TrustAnchor:
        """The anchor of `genesis`; `epochs` (verified by the caller, e.g. the auditor's replay)."""
        return cls(
            chain_id=genesis.chain_id,
            genesis_hash=genesis.hash,
            exec_lag=genesis.consensus.exec_lag,
            epochs=epochs or (ValidatorEpoch(1, genesis.validators),),
            checkpoint_interval=genesis.consensus.checkpoint_interval,
        )

    def extended(self, proofs: list[EpochProof]) -> TrustAnchor:
        """The anchor with the epochs `proofs` prove from genesis (VerificationError if they do not)."""
        try:
            epochs = verify_epoch_chain(
                self.chain_id, self.epochs[0].validators, self.checkpoint_interval, proofs
            )
        except ProofError as exc:
            raise VerificationError(f"the validator epochs do not verify: {exc.message}") from None
        if len(epochs) < len(self.epochs) or epochs[: len(self.epochs)] != self.epochs:
            raise VerificationError("the validator epochs contradict the ones already verified")
        return TrustAnchor(
            chain_id=self.chain_id,
            genesis_hash=self.genesis_hash,
            exec_lag=self.exec_lag,
            epochs=epochs,
            checkpoint_interval=self.checkpoint_interval,
            proofs=tuple(proofs),
        )

    def from_validators_doc(self, doc: Any) -> TrustAnchor:
        """Extend from a node's `GET /v1/validators` answer."""
        if not isinstance(doc, dict) or not isinstance(doc.get("epochs"), list):
            raise VerificationError("the node's validators document is malformed")
        try:
            proofs = [EpochProof.from_json(p) for p in doc["epochs"]]
        except ProofError as exc:
            raise VerificationError(exc.message) from None
        return self.extended(proofs)

    def validators_at(self, height: int) -> ValidatorSet:
        chosen: ValidatorSet | None = None
        for epoch in self.epochs:
            if epoch.from_height <= height:
                chosen = epoch.validators
        if chosen is None:
            raise VerificationError(f"no validator set is in force at height {height}")
        return chosen


class AnchorRef:
    """The client's current anchor, shared with its flows (refreshed when a later epoch shows up)."""

    def __init__(self, anchor: TrustAnchor) -> None:
        self.anchor = anchor


# ------------------------------------------------------------------------------------ proofs
@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedTx:
    """What a verified proof establishes."""

    tx_id: bytes
    block_height: int
    index: int
    tx: SignedTransaction | None  # None when the block entry does not decode (a `malformed` receipt)
    header: BlockHeader
    certificate: CommitCertificate
    receipt: Receipt | None
    root_header: BlockHeader | None


def _header(raw: bytes, what: str) -> BlockHeader:
    try:
        return BlockHeader.decode(raw)
    except DecodeError as exc:
        raise VerificationError(f"{what} does not decode: {exc.message}") from exc


def _certified_header(
    header_bytes: bytes, cert_bytes: bytes, height: int, anchor: TrustAnchor, what: str
) -> tuple[BlockHeader, CommitCertificate]:
    header = _header(header_bytes, what)
    if header.chain_id != anchor.chain_id:
        raise VerificationError(f"{what} belongs to chain {header.chain_id!r}, not {anchor.chain_id!r}")
    if header.height != height:
        raise VerificationError(f"{what} is for height {header.height}, expected {height}")
    validators = anchor.validators_at(height)
    if header.validators_hash != validators.hash:
        raise UnknownEpochError(f"{what} names another validator set than the one known in force")
    try:
        cert = CommitCertificate.decode(cert_bytes)
    except DecodeError as exc:
        raise VerificationError(f"certificate of block {height} does not decode: {exc.message}") from exc
    try:
        verify_certificate(cert, validators, anchor.chain_id, height=height, block_hash=sha256(header_bytes))
    except CertificateError as exc:
        raise VerificationError(f"block {height}: {exc.message}") from exc
    return header, cert


def certified_header(
    header_bytes: bytes, cert_bytes: bytes, height: int, anchor: TrustAnchor, what: str
) -> tuple[BlockHeader, CommitCertificate]:
    """Block `height`'s header, decoded, of this chain and validator set, with its certificate
    verified (a quorum over the hash of `header_bytes`); VerificationError otherwise."""
    return _certified_header(header_bytes, cert_bytes, height, anchor, what)


def verify_tx_proof(proof: TxProof, anchor: TrustAnchor, *, require_receipt: bool = False) -> VerifiedTx:
    """Check `proof` against `anchor`; raise VerificationError naming the first thing that fails."""
    h = proof.block_height
    if h < 1:
        raise VerificationError(f"block height {h} is not a block")
    header, cert = _certified_header(
        proof.header_bytes, proof.certificate_bytes, h, anchor, f"header of block {h}"
    )
    if tx_id_of(proof.tx_bytes) != proof.tx_id:
        raise VerificationError("the proven transaction bytes have another transaction id")
    if not verify_inclusion(
        leaf_hash(proof.tx_bytes), proof.index, proof.tree_size, proof.path, header.tx_root
    ):
        raise VerificationError(f"the inclusion proof does not lead to the tx root of block {h}")
    try:
        tx: SignedTransaction | None = SignedTransaction.decode(proof.tx_bytes)
    except DecodeError:
        tx = None
    expected_root = h + anchor.exec_lag
    if proof.available_at_height != expected_root:
        raise VerificationError(
            f"the receipt of block {h} is carried by block {expected_root}, not {proof.available_at_height}"
        )
    rp = proof.receipt
    if rp is None:
        if require_receipt:
            raise VerificationError(f"no receipt proof (it needs block {expected_root})")
        return VerifiedTx(
            tx_id=proof.tx_id,
            block_height=h,
            index=proof.index,
            tx=tx,
            header=header,
            certificate=cert,
            receipt=None,
            root_header=None,
        )
    if rp.root_height != expected_root:
        raise VerificationError(
            f"the receipt root must come from block {expected_root}, not {rp.root_height}"
        )
    if len(rp.link_headers) != anchor.exec_lag - 1:
        raise VerificationError(f"expected {anchor.exec_lag - 1} linking headers, got {len(rp.link_headers)}")
    prev_hash, prev_time = sha256(proof.header_bytes), header.timestamp_ms
    for offset, raw in enumerate(rp.link_headers, start=1):
        link = _header(raw, f"header of block {h + offset}")
        if link.chain_id != anchor.chain_id or link.height != h + offset:
            raise VerificationError(f"linking header {h + offset} is for another chain or height")
        if link.prev_block_hash != prev_hash or link.timestamp_ms <= prev_time:
            raise VerificationError(f"header of block {h + offset} does not follow block {h + offset - 1}")
        prev_hash, prev_time = sha256(raw), link.timestamp_ms
    root_header, _ = _certified_header(
        rp.header_bytes, rp.certificate_bytes, expected_root, anchor, f"header of block {expected_root}"
    )
    if root_header.prev_block_hash != prev_hash or root_header.timestamp_ms <= prev_time:
        raise VerificationError(f"header of block {expected_root} does not follow block {expected_root - 1}")
    try:
        receipt = Receipt.decode(rp.receipt_bytes)
    except DecodeError as exc:
        raise VerificationError(f"the receipt does not decode: {exc.message}") from exc
    if receipt.tx_id != proof.tx_id:
        raise VerificationError("the receipt is for another transaction")
    if rp.index != proof.index or rp.tree_size != proof.tree_size:
        raise VerificationError("the receipt's position differs from the transaction's")
    if not verify_inclusion(
        leaf_hash(rp.receipt_bytes), rp.index, rp.tree_size, rp.path, root_header.prev_results_root
    ):
        raise VerificationError(f"the receipt is not in the results of block {h}")
    return VerifiedTx(
        tx_id=proof.tx_id,
        block_height=h,
        index=proof.index,
        tx=tx,
        header=header,
        certificate=cert,
        receipt=receipt,
        root_header=root_header,
    )


# ------------------------------------------------------------------------------------ the endpoint's JSON
def proof_from_json(doc: Any) -> TxProof:
    """Parse a `GET /v1/proofs/tx/{id}` answer (`wire.txproof`); raise VerificationError if malformed."""
    try:
        return txproof.proof_from_json(doc)
    except ProofError as exc:
        raise VerificationError(exc.message) from None


# ------------------------------------------------------------------------------------ bundles
@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedBundle:
    genesis: Genesis
    anchor: TrustAnchor
    verified: VerifiedTx


_BUNDLE_KEYS = {"format", "version", "genesis_hash", "genesis", "validator_sets", "proof"}
_PROOF_KEYS = {
    "kind",
    "tx_id",
    "block_height",
    "tx",
    "tx_index",
    "tx_tree_size",
    "tx_path",
    "header",
    "certificate",
    "receipt",
    "receipt_index",
    "receipt_tree_size",
    "receipt_path",
    "root_height",
    "link_headers",
    "root_header",
    "root_certificate",
}


def make_bundle(proof: TxProof, genesis: Genesis, anchor: TrustAnchor | None = None) -> bytes:
    """The canonical bundle bytes of a proof that has its receipt proof (verify it first); with the
    epoch chain of `anchor` when it holds more than the genesis set (version 2)."""
    rp = proof.receipt
    if rp is None:
        raise VerificationError(f"the receipt of block {proof.block_height} is not provable yet")
    anchor = anchor or TrustAnchor.from_genesis(genesis)
    needed = [p for p in anchor.proofs if p.start <= max(proof.block_height, rp.root_height)]
    sets: list[dict[str, Any]] = [{"from_height": 1, "validators": list(anchor.epochs[0].validators.pubkeys)}]
    sets += [
        {
            "from_height": p.start,
            "validators": list(p.validators),
            "boundary_header": p.header_bytes,
            "boundary_certificate": p.certificate_bytes,
        }
        for p in needed
    ]
    return codec.encode(
        {
            "format": BUNDLE_FORMAT,
            "version": 1 if len(sets) == 1 else BUNDLE_VERSION,
            "genesis_hash": genesis.hash,
            "genesis": genesis.to_json(),
            "validator_sets": sets,
            "proof": {
                "kind": "tx",
                "tx_id": proof.tx_id,
                "block_height": proof.block_height,
                "tx": proof.tx_bytes,
                "tx_index": proof.index,
                "tx_tree_size": proof.tree_size,
                "tx_path": list(proof.path),
                "header": proof.header_bytes,
                "certificate": proof.certificate_bytes,
                "receipt": rp.receipt_bytes,
                "receipt_index": rp.index,
                "receipt_tree_size": rp.tree_size,
                "receipt_path": list(rp.path),
                "root_height": rp.root_height,
                "link_headers": list(rp.link_headers),
                "root_header": rp.header_bytes,
                "root_certificate": rp.certificate_bytes,
            },
        }
    )


def _want(doc: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    value = doc[key]
    if type(value) is not kind:
        raise VerificationError(f"bundle field {what} has the wrong type")
    return value


def _bytes_list(value: Any, what: str, size: int | None = None) -> tuple[bytes, ...]:
    if type(value) is not list or len(value) > MAX_PATH:
        raise VerificationError(f"bundle field {what} is not a list")
    if any(type(x) is not bytes or (size is not None and len(x) != size) for x in value):
        raise VerificationError(
            f"bundle field {what} holds something other than {size or 'some'}-byte values"
        )
    return tuple(value)


def _exact_keys(doc: Any, keys: set[str], what: str) -> Mapping[str, Any]:
    if not isinstance(doc, dict):
        raise VerificationError(f"{what} is not a map")
    if set(doc) != keys:
        extra, missing = sorted(set(doc) - keys), sorted(keys - set(doc))
        raise VerificationError(f"{what} has unknown fields {extra} or lacks {missing}")
    return doc


def read_bundle(data: bytes) -> tuple[Genesis, TrustAnchor, TxProof]:
    """Decode a bundle strictly and check it is self-consistent (not yet the proof itself)."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise VerificationError(f"a proof bundle is at most {MAX_BUNDLE_BYTES} bytes")
    try:
        doc = codec.decode(data)
    except DecodeError as exc:
        raise VerificationError(f"the bundle is not canonical msgpack: {exc.message}") from exc
    try:
        doc = _exact_keys(doc, _BUNDLE_KEYS, "the bundle")
        if doc["format"] != BUNDLE_FORMAT:
            raise VerificationError(f"not a proof bundle (format {doc['format']!r})")
        if doc["version"] not in (1, BUNDLE_VERSION) or type(doc["version"]) is not int:
            raise VerificationError(f"unsupported bundle version {doc['version']!r}")
        genesis_doc = doc["genesis"]
        genesis_hash = _want(doc, "genesis_hash", bytes, "genesis_hash")
        if sha256(codec.encode(genesis_doc)) != genesis_hash:
            raise VerificationError("the embedded genesis does not hash to the bundle's genesis hash")
        try:
            genesis = Genesis.from_json(genesis_doc)
        except (GenesisError, WireError) as exc:
            raise VerificationError(f"the embedded genesis is invalid: {exc}") from exc
        if genesis.hash != genesis_hash:
            raise VerificationError("the embedded genesis does not hash to the bundle's genesis hash")
        anchor = _bundle_anchor(TrustAnchor.from_genesis(genesis), doc)
        p = _exact_keys(doc["proof"], _PROOF_KEYS, "the proof")
        if p["kind"] != "tx":
            raise VerificationError(f"unknown proof kind {p['kind']!r}")
        proof = TxProof(
            tx_id=_want(p, "tx_id", bytes, "tx_id"),
            block_height=_want(p, "block_height", int, "block_height"),
            index=_want(p, "tx_index", int, "tx_index"),
            tx_bytes=_want(p, "tx", bytes, "tx"),
            tree_size=_want(p, "tx_tree_size", int, "tx_tree_size"),
            path=_bytes_list(p["tx_path"], "tx_path", HASH_SIZE),
            header_bytes=_want(p, "header", bytes, "header"),
            certificate_bytes=_want(p, "certificate", bytes, "certificate"),
            available_at_height=_want(p, "root_height", int, "root_height"),
            receipt=ReceiptProof(
                receipt_bytes=_want(p, "receipt", bytes, "receipt"),
                index=_want(p, "receipt_index", int, "receipt_index"),
                tree_size=_want(p, "receipt_tree_size", int, "receipt_tree_size"),
                path=_bytes_list(p["receipt_path"], "receipt_path", HASH_SIZE),
                root_height=_want(p, "root_height", int, "root_height"),
                link_headers=_bytes_list(p["link_headers"], "link_headers"),
                header_bytes=_want(p, "root_header", bytes, "root_header"),
                certificate_bytes=_want(p, "root_certificate", bytes, "root_certificate"),
            ),
        )
    except KeyError as exc:
        raise VerificationError(f"the bundle lacks {exc.args[0]!r}") from None
    return genesis, anchor, proof


def _bundle_anchor(anchor: TrustAnchor, doc: Mapping[str, Any]) -> TrustAnchor:
    """The genesis set first; then, in a version 2 bundle, each later epoch with its proof."""
    sets = _want(doc, "validator_sets", list, "validator_sets")
    if not sets or (doc["version"] == 1 and len(sets) != 1):
        raise VerificationError(f"a version {doc['version']} bundle lists {len(sets)} validator sets")
    first = _exact_keys(sets[0], {"from_height", "validators"}, "validator set")
    keys = _bytes_list(first["validators"], "validators", 32)
    if first["from_height"] != 1 or type(first["from_height"]) is not int:
        raise VerificationError("the first validator set must be in force from height 1")
    if keys != anchor.epochs[0].validators.pubkeys:
        raise VerificationError("the bundle's first validator set is not the genesis validator set")
    proofs = []
    for entry in sets[1:]:
        e = _exact_keys(
            entry, {"from_height", "validators", "boundary_header", "boundary_certificate"}, "validator set"
        )
        proofs.append(
            EpochProof(
                start=_want(e, "from_height", int, "from_height"),
                validators=_bytes_list(e["validators"], "validators", 32),
                header_bytes=_want(e, "boundary_header", bytes, "boundary_header"),
                certificate_bytes=_want(e, "boundary_certificate", bytes, "boundary_certificate"),
            )
        )
    return anchor.extended(proofs) if proofs else anchor


def check_bundle(
    data: bytes, *, genesis: Genesis | None = None, genesis_hash: bytes | None = None
) -> CheckedBundle:
    """Verify a bundle offline. `genesis` or `genesis_hash`, when given, pin the chain it must be of."""
    embedded, anchor, proof = read_bundle(data)
    if genesis is not None and genesis.hash != embedded.hash:
        raise VerificationError(
            f"the bundle is of genesis {embedded.hash.hex()[:16]}…, not of {genesis.hash.hex()[:16]}…"
        )
    if genesis_hash is not None and genesis_hash != embedded.hash:
        raise VerificationError(f"the bundle is of genesis {embedded.hash.hex()}, not {genesis_hash.hex()}")
    verified = verify_tx_proof(proof, anchor, require_receipt=True)
    return CheckedBundle(genesis=embedded, anchor=anchor, verified=verified)


def verify_proof_response(
    doc: Any, genesis: Genesis, tx_id: bytes | None = None, *, anchor: TrustAnchor | None = None
) -> VerifiedTx:
    """Parse and verify a `GET /v1/proofs/tx/{id}` answer against the caller's genesis (and the
    epochs of `anchor`, when given; UnknownEpochError when it needs a later one)."""
    proof = proof_from_json(doc)
    if tx_id is not None and proof.tx_id != tx_id:
        raise VerificationError("the node answered with a proof of another transaction")
    return verify_tx_proof(proof, anchor or TrustAnchor.from_genesis(genesis))


__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "AnchorRef",
    "CheckedBundle",
    "EpochProof",
    "ReceiptProof",
    "TrustAnchor",
    "TxProof",
    "UnknownEpochError",
    "ValidatorEpoch",
    "VerifiedTx",
    "certified_header",
    "check_bundle",
    "make_bundle",
    "proof_from_json",
    "proof_to_json",
    "read_bundle",
    "tx_id_of",
    "verify_proof_response",
    "verify_tx_proof",
]
