"""Response models of the read API (the OpenAPI document; docs/api.md explains each field)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(description="stable reason code, e.g. not_found, bad_signature, height_not_reached")
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody
    height: int | None = Field(None, description="the node's height when it answered")


class RecordOut(BaseModel):
    family: str = Field(
        description="archive, archive_version, material, pipeline, pipeline_step, transfer, ..."
    )
    id: str
    org_id: str = Field(description="the owning org (receiving org for transfer_in, acting org for steps)")
    other_org_id: str | None = Field(None, description="transfers: the receiving org")
    parent_id: str | None = Field(
        None, description="versions, steps, transfer-in records: the head record's id"
    )
    person_key: str | None = None
    status: str | None = None
    kind: str | None = Field(
        None, description="doc_type, meeting_type, category, step, rule id, ... by family"
    )
    colour: str | None = None
    day: str | None = Field(None, description="the family's main date (YYYY-MM-DD)")
    state_key: str = Field(description="the ledger state key of the record")
    value_hash: str = Field(description="SHA-256 (hex) of the record's stored bytes")
    updated_height: int | None = Field(
        None, description="index rows: the height at which the row last changed"
    )
    record: dict[str, Any] | None = Field(
        None, description="the record; null for callers who see hashes only"
    )


class RecordOne(BaseModel):
    height: int
    item: RecordOut


class RecordPage(BaseModel):
    height: int = Field(description="the ledger height this page reflects")
    items: list[RecordOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last")


class HistoryOut(BaseModel):
    height: int
    person_key: str
    items: list[RecordOut]
    truncated: bool


class OrgOut(BaseModel):
    org_id: str
    parent: str | None
    level: str
    name: str
    depth: int
    value_hash: str
    record: dict[str, Any]


class OrgOne(BaseModel):
    height: int
    item: OrgOut


class OrgPage(BaseModel):
    height: int
    items: list[OrgOut]
    next_cursor: str | None = None


class UserOut(BaseModel):
    pubkey: str
    user_id: str
    org_id: str
    status: str
    roles: list[str]
    value_hash: str
    record: dict[str, Any]


class UserOne(BaseModel):
    height: int
    item: UserOut


class UserPage(BaseModel):
    height: int
    items: list[UserOut]
    next_cursor: str | None = None


class CallerOut(BaseModel):
    height: int
    pubkey: str
    kind: str = Field(description="user or node")
    user_id: str
    org_id: str
    roles: list[str]
    via: str = Field(description="signature or token")
    contents: bool = Field(description="may read record contents (false: hashes, receipts and alerts only)")
    reads_blocks: bool


class TokenIn(BaseModel):
    ttl_s: int = Field(300, ge=1, le=3600, description="lifetime in seconds")


class TokenOut(BaseModel):
    height: int
    token: str = Field(description="send as `Authorization: Bearer <token>` to this node")
    expires_in_s: int


class TxOut(BaseModel):
    height: int
    tx_id: str
    status: str = Field(description="pending, committed or rejected")
    org_id: str | None = None
    tx_type: str | None = None
    block_height: int | None = None
    index: int | None = None
    receipt: dict[str, Any] | None = None
    tx_bytes: str | None = Field(None, description="the signed transaction (callers who read contents)")
    tx_leaf_hash: str | None = Field(None, description="RFC 6962 leaf hash of the transaction in tx_root")
    tx_proof: list[str] | None = Field(None, description="inclusion path of the leaf in the block's tx_root")
    tx_count: int | None = None


class HeaderOut(BaseModel):
    height: int
    block_height: int
    block_hash: str
    header: dict[str, Any]
    header_bytes: str
    certificate: dict[str, Any]
    certificate_bytes: str


class BlockOut(BaseModel):
    height: int
    block_height: int
    block_hash: str
    header: dict[str, Any]
    txs: list[str]
    certificate: dict[str, Any]
    block_bytes: str
    certificate_bytes: str


class ReceiptsOut(BaseModel):
    height: int
    block_height: int
    receipts: list[dict[str, Any]]


class HealthOut(BaseModel):
    ok: bool
    height: int
    peers: int


class ReasonOut(BaseModel):
    code: str
    message: str


class ReadyOut(BaseModel):
    ready: bool
    reasons: list[ReasonOut]
    height: int
    best_known_height: int
    reported_height: int = 0
    validators_connected: int
    quorum: int
    indexed_height: int


class MempoolOut(BaseModel):
    txs: int
    bytes: int


class StatusOut(BaseModel):
    node_id: str
    org_id: str
    role: str
    chain_id: str
    genesis_hash: str
    height: int
    last_block_hash: str
    state_root: str
    view: int
    view_active: bool = Field(description="false while this node waits for the NEW-VIEW of its view")
    view_following: bool = Field(
        description="true while it follows the network's view below one it announced (it does not vote there)"
    )
    validator_index: int | None
    peers: list[str]
    mempool: MempoolOut
    indexed_height: int = Field(description="the height the read index reflects (-1: not built yet)")
    uptime_s: float


class SubmitOut(BaseModel):
    tx_id: str
    status: str = Field(description="pending, or committed/rejected when it is already in the ledger")
    height: int
    block_height: int | None = None
    index: int | None = None
    receipt: dict[str, Any] | None = None


SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["tx"],
                    "properties": {"tx": {"type": "string", "description": "hex of the signed transaction"}},
                }
            },
        },
    }
}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "bad parameter (bad_request, bad_cursor, bad_id, ...)"},
    401: {
        "model": ErrorOut,
        "description": "no or invalid authentication (auth_required, bad_signature, ...)",
    },
    403: {"model": ErrorOut, "description": "the caller's role may not read this (forbidden)"},
    404: {"model": ErrorOut, "description": "absent or outside the caller's subtree (not_found)"},
    409: {"model": ErrorOut, "description": "min_height not reached in time (height_not_reached)"},
    413: {"model": ErrorOut, "description": "request body too large (too_large)"},
    429: {
        "model": ErrorOut,
        "description": "rate limited (rate_limited, too_many_failures); see Retry-After",
    },
    503: {"model": ErrorOut, "description": "the node or its index cannot serve right now"},
}
"""The errors every authenticated read route may answer (OpenAPI)."""
