"""Whole-state and configuration reads, proven: the rule configuration, and the state in chunks at a
certified height (what a joining node fetches over the peer links, for operators and auditors).

Rules:

- `GET /v1/config` (any authenticated caller): the global rule configuration (`cfg/g/...`) and,
  with `org_id` in the caller's scope, that org's overrides (`cfg/o/<org>/...`), as key -> value,
  each range proven complete (`proof=true`).
- `GET /v1/state/snapshot` (whole-chain readers: root-org admins and auditors, node keys): the
  newest provable height and its state root with the anchor that certifies it; `GET
  /v1/state/chunks?height=&after=&limit=`: consecutive entries (key and value, hex) of the state at
  that height after `after`, with the proof that no entry between the chunk's bounds is left out.
  A height whose map is pruned is 503.
"""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from node.api.auth import Caller
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.models import READ_ERRORS
from node.api.params import MinHeight, OrgQ, Prove
from node.api.proven import ProofBuilder
from wire.families import prefix_end
from wire.hexid import parse_hex
from wire.records import body_json, decode_value

CHUNK_DEFAULT, CHUNK_MAX = 1000, 5000


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(responses=READ_ERRORS, tags=["state"])
    Auth = Annotated[Caller, Depends(ctx.authn)]

    @router.get("/v1/config")
    async def config(
        caller: Auth, org_id: OrgQ = None, min_height: MinHeight = None, proof: Prove = False
    ) -> JSONResponse:
        """The rule configuration in force: global keys, and an org's overrides with `org_id`."""
        ctx.scope_org(caller, org_id)
        await ctx.wait_provable(min_height)
        ranges = [b"cfg/g/"] + ([f"cfg/o/{org_id}/".encode()] if org_id is not None else [])
        with ctx.proven() as view:
            b = ProofBuilder()
            out: dict[str, Any] = {}
            for prefix in ranges:
                entries, more = view.scan(b, prefix, prefix_end(prefix), CHUNK_MAX)
                if more:
                    raise ApiError("too_large", "the configuration has more entries than one answer holds")
                for key, value in entries:
                    doc = decode_value(value)
                    out[key.decode("utf-8", "replace")] = {
                        "value": json.loads(body_json(doc)) if doc is not None else None,
                        "bytes": value.hex(),
                    }
            answer: dict[str, Any] = {
                "height": view.reflects,
                "org_id": org_id,
                "entries": out,
                "complete": True,
            }
            if proof:
                answer["proof"] = view.proof_json(b, {})
        return JSONResponse(answer)

    def require_whole(caller: Caller) -> None:
        if not caller.reads_blocks:
            raise ApiError("forbidden", "the whole state is for root-org admins and auditors and node keys")

    @router.get("/v1/state/snapshot")
    async def snapshot(caller: Auth) -> JSONResponse:
        """The newest provable state height, its root and the anchor that certifies it."""
        require_whole(caller)
        with ctx.proven() as view:
            doc = view.proof_json(ProofBuilder(), {})
        del doc["keys"], doc["ranges"], doc["nodes"]
        return JSONResponse({"height": view.reflects, "snapshot": doc})

    @router.get("/v1/state/chunks")
    async def chunks(
        caller: Auth,
        height: Annotated[int, Query(ge=0, le=2**62, description="the snapshot height")],
        after: Annotated[str, Query(max_length=8192, description="hex key: the chunk starts after it")] = "",
        limit: Annotated[int, Query(ge=1, le=CHUNK_MAX)] = CHUNK_DEFAULT,
    ) -> JSONResponse:
        """Consecutive state entries at `height`, proven complete between their bounds."""
        require_whole(caller)
        lo = parse_hex(after, "after") + b"\x00" if after else b""
        with ctx.proven(height) as view:
            b = ProofBuilder()
            entries, more = view.scan(b, lo, None, limit)
            doc = view.proof_json(b, {})
        return JSONResponse(
            {
                "height": height,
                "entries": [[k.hex(), v.hex()] for k, v in entries],
                "next_after": entries[-1][0].hex() if more else None,
                "proof": doc,
            }
        )

    return router
