"""The validator epochs with their proofs, the node registry, and node governance proposals.

Rules:

- `GET /v1/validators` needs no authentication: a node joining the network has no user key yet,
  and what it answers is the public membership of the network. It states the height it reflects,
  every epoch after genesis whose boundary block is stored, as `wire.epochs.EpochProof` JSON (the
  keys, the boundary header and its certificate: verify with `wire.epochs.verify_epoch_chain`),
  the epochs scheduled but not yet begun (no proof yet), and the registry (`node/<id>` records).
- `GET /v1/governance/proposals` (optionally `status=OPEN|EXECUTED|WITHDRAWN|EXPIRED`) and
  `GET /v1/governance/proposals/{id}` serve the `nodeprop/` records to any authenticated caller:
  governance of the network is visible to everyone on it. An unknown id is 404 `not_found`.
- `GET /v1/nodekeys/{pubkey}` (any authenticated caller): a node key's record (`nodekey/<pubkey>`:
  node, org, role, status) read from the state map at the newest certified height, with its
  proof when `proof=true`; 404 `not_found` when the ledger has none. The SDK reads its own key
  here to learn the scope the node gives it (`wire.nodekeys.node_in_force`).
- Every answer is read from one store snapshot.
"""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from contracts.state import decode_record
from node.api.auth import Caller
from node.api.context import ApiContext
from node.api.errors import ApiError
from node.api.models import READ_ERRORS
from node.api.params import MinHeight, Prove
from node.api.proven import ProofBuilder
from node.errors import StorageError
from node.runtime.registry import epoch_proofs, read_registry
from node.store.storage import BlockStore
from wire.families import prefix_end
from wire.nodekeys import node_key_state_key
from wire.records import body_json, decode_value

PROPOSAL_PREFIX = b"nodeprop/"
STATUSES = ("OPEN", "EXECUTED", "WITHDRAWN", "EXPIRED")


def validators_document(store: BlockStore) -> dict[str, Any]:
    """What `GET /v1/validators` answers, from `store` (a snapshot)."""
    proven, scheduled = epoch_proofs(store)
    return {
        "height": store.height,
        "epochs": [p.to_json() for p in proven],
        "scheduled": [
            {"start": e.start, "validators": [k.hex() for k in e.validators.pubkeys]} for e in scheduled
        ],
        "nodes": [e.to_json() for e in read_registry(store).values()],
    }


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(responses=READ_ERRORS, tags=["validators and governance"])
    Auth = Annotated[Caller, Depends(ctx.authn)]

    def snapshot_read(fn: Any) -> Any:
        try:
            with ctx.store.snapshot() as snap:
                return fn(snap)
        except StorageError as exc:
            raise ApiError("storage_error", "the node cannot read its store") from exc

    @router.get("/v1/validators")
    async def validators() -> JSONResponse:
        """The validator epochs with their proofs, the scheduled ones, and the node registry."""
        return JSONResponse(snapshot_read(validators_document))

    @router.get("/v1/nodekeys/{pubkey}")
    async def node_key(
        caller: Auth,
        pubkey: Annotated[str, Path(pattern="^[0-9a-f]{64}$")],
        min_height: MinHeight = None,
        proof: Prove = False,
    ) -> JSONResponse:
        """A node key's record (node, org, role, status), proven with `proof=true`."""
        await ctx.wait_provable(min_height)
        key = node_key_state_key(pubkey).encode()
        with ctx.proven() as view:
            raw = view.get(key)
            rec = None if raw is None else decode_value(raw)
            if raw is None or rec is None:
                raise ApiError("not_found", "no node key with this public key")
            item = {"pubkey": pubkey, "record": json.loads(body_json(rec)), "value": raw.hex()}
            doc: dict[str, Any] = {"height": view.reflects, "item": item}
            if proof:
                b = ProofBuilder()
                view.prove(b, [key])
                doc["proof"] = view.proof_json(b, {key: raw})
        return JSONResponse(doc)

    @router.get("/v1/governance/proposals")
    async def proposals(
        caller: Auth,
        status: Annotated[str | None, Query(pattern="^(OPEN|EXECUTED|WITHDRAWN|EXPIRED)$")] = None,
    ) -> JSONResponse:
        """Node governance proposals (newest last), optionally of one status."""

        def read(snap: BlockStore) -> dict[str, Any]:
            items = [
                decode_record(k, v) for k, v in snap.state_scan(PROPOSAL_PREFIX, prefix_end(PROPOSAL_PREFIX))
            ]
            items = [p for p in items if status is None or p["status"] == status]
            items.sort(key=lambda p: (p["proposed_height"], p["proposal_id"]))
            return {"height": snap.height, "items": items}

        return JSONResponse(snapshot_read(read))

    @router.get("/v1/governance/proposals/{proposal_id}")
    async def proposal(
        caller: Auth, proposal_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")]
    ) -> JSONResponse:
        """One node governance proposal with its approvals and outcome."""

        def read(snap: BlockStore) -> dict[str, Any]:
            raw = snap.state_get(PROPOSAL_PREFIX + proposal_id.encode())
            if raw is None:
                raise ApiError("not_found", f"no node proposal {proposal_id}")
            return {"height": snap.height, "item": decode_record(PROPOSAL_PREFIX, raw)}

        return JSONResponse(snapshot_read(read))

    return router
