"""Reading request bodies: bounded in bytes before anything is parsed, one reader for every route.

Rules:

- `read_body(request, limit)`: a declared Content-Length over the limit is refused at once (413
  `too_large`), a streamed body is cut off as soon as it passes the limit; nothing is buffered
  beyond `limit` bytes.
- `read_tx_body`: a signed transaction as raw bytes (`application/octet-stream`,
  `application/msgpack`) or JSON `{"tx": "<hex>"}` (`application/json`); any other content type is
  415 `unsupported_media_type`, a malformed JSON body 400 `bad_request`.
"""

from __future__ import annotations

import json

from fastapi import Request

from node.api.errors import ApiError

RAW_TYPES = ("application/octet-stream", "application/msgpack", "application/x-msgpack")


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
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError("too_large", f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()


async def read_tx_body(request: Request, limit: int, *, json_ok: bool = True) -> bytes:
    body = await read_body(request, limit)
    ctype = content_type(request)
    if ctype == "application/json" and json_ok:
        try:
            doc = json.loads(body)
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
