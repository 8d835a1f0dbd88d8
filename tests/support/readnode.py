"""A real node's read API served in-process over a real chain, for the SDK's read-verification tests.

`build_read_chain` makes a chain (`tests/support/auditchain.py`) whose last blocks add what reads
need beyond the workload: late materials in two branches (MAT-05 alerts, so the alert lists and
the org index `idx/alert/...` have entries) and an auditor and an operator user. `ReadNode` builds
the node as the composition root does (`NodeApp.build`), runs its read index, and serves it with
uvicorn behind `Forger`, an ASGI wrapper whose `forge(path, doc) -> doc` may rewrite any JSON
answer before the SDK sees it (the forgery tests).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from client_sdk.client import build_tx
from node.app import NodeApp
from node.config import NodeConfig
from tests.support.auditchain import BuiltChain, build_chain, reheader, serve
from wire.crypto import SigningKey
from wire.files import load_signing_key
from wire.types import Block

B001, B002 = "cn.gs.lz.cg.b001", "cn.gs.lz.cg.b002"
AUDITOR_SEED = b"sdk-read-tests-auditor".ljust(32, b"\x00")
OPERATOR_SEED = b"sdk-read-tests-b001-operator".ljust(32, b"\x00")
Forge = Callable[[str, dict[str, Any]], dict[str, Any]]


def _late_material(chain_id: str, key: SigningKey, org: str, n: int, now_ms: int) -> bytes:
    day = time.strftime("%Y-%m-%d", time.gmtime(now_ms / 1000 - 120 * 86400))
    payload = {
        "doc_id": f"{org}/late/{n}",
        "doc_version": 1,
        "doc_type": "OTHER",
        "subject_keys": [],
        "content_hash": bytes([n]).hex() * 32,
        "doc_date": day,
        "issuer_org_id": org,
    }
    return build_tx(
        chain_id=chain_id, tx_type="material.register", org_id=org, payload=payload, key=key, nonce=n
    ).encode()


def build_read_chain(root: Path, blocks: int = 8) -> BuiltChain:
    """A chain of `blocks` blocks: the workload, and in block 3 and 4 late materials and users."""
    net = root / "net"
    admin = {
        org: lambda org=org: load_signing_key(net / "keys" / "admins" / f"{org}.key")
        for org in ("cn", B001, B002)
    }
    now = int(time.time() * 1000)

    def hook(height: int, block: Block) -> Block:
        cid = block.header.chain_id
        if height == 3:
            txs = [
                _late_material(cid, admin[org](), org, i, now)
                for i, org in enumerate((B001, B001, B002, B001, B002))
            ]
            return reheader(block, txs=(*block.txs, *txs))
        if height == 4:
            users = [
                ("cn", "auditor-cn", SigningKey(AUDITOR_SEED), ["auditor"]),
                (B001, "op-b001", SigningKey(OPERATOR_SEED), ["operator"]),
            ]
            txs = [
                build_tx(
                    chain_id=cid,
                    tx_type="user.register",
                    org_id=org if org == "cn" else B001,
                    payload={"user_id": uid, "org_id": org, "pubkey": k.public.hex(), "roles": roles},
                    key=admin["cn"]() if org == "cn" else admin[B001](),
                    nonce=100 + i,
                ).encode()
                for i, (org, uid, k, roles) in enumerate(users)
            ]
            return reheader(block, txs=(*block.txs, *txs))
        if height > blocks - 2:  # empty: they certify the state of block blocks - 2, which is the newest
            return reheader(block, txs=())
        return block

    return build_chain(root, blocks=blocks, txs_per_block=4, hook=hook)


class Forger:
    """An ASGI wrapper of the node's app: `forge(path_and_query, doc) -> doc` rewrites JSON answers,
    `forge_text(path, chunk) -> chunk` the chunks of other answers (the event stream)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.forge: Forge | None = None
        self.forge_text: Callable[[str, str], str] | None = None
        self.requests: list[str] = []

    def reset(self) -> None:
        self.forge, self.forge_text, self.requests = None, None, []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + ("?" + query if query else "")
        self.requests.append(target)
        forge, forge_text = self.forge, self.forge_text
        if forge_text is not None and forge is None:

            async def send_text(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body" and message.get("body"):
                    message = {**message, "body": forge_text(target, message["body"].decode()).encode()}
                await send(message)

            await self.app(scope, receive, send_text)
            return
        if forge is None:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body = bytearray()

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            data = bytes(body)
            try:
                doc = json.loads(data)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                data = json.dumps(forge(target, doc)).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(data)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": data})

        await self.app(scope, receive, capture)


@dataclasses.dataclass
class ReadNode:
    chain: BuiltChain
    node: NodeApp
    forger: Forger
    url: str

    def key(self, who: str) -> SigningKey:
        """`auditor`, `operator` (of b001), or an org whose admin key `network init` wrote."""
        if who == "auditor":
            return SigningKey(AUDITOR_SEED)
        if who == "operator":
            return SigningKey(OPERATOR_SEED)
        return load_signing_key(self.chain.net / "keys" / "admins" / f"{who}.key")


@contextlib.contextmanager
def read_node(chain: BuiltChain, root: Path) -> Iterator[ReadNode]:
    """The node over a copy of the chain's data in `root` (the chain stays as built), its index
    built, served behind a Forger."""
    data_dir, index = root / "data", root / "index.sqlite"
    shutil.copytree(chain.data_dir, data_dir)
    validator = chain.genesis.validator_nodes[0].node_id
    cfg = NodeConfig.load(chain.net / "nodes" / validator / "node.toml")
    cfg = dataclasses.replace(
        cfg,
        data_dir=data_dir,
        index=cfg.index.model_copy(update={"url": f"sqlite:///{index}"}),
        verify_on_start="recent",
    )
    node = NodeApp.build(cfg)
    try:
        node.indexer.start()
        deadline = time.monotonic() + 60
        while node.indexer.height < chain.height:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the index did not catch up: {node.indexer.error}")
            time.sleep(0.02)
        forger = Forger(node.app)
        with serve(forger) as url:  # type: ignore[arg-type]
            yield ReadNode(chain, node, forger, url)
    finally:
        node.indexer.stop()
        node.close()
