"""Transactions for `LedgerClient`: signing, submitting, waiting, and the verified proofs,
headers and blocks (client_sdk/client.py states the rules; the logic is `client_sdk.core`).

Rules:

- `submit` returns only with a verified commit (certificate and inclusion proof, by default the
  receipt's proof too); `submit_many` posts every transaction first, then waits for each.
- What the node serves here (proofs, bundles, headers, blocks, and by default `tx`) is verified
  against the genesis the client holds before it is returned.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from client_sdk import core, readcore
from client_sdk.clientbase import KeyLike
from client_sdk.errors import LedgerError
from client_sdk.models import Committed
from client_sdk.proofs import VerifiedTx, make_bundle, proof_from_json
from client_sdk.sync_http import SyncDriver
from client_sdk.tx import Payload
from wire.crypto import Signer, SigningKey
from wire.types import Block, BlockHeader, CommitCertificate, SignedTransaction


class SubmitMethods(SyncDriver):
    """`LedgerClient`'s transaction methods."""

    def sign(
        self,
        payload: Payload | Mapping[str, Any],
        *,
        tx_type: str | None = None,
        org_id: str | None = None,
        key: KeyLike | None = None,
        approvers: Sequence[KeyLike] = (),
        nonce: int | None = None,
    ) -> SignedTransaction:
        """Validate `payload` (a builder, or a dict with `tx_type`) and sign it. The transaction acts
        for `org_id`, by default the signing key's own org (the client's, from whoami)."""
        if org_id is None:
            org_id = self.org_id if key is None else self._org_of(self._signer(key))
        return self._sign(payload, org_id, tx_type=tx_type, key=key, approvers=approvers, nonce=nonce)

    def _org_of(self, key: SigningKey | Signer) -> str:
        doc = self._get(f"/v1/users/{key.public.hex()}", min_height=0)
        return str(doc["item"]["org_id"])

    def submit(
        self,
        tx: SignedTransaction | Payload | Mapping[str, Any],
        *,
        tx_type: str | None = None,
        org_id: str | None = None,
        key: KeyLike | None = None,
        approvers: Sequence[KeyLike] = (),
        timeout_s: float | None = None,
        wait_receipt: bool = True,
    ) -> Committed:
        """Submit and wait for a verified commit (see the module rules). `tx` is a signed
        transaction, or a payload that `sign` turns into one first."""
        if not isinstance(tx, SignedTransaction):
            tx = self.sign(tx, tx_type=tx_type, org_id=org_id, key=key, approvers=approvers)
        return self._committed(self.run(core.submit_flow(tx, self._submit_options(timeout_s, wait_receipt))))

    def submit_many(
        self,
        txs: Iterable[SignedTransaction],
        *,
        timeout_s: float | None = None,
        wait_receipt: bool = True,
        return_exceptions: bool = False,
    ) -> list[Committed | LedgerError]:
        """Post every transaction first, then wait for each: they commit together, in few blocks.
        With `return_exceptions` a failure takes its place in the list instead of being raised."""
        txs = list(txs)
        opts = self._submit_options(timeout_s, wait_receipt)
        deadline = time.monotonic() + opts.timeout_s
        posted: list[LedgerError | None] = []
        for tx in txs:
            post = core.Call("POST", "/v1/tx", body=tx.encode(), content_type="application/octet-stream")
            try:
                self.run(core.request(post, deadline=deadline, read=False))
                posted.append(None)
            except LedgerError as exc:
                if not return_exceptions and not core.retryable(exc, read=False):
                    raise
                posted.append(exc)
        out: list[Committed | LedgerError] = []
        for tx, failed in zip(txs, posted, strict=True):
            try:
                if failed is not None and not core.retryable(failed, read=False):
                    raise failed
                done = self.run(core.wait_flow(tx.tx_id, opts, raw=tx.encode(), deadline=deadline))
                out.append(self._committed(done))
            except LedgerError as exc:
                if not return_exceptions:
                    raise
                out.append(exc)
        return out

    def wait(
        self, tx_id: bytes | str, *, timeout_s: float | None = None, wait_receipt: bool = True
    ) -> Committed:
        """Wait for a transaction submitted earlier (e.g. after a CommitTimeoutError)."""
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        return self._committed(self.run(core.wait_flow(tid, self._submit_options(timeout_s, wait_receipt))))

    def post(self, tx: SignedTransaction) -> dict[str, Any]:
        """Hand a signed transaction to the node once (no waiting): its answer."""
        call = core.Call("POST", "/v1/tx", body=tx.encode(), content_type="application/octet-stream")
        return self.run(core.request(call, deadline=self._deadline(), read=False))

    def tx(
        self, tx_id: bytes | str, *, wait_receipt: bool = True, timeout_s: float | None = None
    ) -> dict[str, Any] | None:
        """A transaction's status, None if the node does not know it. Committed or rejected, it is
        verified by its proof and rebuilt from it (`"verified": true`; with `wait_receipt` the
        receipt's proof is awaited until the timeout: `"receipt_verified"`); a pending answer has
        nothing to prove (`"verified": false`). With `verify_reads=False`: the node's answer."""
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        flow = readcore.tx_flow(
            self._reads, self.genesis, tid, wait_receipt=wait_receipt, deadline=self._deadline(timeout_s)
        )
        return self.run(flow)

    def proof(
        self, tx_id: bytes | str, *, wait_receipt: bool = False, timeout_s: float | None = None
    ) -> VerifiedTx:
        """The transaction's proof, verified against the genesis (with its receipt's when
        `wait_receipt`, waiting for it until the timeout)."""
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        deadline = self._deadline(timeout_s)
        while True:
            doc = self._get(f"/v1/proofs/tx/{tid.hex()}", min_height=0)
            verified = self._with_epochs(partial(self._check_proof, doc, tid))
            if verified.receipt is not None or not wait_receipt or time.monotonic() > deadline:
                return verified
            time.sleep(0.1)

    def bundle(self, tx_id: bytes | str, *, timeout_s: float | None = None) -> bytes:
        """A proof bundle of the transaction and its receipt (`orgledger audit check-proof` and
        `client_sdk.proofs.check_bundle` verify it offline)."""
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        deadline = self._deadline(timeout_s)
        while True:
            doc = self._get(f"/v1/proofs/tx/{tid.hex()}", min_height=0)
            self._with_epochs(partial(self._check_proof, doc, tid))
            proof = proof_from_json(doc)
            if proof.receipt is not None or time.monotonic() > deadline:
                return make_bundle(proof, self.genesis, self.anchor)
            time.sleep(0.1)

    def header(self, height: int) -> tuple[BlockHeader, CommitCertificate]:
        """A block's header and certificate, verified (any authenticated caller)."""
        doc = self._get(f"/v1/blocks/{height}/header", min_height=0)
        return self._with_epochs(lambda: self._verify_header(doc, height))

    def block(self, height: int) -> tuple[Block, CommitCertificate]:
        """A whole block, verified (root-org admins and auditors, node keys)."""
        doc = self._get(f"/v1/blocks/{height}", min_height=0)
        return self._with_epochs(lambda: self._verify_block(doc, height))
