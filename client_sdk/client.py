"""`LedgerClient`: submit signed transactions and read what they did, verifying everything.

Rules:

- `submit` returns only when the transaction is committed, its block's commit certificate verifies
  against the validator set from the client's genesis, and the transaction is in that block;
  a contracts rejection raises TxRejectedError with the receipt; no answer in time raises
  CommitTimeoutError (the outcome is then unknown: the same signed transaction can be submitted
  again safely, it is applied at most once).
- Retries: connection failures and 503 answers are retried with back-off within the deadline;
  resubmitting the same bytes is idempotent on the node.
- Reads are authenticated: with `key=` every request is signed (`client_sdk.auth`). A caller who
  may not read whole blocks (anyone but root-org admins and auditors) verifies its transaction
  with the block's header and certificate and the transaction's inclusion path instead.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import httpx

from client_sdk.auth import LedgerAuth, RequestSigner
from client_sdk.errors import (
    ApiError,
    CommitTimeoutError,
    LedgerError,
    TransportError,
    TxRejectedError,
    VerificationError,
)
from client_sdk.verify import tx_index_in_block, verify_block, verify_header
from wire.crypto import Signer, SigningKey
from wire.genesis import Genesis
from wire.merkle import leaf_hash, verify_inclusion
from wire.types import Block, BlockHeader, CommitCertificate, SignedTransaction, TxBody


def build_tx(
    *,
    chain_id: str,
    tx_type: str,
    org_id: str,
    payload: Any,
    key: SigningKey | Signer,
    approvers: tuple[SigningKey | Signer, ...] = (),
    nonce: int | None = None,
    client_time_ms: int | None = None,
) -> SignedTransaction:
    """Build and sign a transaction (a random 63-bit nonce unless one is given)."""
    signer = key.signer() if isinstance(key, SigningKey) else key
    body = TxBody(
        chain_id=chain_id,
        tx_type=tx_type,
        org_id=org_id,
        signer=signer.public,
        nonce=nonce if nonce is not None else int.from_bytes(os.urandom(8), "big") >> 1,
        client_time_ms=client_time_ms if client_time_ms is not None else int(time.time() * 1000),
        payload=payload,
    )
    signers = tuple(a.signer() if isinstance(a, SigningKey) else a for a in approvers)
    return SignedTransaction.create(body, signer, signers)


@dataclass(frozen=True, slots=True)
class Committed:
    tx_id: bytes
    height: int
    index: int
    receipt: dict[str, Any]
    block: Block | None  # None when the caller may not read whole blocks (verified by header + path)
    certificate: CommitCertificate


class LedgerClient:
    def __init__(
        self,
        url: str,
        genesis: Genesis,
        *,
        key: SigningKey | Signer | None = None,
        auth: httpx.Auth | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        """`key` signs every request (a registered user key or a node key); `auth` overrides it
        (e.g. `client_sdk.auth.BearerAuth(token)`)."""
        self.url = url.rstrip("/")
        self.genesis = genesis
        if auth is None and key is not None:
            auth = LedgerAuth(RequestSigner(key, genesis.chain_id))
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, auth=auth)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP
    def _request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {self.url}{path}: {exc}") from exc
        try:
            doc = resp.json()
        except ValueError:
            raise ApiError(resp.status_code, "bad_response", f"non-JSON answer from {path}") from None
        if resp.status_code >= 400:
            err = doc.get("error", {}) if isinstance(doc, dict) else {}
            raise ApiError(resp.status_code, str(err.get("code", "error")), str(err.get("message", "")))
        if not isinstance(doc, dict):
            raise ApiError(resp.status_code, "bad_response", f"unexpected answer from {path}")
        return doc

    def status(self) -> dict[str, Any]:
        return self._request("GET", "/v1/status")

    def tx(self, tx_id: bytes) -> dict[str, Any] | None:
        try:
            return self._request("GET", f"/v1/tx/{tx_id.hex()}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def header(self, height: int) -> tuple[BlockHeader, CommitCertificate]:
        """A block's header and certificate, verified (readable by every authenticated caller)."""
        doc = self._request("GET", f"/v1/blocks/{height}/header")
        g = self.genesis
        return verify_header(
            bytes.fromhex(doc["header_bytes"]),
            bytes.fromhex(doc["certificate_bytes"]),
            g.validators,
            g.chain_id,
            height,
        )

    def block(self, height: int) -> tuple[Block, CommitCertificate]:
        doc = self._request("GET", f"/v1/blocks/{height}")
        g = self.genesis
        return verify_block(
            bytes.fromhex(doc["block_bytes"]),
            bytes.fromhex(doc["certificate_bytes"]),
            g.validators,
            g.chain_id,
            height,
        )

    def post(self, tx: SignedTransaction) -> dict[str, Any]:
        return self._request(
            "POST", "/v1/tx", content=tx.encode(), headers={"content-type": "application/octet-stream"}
        )

    # ------------------------------------------------------------------ submit
    def submit(self, tx: SignedTransaction, *, timeout_s: float = 30.0, poll_s: float = 0.05) -> Committed:
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while True:
            try:
                self.post(tx)
                break
            except ApiError as exc:
                if exc.code == "already_committed":
                    break
                if exc.status != 503 or time.monotonic() > deadline:
                    raise
            except TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        return self.wait(tx.tx_id, deadline=deadline, poll_s=poll_s)

    def wait(self, tx_id: bytes, *, deadline: float, poll_s: float = 0.05) -> Committed:
        while True:
            try:
                found = self.tx(tx_id)
            except (TransportError, ApiError) as exc:
                if time.monotonic() > deadline:
                    raise CommitTimeoutError(f"no answer about {tx_id.hex()[:16]}…: {exc}") from exc
                found = None
            if found is not None and found.get("status") in ("committed", "rejected"):
                height = int(found["block_height"])
                block: Block | None
                try:
                    block, cert = self.block(height)
                    index = tx_index_in_block(block, tx_id)
                except ApiError as exc:
                    if exc.status != 403:
                        raise
                    block = None
                    header, cert = self.header(height)
                    index = self._verify_path(found, header, tx_id)
                receipt = found["receipt"]
                if receipt.get("tx_id") != tx_id.hex():
                    raise LedgerError("the node answered with a receipt for another transaction")
                if receipt.get("status") != "ACCEPTED":
                    raise TxRejectedError(receipt, height)
                return Committed(
                    tx_id=tx_id, height=height, index=index, receipt=receipt, block=block, certificate=cert
                )
            if time.monotonic() > deadline:
                raise CommitTimeoutError(f"transaction {tx_id.hex()[:16]}… not committed in time")
            time.sleep(poll_s)

    @staticmethod
    def _verify_path(found: dict[str, Any], header: BlockHeader, tx_id: bytes) -> int:
        """Check the transaction is leaf `index` of the verified header's tx_root; return index."""
        try:
            raw = bytes.fromhex(found["tx_bytes"])
            index, count = int(found["index"]), int(found["tx_count"])
            path = [bytes.fromhex(h) for h in found["tx_proof"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError("the node did not send the transaction's inclusion path") from exc
        if SignedTransaction.decode(raw).tx_id != tx_id:
            raise VerificationError("the node sent another transaction's bytes")
        if not verify_inclusion(leaf_hash(raw), index, count, path, header.tx_root):
            raise VerificationError(f"transaction {tx_id.hex()[:16]}… is not in block {header.height}")
        return index
