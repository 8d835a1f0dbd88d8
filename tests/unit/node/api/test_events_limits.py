"""Event-stream limits under real concurrency (issue 18.7): 100 concurrent opens of `GET /v1/events`
with one key, over real sockets to the node's app served by uvicorn, get exactly STREAMS_PER_KEY
streams (20 got past the limit of 4 when the room check and the subscription were apart); the
node-wide limit holds the same way; a closed stream gives its place back."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator

import aiohttp
import pytest

from client_sdk.auth import RequestSigner
from node.api import eventhub
from node.api.eventhub import EventHub
from node.app import NodeApp
from tests.support.auditchain import BuiltChain, serve
from tests.unit.node.api.test_app import build
from wire.files import load_signing_key


@pytest.fixture
def node(chain: BuiltChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeApp]:
    tmp = tmp_path_factory.mktemp("events")
    shutil.copytree(chain.data_dir, tmp / "data")
    app = build(chain, tmp / "data", tmp)
    try:
        yield app
    finally:
        app.close()


def _hub(node: NodeApp) -> EventHub:
    found = [getattr(f, "__self__", None) for f in node.runtime.commit_listeners]
    return next(h for h in found if isinstance(h, EventHub))


def _signers(chain: BuiltChain, node_id: str) -> list[RequestSigner]:
    return [
        RequestSigner(
            load_signing_key(chain.net / "nodes" / n.node_id / "node.key"), chain.genesis.chain_id, node_id
        )
        for n in chain.genesis.nodes
    ]


async def _open_all(url: str, signers: list[RequestSigner]) -> list[int]:
    """Open one stream per signer entry, all at once; answer the statuses, then close them all."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(signer: RequestSigner) -> aiohttp.ClientResponse:
            return await session.get(url + "/v1/events", headers=signer.headers("GET", "/v1/events"))

        responses = await asyncio.gather(*(one(s) for s in signers))
        statuses = [r.status for r in responses]
        for r in responses:
            if r.status != 200:
                assert (await r.json())["error"]["code"] == "busy"
            r.close()
    return statuses


def _wait_empty(hub: EventHub) -> None:
    deadline = time.monotonic() + 10
    while hub.subs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not hub.subs, f"{len(hub.subs)} places not given back"


def test_one_key_gets_exactly_its_streams(node: NodeApp, chain: BuiltChain) -> None:
    me = node.config.node_id
    signer = _signers(chain, me)[0]
    with serve(node.app) as url:
        statuses = asyncio.run(_open_all(url, [signer] * 100))
        assert statuses.count(200) == eventhub.STREAMS_PER_KEY, statuses
        assert statuses.count(429) == 100 - eventhub.STREAMS_PER_KEY
        _wait_empty(_hub(node))
        again = asyncio.run(_open_all(url, [signer] * 10))  # the places came back
        assert again.count(200) == eventhub.STREAMS_PER_KEY


def test_the_node_wide_limit_holds_under_concurrency(
    node: NodeApp, chain: BuiltChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eventhub, "STREAMS_MAX", 6)
    signers = _signers(chain, node.config.node_id)
    assert len(signers) >= 3
    with serve(node.app) as url:
        statuses = asyncio.run(_open_all(url, [s for s in signers for _ in range(eventhub.STREAMS_PER_KEY)]))
        assert statuses.count(200) == 6, statuses
        _wait_empty(_hub(node))
