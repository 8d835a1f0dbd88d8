"""Read API authentication: the signed-request scheme, replay and clock windows, tokens, revocation,
the audience (a request or token made for one node is refused by another: issue 18.1) and the rate
limits, each refusal with its own code."""

from __future__ import annotations

from typing import Any

import pytest

from client_sdk.auth import RequestSigner
from client_sdk.errors import LedgerError
from node.api.auth import UNAUTHENTICATED, Authenticator, AuthSettings
from node.api.errors import ApiError, headers_of, status_of
from wire.crypto import SigningKey

CHAIN = "auth-test"
ALICE, NODE, STRANGER = SigningKey(b"\x01" * 32), SigningKey(b"\x02" * 32), SigningKey(b"\x03" * 32)


class Clock:
    def __init__(self) -> None:
        self.ms = 1_700_000_000_000
        self.mono = 100.0


def make(
    node_id: str = "v0", clock: Clock | None = None, **settings: Any
) -> tuple[Authenticator, dict[bytes, dict[str, Any]], Clock]:
    users = {ALICE.public: {"user_id": "alice", "org_id": "cn.p1", "roles": ["operator"], "status": "ACTIVE"}}
    clock = clock or Clock()
    auth = Authenticator(
        CHAIN,
        node_id,
        users.get,
        {NODE.public: ("v0", "cn.p1.c1")}.get,
        "cn",
        AuthSettings(**settings),
        clock_ms=lambda: clock.ms,
        monotonic=lambda: clock.mono,
    )
    return auth, users, clock


def signed(
    key: SigningKey, target: str, clock: Clock, method: str = "GET", body: bytes = b"", **kw: Any
) -> dict[str, str]:
    node_id = kw.pop("node_id", "v0")
    return RequestSigner(key, CHAIN, node_id).headers(
        method, target, body, now_ms=kw.pop("now_ms", clock.ms), **kw
    )


def code(fn: Any) -> tuple[int, str]:
    with pytest.raises(ApiError) as info:
        fn()
    return status_of(info.value), info.value.code


def test_a_signed_request_names_its_caller_from_ledger_state() -> None:
    auth, _, clock = make()
    caller = auth.authenticate(
        "GET", "/v1/archives?limit=5", b"", signed(ALICE, "/v1/archives?limit=5", clock), "ip"
    )
    assert (caller.user_id, caller.org_id, caller.contents, caller.reads_blocks) == (
        "alice",
        "cn.p1",
        True,
        False,
    )
    assert caller.sees("cn.p1.c1") and not caller.sees("cn.p2") and not caller.sees("cn.p10")
    node = auth.authenticate("GET", "/v1/blocks/1", b"", signed(NODE, "/v1/blocks/1", clock), "ip")
    assert node.kind == "node" and node.reads_blocks and node.scope == ""


def test_every_refusal_has_its_code() -> None:
    auth, users, clock = make()
    t = "/v1/alerts"
    h = signed(ALICE, t, clock)
    assert code(lambda: auth.authenticate("GET", t, b"", {}, "ip")) == (401, "auth_required")
    assert code(lambda: auth.authenticate("GET", t + "?x=1", b"", h, "ip")) == (401, "bad_signature")
    assert code(lambda: auth.authenticate("POST", t, b"", h, "ip")) == (401, "bad_signature")
    assert code(lambda: auth.authenticate("GET", t, b"body", h, "ip")) == (401, "bad_signature")
    assert code(lambda: auth.authenticate("GET", t, b"", {**h, "x-orgledger-nonce": "zz"}, "ip")) == (
        401,
        "bad_auth_header",
    )
    no_audience = {k: v for k, v in signed(ALICE, t, clock).items() if k != "x-orgledger-audience"}
    assert code(lambda: auth.authenticate("GET", t, b"", no_audience, "ip")) == (401, "bad_auth_header")
    auth.authenticate("GET", t, b"", h, "ip")
    assert code(lambda: auth.authenticate("GET", t, b"", h, "ip")) == (401, "replayed_request")
    old = signed(ALICE, t, clock, now_ms=clock.ms - 31_000)
    assert code(lambda: auth.authenticate("GET", t, b"", old, "ip")) == (401, "stale_request")
    future = signed(ALICE, t, clock, now_ms=clock.ms + 31_000)
    assert code(lambda: auth.authenticate("GET", t, b"", future, "ip")) == (401, "stale_request")
    other_chain = RequestSigner(ALICE, "other", "v0").headers("GET", t, now_ms=clock.ms)
    assert code(lambda: auth.authenticate("GET", t, b"", other_chain, "ip")) == (401, "bad_signature")
    assert code(lambda: auth.authenticate("GET", t, b"", signed(STRANGER, t, clock), "ip")) == (
        401,
        "unknown_key",
    )
    users[ALICE.public]["status"] = "REVOKED"
    assert code(lambda: auth.authenticate("GET", t, b"", signed(ALICE, t, clock), "ip")) == (
        401,
        "key_revoked",
    )
    users[ALICE.public]["status"] = "ROTATED"
    assert code(lambda: auth.authenticate("GET", t, b"", signed(ALICE, t, clock), "ip")) == (
        401,
        "key_rotated",
    )


