"""The read routes' shared parameters and page cursors.

Rules: pages are `limit` 1..LIMIT_MAX (default LIMIT_DEFAULT), ordered by id; `next_cursor` is an
opaque token naming the family and the last id, refused (400 `bad_cursor`) on another endpoint.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated

from fastapi import Path, Query

from node.api.errors import ApiError

LIMIT_DEFAULT, LIMIT_MAX = 50, 500
ID_MAX = 512

MinHeight = Annotated[int | None, Query(ge=0, description="answer only at this height or above")]
Limit = Annotated[int, Query(ge=1, le=LIMIT_MAX, description="page size")]
Cursor = Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")]
OrgQ = Annotated[str | None, Query(max_length=200, description="only this org (default: your whole subtree)")]
Subtree = Annotated[bool, Query(description="with org_id: include its subtree")]
Str64 = Annotated[str | None, Query(max_length=64)]
Day = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
Prove = Annotated[bool, Query(description="add the proof of the answer against a certified state root")]
RecordId = Annotated[str, Path(min_length=1, max_length=ID_MAX, description="the record id (%2F for /)")]


def encode_cursor(family: str, after: str) -> str:
    raw = json.dumps({"v": 1, "f": family, "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(family: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if (
            isinstance(doc, dict)
            and doc.get("v") == 1
            and doc.get("f") == family
            and isinstance(doc.get("a"), str)
        ):
            return str(doc["a"])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise ApiError("bad_cursor", "cursor is not one this endpoint issued")
