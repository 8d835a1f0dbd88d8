"""Reading request bodies: bounded in bytes before anything is parsed, one reader for every route.

Rules:

- `read_body(request, limit)`: a declared Content-Length over the limit is refused at once (413
  `too_large`), a streamed body is cut off as soon as it passes the limit; nothing is buffered
  beyond `limit` bytes. A client that goes away mid-body ends the request quietly (`ClientGone`,
  nothing in the log: its answer has no reader).
- `parse_json(body)`: the one JSON reader of the API. Strict UTF-8 (no BOM), at most
  MAX_JSON_DEPTH nested arrays and objects (`too_deep`), no duplicate object keys
  (`duplicate_key`: two readers of one body must never see two values), numbers of at most
  MAX_NUMBER_CHARS characters and no NaN or infinities, no lone surrogates in strings
  (`bad_json`); any other syntax error is `bad_json`. All 400; nothing a client sends makes the parser raise anything else.
- `read_json_body(request, limit)`: an empty body is `None`; a non-empty one must be
  `application/json` (else 415 `unsupported_media_type`) and goes through `parse_json`.
- `read_tx_body`: a signed transaction as raw bytes (`application/octet-stream`,
  `application/msgpack`) or JSON `{"tx": "<hex>"}` (`application/json`); any other content type is
  415 `unsupported_media_type`, a malformed JSON body 400. Msgpack bodies are decoded by
  `wire.codec`, whose limits (sizes, lengths, nesting) are checked before it allocates.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from fastapi import Request
from starlette.requests import ClientDisconnect

from node.api.errors import ApiError

RAW_TYPES = ("application/octet-stream", "application/msgpack", "application/x-msgpack")
JSON_TYPE = "application/json"
MAX_JSON_DEPTH = 32
MAX_NUMBER_CHARS = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


class ClientGone(ApiError):
    """The client closed the connection before its body arrived: nobody reads the answer."""

    def __init__(self) -> None:
        super().__init__("client_gone", "the client closed the connection mid-body")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise ApiError("bad_request", "invalid Content-Length") from None
        if too_big:
            raise ApiError("too_large", f"request body exceeds {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError("too_large", f"request body exceeds {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone() from None
    return b"".join(chunks)


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()


def _bad(message: str, code: str = "bad_json") -> NoReturn:
    raise ApiError(code, message)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            _bad(f"duplicate key {key[:40]!r} in a JSON object", "duplicate_key")
        out[key] = value
    return out


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        _bad(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        _bad(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    if not math.isfinite(value):
        _bad(f"the number {text[:20]} is out of range")
    return value


def _constant(name: str) -> NoReturn:
    _bad(f"{name} is not JSON")


def _check_tree(doc: Any) -> None:
    """Depth and strings of parsed JSON (iterative: no recursion on hostile input)."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                _bad("a string holds a lone surrogate (\\ud800-\\udfff): not Unicode text")
            continue
        if isinstance(value, dict):
            stack.extend((k, depth) for k in value)
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        if depth > MAX_JSON_DEPTH:
            _bad(f"JSON nested deeper than {MAX_JSON_DEPTH}", "too_deep")
        stack.extend((v, depth + 1) for v in value)


def parse_json(body: bytes) -> Any:
    """The body as JSON under the rules above, or ApiError (400) with its reason code."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        _bad(f"the body is not UTF-8 (byte {exc.start})")
    if text.startswith("\ufeff"):
        _bad("the body starts with a byte-order mark")
    try:
        doc = json.loads(
            text, object_pairs_hook=_pairs, parse_int=_int, parse_float=_float, parse_constant=_constant
        )
    except RecursionError:
        _bad(f"JSON nested deeper than {MAX_JSON_DEPTH}", "too_deep")
    except ValueError as exc:  # JSONDecodeError, int() of a long literal
        _bad(f"the body is not JSON: {str(exc)[:120]}")
    _check_tree(doc)
    return doc


async def read_json_body(request: Request, limit: int) -> Any:
    """The JSON body (None when empty) of a route that takes JSON only."""
    return json_of(request, await read_body(request, limit))


def json_of(request: Request, body: bytes) -> Any:
    """`body` (already read) as JSON: None when empty, 415 unless it is `application/json`."""
    if not body:
        return None
    if content_type(request) != JSON_TYPE:
        raise ApiError("unsupported_media_type", "send the body as application/json")
    return parse_json(body)


async def read_tx_body(request: Request, limit: int, *, json_ok: bool = True) -> bytes:
    body = await read_body(request, limit)
    ctype = content_type(request)
    if ctype == JSON_TYPE and json_ok:
        doc = parse_json(body)
        try:
            return bytes.fromhex(doc["tx"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(
                "bad_request", 'JSON body must be {"tx": "<hex of the signed transaction>"}'
            ) from None
    if ctype in RAW_TYPES:
        return body
    raise ApiError(
        "unsupported_media_type", "send application/octet-stream (msgpack bytes) or application/json"
    )
