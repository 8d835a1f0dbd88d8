"""Who is asking: request signatures, tokens, replay protection and rate limits of the read API.

Rules (the scheme itself is defined in `wire/reqsign.py` and docs/api.md):

- A request carries either the five `X-Orgledger-*` headers of a signed request or
  `Authorization: Bearer <token>`. Checks, in order: headers well formed; the audience is this
  node (`wrong_audience` otherwise: a request signed for another node is never accepted here);
  timestamp within `window_ms` of the node's clock; signature valid over this node's chain id
  and node id; nonce unseen for that key (kept until the timestamp could no longer pass); key
  known. Each failure is 401 with its own code.
- Tokens are bound to the node that issued them: `<node id>~<random>`, kept in this node's
  memory; another node's token is refused with `wrong_audience`, an unknown one with `bad_token`.
- The caller's org and roles come from ledger state (`user/<pubkey>`) at every request, tokens
  included, so a revocation or role change applies to the next request. Only ACTIVE keys pass.
  A node key in force (`nodekey/<pubkey>` ACTIVE in the ledger: a genesis node's, an added
  node's from its epoch, a rotated-in key; the rule is `wire.nodekeys.node_in_force`, which the
  SDK applies to the proven record too) reads as the node (root scope, `wire.nodekeys.NODE_SCOPE`,
  for operations: it holds the ledger anyway); a removed node's key or a rotated-out one does not.
- Rate limits: a token bucket per authenticated key (429 `rate_limited` with Retry-After), and
  one per remote address for failed attempts (429 `too_many_failures`), so a flood of bad
  signatures costs bounded CPU and cannot drain an honest key's bucket.
- Every structure is bounded: the nonce cache, the token table, the buckets.
- A route dependency that authenticates is marked `@authenticates`; the OpenAPI document lists
  `SECURITY_SCHEMES` on every route that depends on one (`node/api/app.py`), so no per-request
  dependency of FastAPI's security classes is needed to document it.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from node.api.errors import ApiError
from node.api.ratelimit import TokenBucket
from node.config import ApiSettings
from node.errors import BusyError
from wire.crypto import Domain, sha256, verify
from wire.nodekeys import NODE_SCOPE
from wire.reqsign import (
    AUDIENCE_MAX,
    H_AUDIENCE,
    H_KEY,
    H_NONCE,
    H_SIG,
    H_TIME,
    NONCE_MAX,
    NONCE_MIN,
    request_message,
)

# the refusals that count as a failed authentication (rate-limited per remote address)
UNAUTHENTICATED = frozenset(
    {
        "auth_required",
        "bad_auth_header",
        "wrong_audience",
        "stale_request",
        "bad_signature",
        "replayed_request",
        "unknown_key",
        "key_revoked",
        "key_rotated",
        "bad_token",
        "token_expired",
    }
)
CONTENT_ROLES = frozenset({"admin", "operator", "approver", "integration", "node"})
READ_ROLES = CONTENT_ROLES | {"auditor"}
BLOCK_ROLES = frozenset({"admin", "auditor", "node"})

TOKEN_TTL_DEFAULT_S, TOKEN_TTL_MAX_S = 300, 3600
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Orgledger-Signature"},
    "HTTPBearer": {"type": "http", "scheme": "bearer"},
}
_MARK = "__orgledger_authenticates__"
F = TypeVar("F", bound=Callable[..., Any])


def authenticates(fn: F) -> F:
    """Mark a route dependency that authenticates its caller (a request signature or a token)."""
    setattr(fn, _MARK, True)
    return fn


def is_authenticating(call: object) -> bool:
    """Whether `call` (a function or a bound method) was marked with `authenticates`."""
    return bool(getattr(call, _MARK, False))


TOKEN_SEP = "~"  # never in a node id (wire/genesis.py) nor in token_urlsafe's alphabet


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: its key, org (the root of what it may read) and roles."""

    pubkey: bytes
    kind: str  # user | node
    user_id: str
    org_id: str
    roles: frozenset[str]
    via: str  # signature | token
    root_org: str

    @property
    def contents(self) -> bool:
        """May read record contents (else only hashes, receipts and alerts: auditors)."""
        return bool(self.roles & CONTENT_ROLES)

    @property
    def can_read(self) -> bool:
        return bool(self.roles & READ_ROLES)

    @property
    def scope(self) -> str:
        """The root of the caller's subtree ("" = the whole tree; a node key's: `NODE_SCOPE`)."""
        if self.kind == "node":
            return NODE_SCOPE
        return "" if self.org_id == self.root_org else self.org_id

    def sees(self, org_id: str | None) -> bool:
        if org_id is None:
            return False
        s = self.scope
        return s == "" or org_id == s or org_id.startswith(s + ".")

    @property
    def reads_blocks(self) -> bool:
        """Whole blocks (every transaction's contents): root-org admins and auditors, node keys."""
        return self.org_id == self.root_org and bool(self.roles & BLOCK_ROLES)

    def describe(self) -> dict[str, Any]:
        return {
            "pubkey": self.pubkey.hex(),
            "kind": self.kind,
            "user_id": self.user_id,
            "org_id": self.org_id,
            "roles": sorted(self.roles),
            "via": self.via,
            "contents": self.contents,
            "reads_blocks": self.reads_blocks,
        }


