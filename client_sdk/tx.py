"""Building and signing transactions: typed payloads in, a signed transaction out.

Rules:

- `sign_tx` takes a typed builder (`client_sdk.builders`, one dataclass per transaction type) or a
  plain dict with its `tx_type`, applies the payload transforms in order, validates the result
  against the node's schema (`client_sdk.schema`: the same reason codes as the node) and only then
  signs. A mistake raises `PayloadError` before any key is used.
- Payload transforms are the hook for steps that rewrite a payload before signing, such as the
  field encryption of issue 8: `transform(tx_type, org_id, payload) -> payload`. They run after the
  builder made its dict and before validation, so what is signed is always what was validated.
- `build_tx` signs whatever it is given (no validation): for tests that need invalid transactions
  and for callers that validated elsewhere.
- Nonces are random 63-bit integers and the client time is now, unless given: the node refuses a
  client time more than a day from block time (`stale_tx`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, cast

from client_sdk import schema
from client_sdk.errors import PayloadError
from wire.crypto import Signer, SigningKey
from wire.types import SignedTransaction, TxBody

PayloadTransform = Callable[[str, str, dict[str, Any]], dict[str, Any]]
"""`(tx_type, org_id, payload) -> payload`: rewrites a payload before validation and signing."""


class Payload:
    """Base of the typed builders: a frozen dataclass per transaction type (`client_sdk.builders`).

    Optional fields left at None are omitted (the node fills in its default)."""

    __slots__ = ()
    TX_TYPE: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """The payload as the node reads it (dates and bytes converted, None fields left out); not
        validated yet."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(cast(Any, self)):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return cast(dict[str, Any], schema.coerce(self.TX_TYPE, out))

    def validate(self) -> dict[str, Any]:
        """Validate against the node's schema; return the normalised payload or raise PayloadError."""
        return schema.validate(self.TX_TYPE, self.to_dict())


def prepare_payload(
    payload: Payload | Mapping[str, Any],
    *,
    tx_type: str | None = None,
    org_id: str = "",
    transforms: Sequence[PayloadTransform] = (),
) -> tuple[str, dict[str, Any]]:
    """(tx_type, payload ready to sign): built, transformed and validated."""
    if isinstance(payload, Payload):
        if tx_type is not None and tx_type != payload.TX_TYPE:
            raise PayloadError("unknown_tx_type", "", f"a {type(payload).__name__} is a {payload.TX_TYPE}")
        tx_type, body = payload.TX_TYPE, payload.to_dict()
    else:
        if tx_type is None:
            raise PayloadError("unknown_tx_type", "", "a dict payload needs its tx_type")
        if not isinstance(payload, Mapping):
            raise PayloadError("not_an_object", "", "expected an object")
        body = cast(dict[str, Any], schema.coerce(tx_type, dict(payload)))
    for transform in transforms:
        body = transform(tx_type, org_id, body)
    schema.validate(tx_type, body)
    return tx_type, body


def build_tx(
    *,
    chain_id: str,
    tx_type: str,
    org_id: str,
    payload: Any,
    key: SigningKey | Signer,
    approvers: Sequence[SigningKey | Signer] = (),
    nonce: int | None = None,
    client_time_ms: int | None = None,
) -> SignedTransaction:
    """Build and sign a transaction as given (no validation; a random 63-bit nonce unless given)."""
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


def sign_tx(
    payload: Payload | Mapping[str, Any],
    *,
    chain_id: str,
    org_id: str,
    key: SigningKey | Signer,
    tx_type: str | None = None,
    approvers: Sequence[SigningKey | Signer] = (),
    nonce: int | None = None,
    client_time_ms: int | None = None,
    transforms: Sequence[PayloadTransform] = (),
    max_tx_bytes: int | None = None,
) -> SignedTransaction:
    """Validate then sign: the typed path (`LedgerClient.sign` calls this with the client's key)."""
    tx_type, body = prepare_payload(payload, tx_type=tx_type, org_id=org_id, transforms=transforms)
    tx = build_tx(
        chain_id=chain_id,
        tx_type=tx_type,
        org_id=org_id,
        payload=body,
        key=key,
        approvers=approvers,
        nonce=nonce,
        client_time_ms=client_time_ms,
    )
    if max_tx_bytes is not None and len(tx.encode()) > max_tx_bytes:
        raise PayloadError("too_large", "", f"the signed transaction exceeds {max_tx_bytes} bytes")
    return tx
