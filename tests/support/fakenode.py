"""A scriptable fake node for SDK tests: real proofs over a real chain (tests/support/auditchain.py),
with answers to POST /v1/tx taken from a script and hooks that forge what is served.

- `script`: a list of (status, headers, json body) answers for the next POSTs of /v1/tx (then 202).
- `posted`: the bodies POSTed, in order (resubmissions must be the same bytes).
- `forge_proof(doc) -> doc`: changes the proof answer (a forged certificate, another tx's path).
- `tx_answer(tx_id) -> (status, doc) | None`: overrides GET /v1/tx/{id}.
- `events`: raw text/event-stream chunks served by GET /v1/events, one list per connection.
No authentication: the SDK signs its requests anyway, the fake does not check them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from node.store.proofs import build_tx_proof
from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain
from wire.txproof import proof_to_json


class FakeNode:
    def __init__(self, store: BlockStore, chain: BuiltChain) -> None:
        self.store, self.chain = store, chain
        self.script: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        self.posted: list[bytes] = []
        self.requests: list[str] = []
        self.forge_proof: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.tx_answer: Callable[[bytes], tuple[int, dict[str, Any]] | None] | None = None
        self.events: list[list[str]] = []
        self.event_params: list[dict[str, str]] = []

    def app(self) -> FastAPI:
        app = FastAPI()
        lag = self.chain.genesis.consensus.exec_lag

        @app.middleware("http")
        async def log(request: Request, call_next: Any) -> Response:
            self.requests.append(f"{request.method} {request.url.path}")
            response: Response = await call_next(request)
            return response

        @app.post("/v1/tx")
        async def post(request: Request) -> JSONResponse:
            body = await request.body()
            self.posted.append(body)
            if self.script:
                status, headers, doc = self.script.pop(0)
                return JSONResponse(doc, status_code=status, headers=headers)
            return JSONResponse({"status": "pending", "height": self.store.height}, status_code=202)

        @app.get("/v1/tx/{tx_id}")
        def tx(tx_id: str) -> JSONResponse:
            tid = bytes.fromhex(tx_id)
            if self.tx_answer is not None:
                found = self.tx_answer(tid)
                if found is not None:
                    return JSONResponse(found[1], status_code=found[0])
            loc = self.store.tx_location(tid)
            if loc is None:
                return JSONResponse(
                    {"error": {"code": "unknown_tx", "message": "no such tx"}}, status_code=404
                )
            receipt = self.store.receipt(loc.height, loc.index)
            assert receipt is not None
            return JSONResponse(
                {
                    "tx_id": tx_id,
                    "status": "committed" if receipt.accepted else "rejected",
                    "block_height": loc.height,
                    "index": loc.index,
                    "receipt": receipt.to_json(),
                    "height": self.store.height,
                }
            )

        @app.get("/v1/proofs/tx/{tx_id}")
        def proof(tx_id: str) -> JSONResponse:
            found = build_tx_proof(self.store, lag, bytes.fromhex(tx_id))
            if found is None:
                return JSONResponse(
                    {"error": {"code": "unknown_tx", "message": "no such tx"}}, status_code=404
                )
            doc = proof_to_json(found[0])
            doc["height"] = found[2]
            doc["receipt"] = None if found[1] is None else found[1].to_json()
            return JSONResponse(doc if self.forge_proof is None else self.forge_proof(doc))

        @app.get("/v1/events")
        def events(request: Request) -> Response:
            self.event_params.append(dict(request.query_params))
            if not self.events:
                return JSONResponse({"error": {"code": "busy", "message": "no stream"}}, status_code=503)
            chunks = self.events.pop(0)

            def gen() -> Iterator[str]:
                yield from chunks

            return StreamingResponse(gen(), media_type="text/event-stream")

        return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_on(app: FastAPI, port: int, *, delay_s: float = 0.0) -> Iterator[str]:
    """Serve `app` on `port` in a thread, starting after `delay_s` (meanwhile: connection refused)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off", access_log=False)
    )

    def run() -> None:
        time.sleep(delay_s)
        server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if delay_s == 0:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the fake node did not start")
            time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        deadline = time.monotonic() + 10
        while thread.is_alive() and not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        server.should_exit = True
        thread.join(10)
