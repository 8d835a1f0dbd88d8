"""`LedgerClient`: the synchronous client (httpx). `client_sdk.aio.AsyncLedgerClient` has the same
surface with `await`. Guide and examples: docs/sdk.md.

Rules:

- `submit` returns only when the transaction is committed and its block's commit certificate and
  its inclusion proof (and, by default, its receipt's proof) verify against the validator set of
  the genesis the client holds; a contracts rejection raises TxRejectedError with the rule and
  reason; no verified answer in time raises CommitTimeoutError (outcome unknown: submitting the
  same signed transaction again is safe, it is applied at most once). The logic is `client_sdk.core`.
- Payloads are validated against the node's schema before anything is signed (`client_sdk.tx`).
- Every read is signed with the client's key (`client_sdk.auth`) and, unless
  `verify_reads=False`, asks for its proof and returns only what the proof establishes against
  a certified state root (`client_sdk.readcore`; docs/sdk.md "How reads are verified"): what
  does not verify raises VerificationError. With `read_your_writes` (the default) reads carry
  `min_height` = the highest height this client has seen (its own commits and answers), so a
  client never reads older state than it already saw or wrote.
- Lists are iterators over the read API's cursor pages; `page()` returns one page.
- `events()` follows committed blocks and new alerts, reconnecting and resuming after failures.
- The class is assembled from one module per job: `client_sdk.clientbase` (what both clients
  share), `client_sdk.sync_http` (connection, flow driver, identity), `client_sdk.sync_submit`
  (transactions, proofs, blocks), `client_sdk.sync_reads` (records, pagination, orgs, users),
  `client_sdk.sync_events` (the event stream). The names other modules import from here
  (`LedgerClient`, `build_tx`, `ClientBase`, `KeyLike`, ...) are re-exported.
"""

from __future__ import annotations

from client_sdk.clientbase import EVENTS_READ_TIMEOUT_S as EVENTS_READ_TIMEOUT_S
from client_sdk.clientbase import RECONNECT_FIRST_S as RECONNECT_FIRST_S
from client_sdk.clientbase import RECONNECT_MAX_S as RECONNECT_MAX_S
from client_sdk.clientbase import ClientBase as ClientBase
from client_sdk.clientbase import KeyLike as KeyLike
from client_sdk.clientbase import load_genesis as load_genesis
from client_sdk.clientbase import load_key as load_key
from client_sdk.models import Committed
from client_sdk.sync_events import EventMethods
from client_sdk.sync_reads import ReadMethods
from client_sdk.sync_submit import SubmitMethods
from client_sdk.tx import build_tx


class LedgerClient(SubmitMethods, ReadMethods, EventMethods):
    """A synchronous client of one node.

    `genesis` is the network's genesis (a `Genesis` or the path of genesis.json): everything the
    node serves is verified against its validator set. `key` (a key, or the path of a key file)
    signs requests and, by default, transactions. `auth` replaces request signing (e.g.
    `client_sdk.auth.BearerAuth(token)`). `verify_reads=False` takes reads on the node's word
    (no proofs asked; docs/sdk.md says what is then trusted); `verify_events=False` does not
    check events. `transport` replaces httpx's (tests, proxies). `ca_file` (the network CA's
    certificate, `tls/ca.crt` of the network directory) makes the client speak HTTPS trusting
    only that CA; `client_cert=(cert_file, key_file)` presents a client certificate to a node
    that asks for one (`client_sdk.tls`)."""

    def __enter__(self) -> LedgerClient:
        return self


__all__ = ["Committed", "LedgerClient", "build_tx"]