class NonceCache:
    """Seen (key, nonce) pairs until their timestamp can no longer pass the window."""

    def __init__(self, max_entries: int = 500_000) -> None:
        self.max_entries = max_entries
        self._seen: dict[tuple[bytes, bytes], float] = {}
        self._order: deque[tuple[float, tuple[bytes, bytes]]] = deque()

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, pubkey: bytes, nonce: bytes, expires: float, now: float) -> bool:
        """False when the pair was seen (a replay); raises BusyError when the cache is full."""
        while self._order and self._order[0][0] <= now:
            _, k = self._order.popleft()
            if self._seen.get(k, math.inf) <= now:
                del self._seen[k]
        key = (pubkey, nonce)
        if key in self._seen:
            return False
        if len(self._seen) >= self.max_entries:
            raise BusyError("too many requests in flight; retry shortly")
        self._seen[key] = expires
        self._order.append((expires, key))
        return True


@dataclass(frozen=True, slots=True)
class AuthSettings:
    window_ms: int = 30_000
    rate_per_s: float = 500.0
    burst: float = 1000.0
    failures_per_s: float = 20.0
    failures_burst: float = 100.0
    max_tokens: int = 100_000
    tokens_per_key: int = 32

    @classmethod
    def from_config(cls, api: ApiSettings) -> AuthSettings:
        """node.toml's `[api]` table: rate_per_s, burst, window_ms."""
        return cls(window_ms=api.window_ms, rate_per_s=api.rate_per_s, burst=api.burst)


