"""The privacy routes: person keys, org key chains, re-sealed data keys and the access log
(docs/privacy.md; the rules of each are in `node/privacy/service.py`).
"""

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts import keys as state_keys
from node.api.auth import Caller
from node.api.body import json_of
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.privacy.personkeys import KeyRequest
from node.privacy.recorder import read_state
from node.privacy.service import PERSON_KEY_BATCH_MAX, PERSON_KEY_ROLES, Privacy
from wire import codec
from wire.families import prefix_end
from wire.hexid import parse_hex_id

PERSON_KEY_BODY_MAX = 32 * 1024


class PersonKeyItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=128)
    birth_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class PersonKeysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[PersonKeyItem] = Field(min_length=1, max_length=PERSON_KEY_BATCH_MAX)
    all_versions: bool = False


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad request"},
    401: {"description": "not authenticated"},
    403: {"description": "the caller's role may not do this"},
    404: {"description": "absent or outside the caller's subtree"},
    413: {"description": "body too large"},
    429: {"description": "rate limited"},
    503: {"description": "not available right now"},
}
PERSON_KEYS_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PersonKeysIn.model_json_schema()}},
    }
}


def build_router(privacy: Privacy, ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["privacy"], responses=_ERRORS)
    Auth = Annotated[Caller, Depends(ctx.authn)]
    BodyAuth = Annotated[Caller, Depends(privacy.body_authn(ctx, PERSON_KEY_BODY_MAX))]

    @router.post("/v1/person-keys", openapi_extra=PERSON_KEYS_BODY)
    async def person_keys(request: Request, caller: BodyAuth) -> JSONResponse:
        """Person keys (and name keys) for a batch of ID numbers; the numbers are never echoed."""
        service = privacy.person_keys
        doc = json_of(request, request.state.body)
        if caller.kind != "user" or not caller.roles & PERSON_KEY_ROLES:
            raise ApiError("forbidden", "person keys are for operators, admins and integration accounts")
        if service is None:
            raise ApiError("person_keys_unavailable", "this node holds no person-key secret")
        try:
            body = PersonKeysIn.model_validate({} if doc is None else doc)
        except ValidationError:
            raise ApiError(
                "bad_request",
                f'body must be {{"items": [{{"id_number", "name"?, "birth_date"?}}] (1..{PERSON_KEY_BATCH_MAX}), '
                '"all_versions"?}',
            ) from None
        wait = privacy.id_bucket.take(caller.pubkey, time.monotonic(), len(body.items))
        if wait > 0:
            raise ApiError(
                "rate_limited", "person-key rate limit of this key exceeded", retry_after_s=wait + 1
            )
        reqs = [KeyRequest(i.id_number, i.name, i.birth_date) for i in body.items]
        items = await asyncio.to_thread(service.compute, reqs, all_versions=body.all_versions)
        good = [i for i in items if i["ok"]]
        privacy.m_person_keys.labels(result="ok").inc(len(good))
        privacy.m_person_keys.labels(result="invalid").inc(len(items) - len(good))
        privacy.recorder.log_read(
            request,
            caller,
            "person_key",
            [i["keys"][0]["person_key"] for i in good],
            [],
            ctx.chain.height(),
            outcome="person_keys",
            masked=[i["masked"] for i in items],
        )
        return JSONResponse(
            {"height": ctx.chain.height(), "key_version": service.secrets.current, "items": items}
        )

    @router.get("/v1/enc-keys/{org_id}")
    def enc_keys(org_id: str, caller: Auth) -> dict[str, Any]:
        """The org's and every ancestor's current encryption key, each with its origin: genesis,
        or the proof of the transaction that set it (verify it against your genesis)."""
        if len(org_id) > 200 or not caller.sees(org_id):
            raise ApiError("not_found", "no organisation with this id in your scope")
        chain = privacy.key_chain(org_id)
        return {"height": ctx.chain.height(), "org_id": org_id, "chain": chain}

    @router.get("/v1/seals/{envelope}")
    def seals(envelope: str, caller: Auth) -> dict[str, Any]:
        """Data keys of an envelope re-sealed (privacy.reseal) to orgs of your subtree."""
        parse_hex_id(envelope, "an envelope id")
        if not caller.contents:
            raise ApiError("forbidden", "auditors read hashes, not keys")
        start = state_keys.seal(envelope).encode()
        items = []
        for _, raw in ctx.store.state_scan(start, prefix_end(start)):
            doc = codec.decode(raw)
            if isinstance(doc, dict) and caller.sees(str(doc.get("org_id"))):
                items.append(doc)
        return {"height": ctx.chain.height(), "envelope": envelope, "items": items}

    def _root_reader(caller: Caller) -> None:
        if not caller.reads_blocks:
            raise ApiError("forbidden", "the access log is for root-org admins and auditors and node keys")

    @router.get("/v1/access-log/segments")
    def log_segments(caller: Auth) -> dict[str, Any]:
        """This node's access-log segments (closed ones by number) and the open one's line count."""
        _root_reader(caller)
        lg = privacy.log
        return {
            "height": ctx.chain.height(),
            "node_id": privacy.node_id,
            "segments": lg.closed_segments(),
            "current_lines": lg.current_lines,
        }

    @router.get("/v1/access-log/segments/{number}", response_class=Response)
    def log_segment(number: str, caller: Auth) -> Response:
        """One segment's exact bytes (JSON lines); `current` for the open one."""
        _root_reader(caller)
        if number != "current" and not (number.isascii() and number.isdigit() and len(number) <= 12):
            raise ApiError("bad_id", "a segment is a number or `current`")
        try:
            data = privacy.log.segment_bytes_of(None if number == "current" else int(number))
        except FileNotFoundError:
            raise ApiError("not_found", "no such segment") from None
        return Response(content=data, media_type="application/x-ndjson")

    @router.get("/v1/access-log/anchors")
    def log_anchors(
        caller: Auth, node_id: Annotated[str | None, Query(max_length=64)] = None
    ) -> dict[str, Any]:
        """The anchors of a node's access log on the ledger (default: this node's)."""
        _root_reader(caller)
        nid = node_id or privacy.node_id
        start = (state_keys.access_head(nid) + "/").encode()
        anchors = []
        for _, raw in ctx.store.state_scan(start, prefix_end(start)):
            doc = codec.decode(raw)
            if isinstance(doc, dict):
                anchors.append(doc)
        head = read_state(ctx.store, state_keys.access_head(nid))
        return {"height": ctx.chain.height(), "node_id": nid, "head": head, "anchors": anchors}

    return router
