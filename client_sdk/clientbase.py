"""What `LedgerClient` (client_sdk/client.py) and `AsyncLedgerClient` (client_sdk/aio.py) share.

Rules:

- `ClientBase` holds the configuration (with `node_id`, the node the client talks to: the
  audience its signed requests name: given, else the genesis node listening at the URL, else
  learned once from `GET /v1/status`), the session height (`seen_height`: the highest height the
  client saw committed or answered, which `read_your_writes` sends as `min_height`), signing
  (payloads are validated before anything is signed, `client_sdk.tx`), the verification of
  headers and blocks against the genesis the client holds and the validator epochs verified from
  it (`anchor`; a header of a later epoch makes the clients fetch `/v1/validators`, verify the
  epoch chain and check again, once), and the read state (`client_sdk.readcore.ReadState`: the
  proof verifier unless `verify_reads=False`, which shares the anchor, and the caller's scope).
  It does no IO: each client drives the `client_sdk.core` and `client_sdk.readcore` flows with
  its own HTTP library.
- What the client verifies elsewhere feeds the read verifier: the headers of its commits and of
  block events (certified state roots) and the heights of its own commits (the state changed
  there), so a node cannot claim an answer reflects a height those contradict.
- `ca_file` / `client_cert` make the clients speak HTTPS trusting only the network's CA
  (`client_sdk.tls`): `self.tls`, the context each client hands its HTTP library.
- `KeyLike`, `load_genesis`, `load_key` accept a key or genesis object, or the path of its file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from client_sdk import core
from client_sdk.auth import node_in_genesis
from client_sdk.errors import LedgerError, VerificationError
from client_sdk.models import Committed, Event
from client_sdk.proofs import AnchorRef, TrustAnchor, VerifiedTx, verify_proof_response
from client_sdk.readcore import ReadState
from client_sdk.readproofs import ReadVerifier
from client_sdk.tls import tls_context
from client_sdk.tx import Payload, PayloadTransform, sign_tx
from client_sdk.verify import verify_block, verify_header
from wire import files
from wire.crypto import Signer, SigningKey
from wire.files import load_signing_key
from wire.genesis import Genesis
from wire.types import Block, BlockHeader, CommitCertificate, SignedTransaction

EVENTS_READ_TIMEOUT_S = 45.0  # the server sends a keep-alive comment every 15 s
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.2, 5.0

KeyLike = SigningKey | Signer | str | Path


def load_genesis(genesis: Genesis | str | Path) -> Genesis:
    return genesis if isinstance(genesis, Genesis) else files.load_genesis(Path(genesis))


def load_key(key: KeyLike | None) -> SigningKey | Signer | None:
    if key is None or isinstance(key, SigningKey | Signer):
        return key
    return load_signing_key(Path(key))


class ClientBase:
    """What both clients share: configuration, the session height, signing."""

    def __init__(
        self,
        url: str,
        genesis: Genesis | str | Path,
        *,
        key: KeyLike | None = None,
        node_id: str | None = None,
        timeout_s: float = 10.0,
        submit_timeout_s: float = 30.0,
        read_your_writes: bool = True,
        verify_reads: bool = True,
        verify_events: bool = True,
        transforms: Sequence[PayloadTransform] = (),
        ca_file: str | Path | None = None,
        client_cert: tuple[str | Path, str | Path] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        # HTTPS against the network's CA (client_sdk/tls.py); None: the HTTP library's default
        self.tls = tls_context(self.url, ca_file, client_cert)
        self.genesis = load_genesis(genesis)
        self.key = load_key(key)
        # the node this client talks to: the audience of its signed requests (wire/reqsign.py):
        # given, else the genesis node at the URL's address, else learned once from GET /v1/status
        self.node_id = node_id if node_id is not None else node_in_genesis(self.genesis, self.url)
        self.timeout_s = timeout_s
        self.submit_timeout_s = submit_timeout_s
        self.read_your_writes = read_your_writes
        self.verify_reads = verify_reads
        self.verify_events = verify_events
        self.transforms = list(transforms)
        self.seen_height = 0  # the highest height this client saw committed or answered
        self._org_id: str | None = None
        self._anchor = AnchorRef(TrustAnchor.from_genesis(self.genesis))
        self._reads = ReadState(
            ReadVerifier(self.genesis, self._anchor) if verify_reads else None,
            None if self.key is None else self.key.public,
        )

    @property
    def anchor(self) -> TrustAnchor:
        """The genesis and the validator epochs this client verified so far."""
        return self._anchor.anchor

    def _check_proof(self, doc: dict[str, Any], tx_id: bytes) -> VerifiedTx:
        """A `/v1/proofs/tx/{id}` answer verified against the genesis and the known epochs."""
        return verify_proof_response(doc, self.genesis, tx_id, anchor=self.anchor)

    def _learn_epochs(self, doc: Any) -> None:
        """Extend the anchor from a `/v1/validators` answer (verified from genesis)."""
        self._anchor.anchor = self._anchor.anchor.from_validators_doc(doc)

    # ------------------------------------------------------------------ helpers
    def _saw(self, height: Any) -> None:
        if type(height) is int and height > self.seen_height:
            self.seen_height = height

    def _committed(self, done: Committed) -> Committed:
        """Note a verified commit: the session height, and for the read verifier its headers
        and the height where this client's transaction changed the state."""
        self._saw(done.height)
        v = self._reads.verifier
        if v is not None:
            v.learn_header(done.header)
            if done.receipt_verified:
                v.learn_commit(done.height)
            if done.proof.root_header is not None:
                v.learn_header(done.proof.root_header)
        return done

    def _block_event(self, event: Event) -> None:
        self._saw(event.height)
        if self._reads.verifier is not None and event.header is not None:
            self._reads.verifier.learn_header(event.header)

    def _min_height(self, given: int | None) -> int | None:
        if given is not None:
            return given
        if not self.read_your_writes or self.seen_height == 0:
            return None
        return self.seen_height

    def _deadline(self, timeout_s: float | None = None) -> float:
        return time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)

    def _signer(self, key: KeyLike | None) -> SigningKey | Signer:
        chosen = load_key(key) if key is not None else self.key
        if chosen is None:
            raise LedgerError("no key: give the client a key, or pass key= to sign")
        return chosen

    def _sign(
        self,
        payload: Payload | Mapping[str, Any],
        org_id: str,
        *,
        tx_type: str | None,
        key: KeyLike | None,
        approvers: Sequence[KeyLike],
        nonce: int | None,
    ) -> SignedTransaction:
        return sign_tx(
            payload,
            chain_id=self.genesis.chain_id,
            org_id=org_id,
            key=self._signer(key),
            tx_type=tx_type,
            approvers=[self._signer(a) for a in approvers],
            nonce=nonce,
            transforms=self.transforms,
            max_tx_bytes=self.genesis.consensus.max_tx_bytes,
        )

    def _submit_options(self, timeout_s: float | None, wait_receipt: bool) -> core.SubmitOptions:
        return core.SubmitOptions(
            genesis=self.genesis,
            timeout_s=self.submit_timeout_s if timeout_s is None else timeout_s,
            wait_receipt=wait_receipt,
            anchor=self._anchor,
        )

    def _verify_header(self, doc: dict[str, Any], height: int) -> tuple[BlockHeader, CommitCertificate]:
        try:
            header_bytes, cert_bytes = (
                bytes.fromhex(doc["header_bytes"]),
                bytes.fromhex(doc["certificate_bytes"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(f"header {height}: the node sent no header or certificate bytes") from exc
        g = self.genesis
        header, cert = verify_header(
            header_bytes, cert_bytes, self.anchor.validators_at(height), g.chain_id, height
        )
        if self._reads.verifier is not None:
            self._reads.verifier.learn_header(header)
        return header, cert

    def _verify_block(self, doc: dict[str, Any], height: int) -> tuple[Block, CommitCertificate]:
        try:
            block_bytes, cert_bytes = (
                bytes.fromhex(doc["block_bytes"]),
                bytes.fromhex(doc["certificate_bytes"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(f"block {height}: the node sent no block or certificate bytes") from exc
        g = self.genesis
        block, cert = verify_block(
            block_bytes, cert_bytes, self.anchor.validators_at(height), g.chain_id, height
        )
        if self._reads.verifier is not None:
            self._reads.verifier.learn_header(block.header)
        return block, cert

    @staticmethod
    def _list_params(
        *,
        org_id: str | None,
        subtree: bool | None,
        status: str | None,
        type: str | None,
        person_key: str | None,
        colour: str | None,
        date_from: str | None,
        date_to: str | None,
    ) -> dict[str, Any]:
        return {
            "org_id": org_id,
            "subtree": subtree,
            "status": status,
            "type": type,
            "person_key": person_key,
            "colour": colour,
            "date_from": date_from,
            "date_to": date_to,
        }