class Authenticator:
    def __init__(
        self,
        chain_id: str,
        node_id: str,
        lookup_user: Callable[[bytes], dict[str, Any] | None],
        lookup_node: Callable[[bytes], tuple[str, str] | None],
        root_org: str,
        settings: AuthSettings = AuthSettings(),
        *,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chain_id, self.node_id = chain_id, node_id
        self.lookup_user = lookup_user
        self.lookup_node = lookup_node  # a node key in force -> (node id, org id)
        self.root_org = root_org
        self.settings = settings
        self.clock_ms, self.monotonic = clock_ms, monotonic
        self.nonces = NonceCache()
        self.buckets = TokenBucket(settings.rate_per_s, settings.burst)
        self.failures = TokenBucket(settings.failures_per_s, settings.failures_burst, max_names=10_000)
        self._tokens: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    # ------------------------------------------------------------------ entry point
    def authenticate(
        self, method: str, target: str, body: bytes, headers: Mapping[str, str], remote: str
    ) -> Caller:
        try:
            auth = headers.get("authorization")
            if auth is not None and auth[:7].lower() == "bearer ":
                caller = self._token(auth[7:].strip())
            elif H_SIG in headers or H_KEY in headers:
                caller = self._signed(method, target, body, headers)
            else:
                raise ApiError(
                    "auth_required",
                    "sign the request (X-Orgledger-* headers) or send a token (Authorization: Bearer)",
                )
        except ApiError as exc:
            if exc.code in UNAUTHENTICATED:
                wait = self.failures.take(remote, self.monotonic())
                if wait > 0:
                    raise _too_many("too_many_failures", "too many failed authentications", wait) from None
            raise
        wait = self.buckets.take(caller.pubkey, self.monotonic())
        if wait > 0:
            raise _too_many("rate_limited", "request rate limit of this key exceeded", wait)
        return caller

    # ------------------------------------------------------------------ signed requests
    def _signed(self, method: str, target: str, body: bytes, headers: Mapping[str, str]) -> Caller:
        try:
            pubkey = bytes.fromhex(headers.get(H_KEY, ""))
            ts = int(headers.get(H_TIME, ""))
            nonce = bytes.fromhex(headers.get(H_NONCE, ""))
            sig = bytes.fromhex(headers.get(H_SIG, ""))
        except ValueError:
            raise ApiError("bad_auth_header", "malformed X-Orgledger-* headers") from None
        if len(pubkey) != 32 or len(sig) != 64 or not NONCE_MIN <= len(nonce) <= NONCE_MAX or ts < 0:
            raise ApiError("bad_auth_header", "malformed X-Orgledger-* headers")
        audience = headers.get(H_AUDIENCE)
        if audience is None:
            raise ApiError(
                "bad_auth_header",
                "no X-Orgledger-Audience: sign the request for this node (node_id of GET /v1/status)",
            )
        if audience != self.node_id:
            raise ApiError(
                "wrong_audience",
                f"the request was signed for node {audience[:AUDIENCE_MAX]!r}; this is node {self.node_id!r}",
            )
        now = self.clock_ms()
        window = self.settings.window_ms
        if abs(now - ts) > window:
            raise ApiError(
                "stale_request", f"request time is more than {window} ms away from the node's clock"
            )
        msg = request_message(self.chain_id, self.node_id, method, target, sha256(body), ts, nonce, pubkey)
        if not verify(Domain.API_REQUEST, self.chain_id, pubkey, msg, sig):
            raise ApiError("bad_signature", "the request signature does not verify")
        mono = self.monotonic()
        if not self.nonces.add(pubkey, nonce, mono + (ts + window - now) / 1000 + 1, mono):
            raise ApiError("replayed_request", "this nonce was already used")
        return self.identify(pubkey, "signature")

    def identify(self, pubkey: bytes, via: str) -> Caller:
        node = self.lookup_node(pubkey)
        if node is not None:
            return Caller(
                pubkey, "node", f"node:{node[0]}", self.root_org, frozenset({"node"}), via, self.root_org
            )
        rec = self.lookup_user(pubkey)
        if rec is None:
            raise ApiError("unknown_key", "this key is not registered on the ledger")
        status = rec.get("status")
        if status == "REVOKED":
            raise ApiError("key_revoked", "this key was revoked")
        if status != "ACTIVE":
            raise ApiError("key_rotated", "this key was replaced by a rotation")
        roles = frozenset(r for r in rec.get("roles", []) if isinstance(r, str))
        return Caller(
            pubkey, "user", str(rec.get("user_id", "")), str(rec.get("org_id", "")), roles, via, self.root_org
        )

    # ------------------------------------------------------------------ tokens
    def issue_token(self, caller: Caller, ttl_s: int) -> tuple[str, int]:
        ttl_s = max(1, min(ttl_s, TOKEN_TTL_MAX_S))
        now = self.monotonic()
        self._purge_tokens(now)
        mine = [t for t, (k, _) in self._tokens.items() if k == caller.pubkey]
        for t in mine[: max(0, len(mine) - self.settings.tokens_per_key + 1)]:
            del self._tokens[t]
        if len(self._tokens) >= self.settings.max_tokens:
            raise BusyError("too many live tokens on this node")
        token = f"{self.node_id}{TOKEN_SEP}{secrets.token_urlsafe(32)}"
        self._tokens[token] = (caller.pubkey, now + ttl_s)
        return token, ttl_s

    def _purge_tokens(self, now: float) -> None:
        for t in [t for t, (_, exp) in self._tokens.items() if exp <= now]:
            del self._tokens[t]

    def _token(self, token: str) -> Caller:
        entry = self._tokens.get(token)
        if entry is None:
            issuer = token.partition(TOKEN_SEP)[0] if TOKEN_SEP in token else None
            if issuer is not None and issuer != self.node_id:
                raise ApiError(
                    "wrong_audience",
                    f"this token was issued by node {issuer[:AUDIENCE_MAX]!r}; this is node {self.node_id!r}",
                )
            raise ApiError("bad_token", "unknown token (tokens live in one node's memory)")
        pubkey, expires = entry
        if expires <= self.monotonic():
            del self._tokens[token]
            raise ApiError("token_expired", "the token expired; get a new one")
        return self.identify(pubkey, "token")


def _too_many(code: str, message: str, wait: float) -> ApiError:
    return ApiError(code, message, retry_after_s=wait)
