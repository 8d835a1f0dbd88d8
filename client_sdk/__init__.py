"""The library integrating systems and auditors use: typed transaction builders, signing, the
synchronous and asyncio clients, event streaming, and verification of certificates, proofs,
proof bundles and every read (state proofs against certified roots). Imports only `wire` of the
project. Guide: docs/sdk.md.

    from client_sdk import LedgerClient, builders as b
    with LedgerClient("http://127.0.0.1:28005", ".devnet/genesis.json", key="my.key") as client:
        done = client.submit(b.ArchiveCreate(person_key=pk, key_version=1, id_check_ok=True,
                                             birth_date="1990-01-01"))
"""

from client_sdk import builders
from client_sdk.aio import AsyncLedgerClient
from client_sdk.client import LedgerClient
from client_sdk.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    CertificateError,
    CommitTimeoutError,
    ForbiddenError,
    HeightNotReachedError,
    LedgerError,
    NotFoundError,
    PayloadError,
    RateLimitedError,
    TransportError,
    TxRejectedError,
    UnavailableError,
    VerificationError,
)
from client_sdk.models import Committed, Event, History, Page, Record
from client_sdk.proofs import check_bundle
from client_sdk.tx import Payload, PayloadTransform, build_tx, sign_tx

__all__ = [
    "ApiError",
    "AsyncLedgerClient",
    "AuthenticationError",
    "BadRequestError",
    "CertificateError",
    "CommitTimeoutError",
    "Committed",
    "Event",
    "ForbiddenError",
    "HeightNotReachedError",
    "History",
    "LedgerClient",
    "LedgerError",
    "NotFoundError",
    "Page",
    "Payload",
    "PayloadError",
    "PayloadTransform",
    "RateLimitedError",
    "Record",
    "TransportError",
    "TxRejectedError",
    "UnavailableError",
    "VerificationError",
    "build_tx",
    "builders",
    "check_bundle",
    "sign_tx",
]
