"""Hand-made hostile request bodies (issue 18.3, RELIABILITY S9): what a generated fuzz run does not
reach. Each names the route, the body, its content type, whether it must be signed (the body is
read after a signed request's headers are checked), and the reason codes a node may answer; the
status must be a 4xx. Used in-process (tests/unit/node/api/test_bodies.py) and against a real node
process (tests/integration/test_readapi_fuzz.py)."""

from __future__ import annotations

from dataclasses import dataclass

JSON = "application/json"
RAW = "application/octet-stream"
MSGPACK = "application/msgpack"


@dataclass(frozen=True, slots=True)
class HostileBody:
    name: str
    path: str
    body: bytes
    content_type: str
    codes: frozenset[str]
    signed: bool = False


def _c(*codes: str) -> frozenset[str]:
    return frozenset(codes)


DEEP_1000 = b"[" * 1000 + b"]" * 1000
HUGE_INT = b"1" + b"9" * 5000
PERSON = "/v1/person-keys"
TOKEN = "/v1/auth/token"

HOSTILE_BODIES: tuple[HostileBody, ...] = (
    # POST /v1/tx, JSON
    HostileBody("tx-deep-1000", "/v1/tx", b'{"tx": ' + DEEP_1000 + b"}", JSON, _c("too_deep")),
    HostileBody("tx-deep-top", "/v1/tx", DEEP_1000, JSON, _c("too_deep")),
    HostileBody("tx-open-90k", "/v1/tx", b"[" * 90_000, JSON, _c("too_deep")),
    HostileBody("tx-deep-objects", "/v1/tx", b'{"a":' * 1000 + b"1" + b"}" * 1000, JSON, _c("too_deep")),
    HostileBody("tx-huge-int", "/v1/tx", b'{"tx": ' + HUGE_INT + b"}", JSON, _c("bad_json")),
    HostileBody("tx-huge-float", "/v1/tx", b'{"tx": 1e999999}', JSON, _c("bad_json")),
    HostileBody("tx-nan", "/v1/tx", b'{"tx": NaN}', JSON, _c("bad_json")),
    HostileBody("tx-invalid-utf8", "/v1/tx", b'{"tx": "\xff\xfe\xc0\xaf"}', JSON, _c("bad_json")),
    HostileBody("tx-lone-surrogate", "/v1/tx", b'{"tx": "\\ud800"}', JSON, _c("bad_json")),
    HostileBody("tx-duplicate-keys", "/v1/tx", b'{"tx": "00", "tx": "01"}', JSON, _c("duplicate_key")),
    HostileBody("tx-not-an-object", "/v1/tx", b'["00"]', JSON, _c("bad_request")),
    HostileBody("tx-null", "/v1/tx", b"null", JSON, _c("bad_request")),
    HostileBody("tx-empty-json", "/v1/tx", b"", JSON, _c("bad_json")),
    HostileBody("tx-bom", "/v1/tx", b'\xef\xbb\xbf{"tx": "00"}', JSON, _c("bad_json")),
    HostileBody("tx-text-plain", "/v1/tx", b'{"tx": "00"}', "text/plain", _c("unsupported_media_type")),
    HostileBody(
        "tx-form", "/v1/tx", b"tx=00", "application/x-www-form-urlencoded", _c("unsupported_media_type")
    ),
    HostileBody(
        "tx-multipart",
        "/v1/tx",
        b"--x\r\ncontent-disposition: form-data; name=tx\r\n\r\n00\r\n--x--\r\n",
        "multipart/form-data; boundary=x",
        _c("unsupported_media_type"),
    ),
    # POST /v1/tx, msgpack
    HostileBody("tx-msgpack-deep", "/v1/tx", b"\x91" * 5000 + b"\x00", MSGPACK, _c("malformed")),
    HostileBody("tx-msgpack-huge-array", "/v1/tx", b"\xdd\xff\xff\xff\xff", RAW, _c("malformed")),
    HostileBody("tx-msgpack-huge-str", "/v1/tx", b"\xdb\xff\xff\xff\xff", RAW, _c("malformed")),
    HostileBody("tx-msgpack-ext", "/v1/tx", b"\xd4\x01\x00", RAW, _c("malformed", "non_canonical")),
    HostileBody(
        "tx-msgpack-float",
        "/v1/tx",
        b"\xcb" + b"\x7f\xf0" + b"\x00" * 6,
        RAW,
        _c("malformed", "non_canonical"),
    ),
    # POST /v1/txs
    HostileBody("txs-deep", "/v1/txs", b"\x91" * 5000 + b"\x00", RAW, _c("bad_request")),
    HostileBody("txs-json", "/v1/txs", b'{"tx": "00"}', JSON, _c("unsupported_media_type")),
    HostileBody("txs-huge-array", "/v1/txs", b"\xdd\x7f\xff\xff\xff", RAW, _c("bad_request")),
    # POST /v1/auth/token (signed: the body is read and checked after the signature)
    HostileBody("token-deep", TOKEN, b"[" * 2000 + b"]" * 2000, JSON, _c("too_deep"), signed=True),
    HostileBody(
        "token-deep-value",
        TOKEN,
        b'{"ttl_s": ' + b"[" * 1500 + b"]" * 1500 + b"}",
        JSON,
        _c("too_deep"),
        signed=True,
    ),
    HostileBody(
        "token-duplicate-keys", TOKEN, b'{"ttl_s": 5, "ttl_s": 3600}', JSON, _c("duplicate_key"), signed=True
    ),
    HostileBody(
        "token-huge-int", TOKEN, b'{"ttl_s": ' + b"9" * 4000 + b"}", JSON, _c("bad_json"), signed=True
    ),
    HostileBody("token-huge-float", TOKEN, b'{"ttl_s": 1e400}', JSON, _c("bad_json"), signed=True),
    HostileBody("token-invalid-utf8", TOKEN, b'{"ttl_s": 5, "\xff": 1}', JSON, _c("bad_json"), signed=True),
    HostileBody("token-wrong-type", TOKEN, b'{"ttl_s": "five"}', JSON, _c("bad_request"), signed=True),
    HostileBody(
        "token-text-plain", TOKEN, b'{"ttl_s": 5}', "text/plain", _c("unsupported_media_type"), signed=True
    ),
    HostileBody("token-too-large", TOKEN, b" " * 5000, JSON, _c("too_large"), signed=True),
    # POST /v1/person-keys (signed by a node key: the body is judged before the caller's role)
    HostileBody(
        "person-keys-deep", PERSON, b'{"items": ' + DEEP_1000 + b"}", JSON, _c("too_deep"), signed=True
    ),
    HostileBody(
        "person-keys-duplicate-keys",
        PERSON,
        b'{"items": [{"id_number": "1"}], "items": []}',
        JSON,
        _c("duplicate_key"),
        signed=True,
    ),
    HostileBody(
        "person-keys-invalid-utf8",
        PERSON,
        b'{"items": [{"id_number": "\xff"}]}',
        JSON,
        _c("bad_json"),
        signed=True,
    ),
    HostileBody(
        "person-keys-huge-int", PERSON, b'{"items": ' + HUGE_INT + b"}", JSON, _c("bad_json"), signed=True
    ),
    HostileBody(
        "person-keys-msgpack",
        PERSON,
        b"\x81\xa5items\x90",
        MSGPACK,
        _c("unsupported_media_type"),
        signed=True,
    ),
)