def test_a_request_signed_for_one_node_is_refused_by_another() -> None:
    """The captured request of issue 18.1: valid on node A, replayed to node B (its own nonce
    cache, so only the audience can refuse it)."""
    clock = Clock()
    a, _, _ = make("v0", clock)
    b, _, _ = make("v1", clock)
    t = "/v1/auth/token"
    captured = signed(ALICE, t, clock, "POST", b"{}", node_id="v0")
    assert a.authenticate("POST", t, b"{}", captured, "ip").user_id == "alice"
    assert code(lambda: b.authenticate("POST", t, b"{}", captured, "ip")) == (401, "wrong_audience")
    # lying about the audience does not help: the signature covers the node id
    relabelled = {**captured, "x-orgledger-audience": "v1"}
    assert code(lambda: b.authenticate("POST", t, b"{}", relabelled, "ip")) == (401, "bad_signature")
    # a refusal of the audience counts as a failed authentication of the sender's address
    assert "wrong_audience" in UNAUTHENTICATED


def test_a_token_is_bound_to_the_node_that_issued_it() -> None:
    clock = Clock()
    a, _, _ = make("v0", clock)
    b, _, _ = make("v1", clock)
    caller = a.authenticate(
        "POST", "/v1/auth/token", b"", signed(ALICE, "/v1/auth/token", clock, "POST"), "ip"
    )
    token, _ = a.issue_token(caller, 3600)
    assert token.startswith("v0~")
    bearer = {"authorization": f"Bearer {token}"}
    assert a.authenticate("GET", "/v1/x", b"", bearer, "ip").user_id == "alice"
    assert code(lambda: b.authenticate("GET", "/v1/x", b"", bearer, "ip")) == (401, "wrong_audience")


def test_the_signer_needs_an_audience() -> None:
    with pytest.raises(LedgerError):
        RequestSigner(ALICE, CHAIN).headers("GET", "/v1/x")
    assert RequestSigner(ALICE, CHAIN).headers("GET", "/v1/x", node_id="v3")["x-orgledger-audience"] == "v3"


def test_nonces_are_forgotten_only_after_the_window() -> None:
    auth, _, clock = make()
    nonce = b"\x07" * 16
    auth.authenticate("GET", "/x", b"", signed(ALICE, "/x", clock, nonce=nonce), "ip")
    clock.ms += 29_000
    clock.mono += 29.0
    # the same nonce with a new timestamp is a new signed message, but the nonce is still taken
    assert (
        code(lambda: auth.authenticate("GET", "/x", b"", signed(ALICE, "/x", clock, nonce=nonce), "ip"))[1]
        == "replayed_request"
    )
    clock.ms += 60_000
    clock.mono += 60.0
    auth.authenticate("GET", "/x", b"", signed(ALICE, "/x", clock, nonce=nonce), "ip")
    assert len(auth.nonces) == 1


def test_tokens_expire_and_follow_revocation() -> None:
    auth, users, clock = make()
    caller = auth.authenticate(
        "POST", "/v1/auth/token", b"{}", signed(ALICE, "/v1/auth/token", clock, "POST", b"{}"), "ip"
    )
    token, ttl = auth.issue_token(caller, 60)
    bearer = {"authorization": f"Bearer {token}"}
    assert auth.authenticate("GET", "/v1/x", b"", bearer, "ip").via == "token"
    assert code(lambda: auth.authenticate("GET", "/v1/x", b"", {"authorization": "Bearer nope"}, "ip")) == (
        401,
        "bad_token",
    )
    users[ALICE.public]["status"] = "REVOKED"
    assert code(lambda: auth.authenticate("GET", "/v1/x", b"", bearer, "ip")) == (401, "key_revoked")
    users[ALICE.public]["status"] = "ACTIVE"
    clock.mono += ttl + 1
    assert code(lambda: auth.authenticate("GET", "/v1/x", b"", bearer, "ip")) == (401, "token_expired")


def test_rate_limits_per_key_and_per_failing_address() -> None:
    auth, _, clock = make(rate_per_s=2.0, burst=3.0)
    for _ in range(3):
        auth.authenticate("GET", "/x", b"", signed(ALICE, "/x", clock), "ip")
    with pytest.raises(ApiError) as info:
        auth.authenticate("GET", "/x", b"", signed(ALICE, "/x", clock), "ip")
    status = status_of(info.value)
    assert (status, info.value.code, headers_of(info.value, status)["Retry-After"]) == (
        429,
        "rate_limited",
        "1",
    )
    clock.mono += 0.5
    auth.authenticate("GET", "/x", b"", signed(ALICE, "/x", clock), "ip")
    # bad signatures claiming Alice's key do not drain her bucket; they drain the sender's
    clock.mono += 10
    bad = {**signed(ALICE, "/x", clock), "x-orgledger-signature": "00" * 64}
    codes = [code(lambda: auth.authenticate("GET", "/x", b"", bad, "evil"))[1] for _ in range(150)]
    assert codes[0] == "bad_signature" and codes[-1] == "too_many_failures"
    auth.authenticate("GET", "/x", b"", signed(ALICE, "/x", clock), "ip")
