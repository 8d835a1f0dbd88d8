"""`POST /v1/tx` and `/v1/txs` on the node the composition root builds (issue 18.2, RELIABILITY
T13): 300 transactions signed by fresh keys are all refused at admission (403 `unknown_signer`)
and none reaches the mempool; the admission budget per client address (429
`client_rate_limited`) and per node (503 `admission_busy`) answer with `Retry-After`."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from client_sdk.client import build_tx
from node.api.ratelimit import AdmissionBudget, AdmissionSettings
from node.app import NodeApp
from node.dev.workload import Workload
from tests.support.auditchain import BuiltChain
from tests.unit.node.api.test_app import build
from wire import codec
from wire.crypto import SigningKey

RAW = {"content-type": "application/octet-stream"}


@pytest.fixture(scope="module")
def node(chain: BuiltChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeApp]:
    tmp = tmp_path_factory.mktemp("admission")
    shutil.copytree(chain.data_dir, tmp / "data")
    app = build(chain, tmp / "data", tmp)
    try:
        yield app
    finally:
        app.close()


def _stranger_tx(chain: BuiltChain, i: int) -> bytes:
    branch = next(o.org_id for o in chain.genesis.orgs if o.level == "BRANCH")
    return build_tx(
        chain_id=chain.genesis.chain_id,
        tx_type="archive.create",
        org_id=branch,
        payload={
            "person_key": f"{i:064x}",
            "key_version": 1,
            "id_check_ok": True,
            "birth_date": "1990-01-01",
        },
        key=SigningKey.generate(),
    ).encode()


def test_fresh_keys_are_refused_at_admission_and_nothing_is_kept(node: NodeApp, chain: BuiltChain) -> None:
    client = TestClient(node.app, raise_server_exceptions=False)
    answers = [client.post("/v1/tx", content=_stranger_tx(chain, i), headers=RAW) for i in range(300)]
    assert {(r.status_code, r.json()["error"]["code"]) for r in answers} == {(403, "unknown_signer")}
    batch = client.post(
        "/v1/txs", content=codec.encode([_stranger_tx(chain, 300 + i) for i in range(5)]), headers=RAW
    )
    assert {(r["status"], r["error"]["code"]) for r in batch.json()["results"]} == {(403, "unknown_signer")}
    assert len(node.runtime.mempool) == 0 and node.runtime._gossip == [] and node.runtime._offer == []
    # a registered key (a genesis admin) is admitted as before
    tx = Workload(chain.genesis, chain.net, seed=77).next_tx(int(time.time() * 1000))
    assert client.post("/v1/tx", content=tx.encode(), headers=RAW).status_code == 202
    assert len(node.runtime.mempool) == 1


def test_the_admission_budget_per_client_and_per_node(node: NodeApp, chain: BuiltChain) -> None:
    client = TestClient(node.app, raise_server_exceptions=False)
    saved = node.api.admission
    try:
        node.api.admission = AdmissionBudget(AdmissionSettings(per_client_rate_s=0.1, per_client_burst=3))
        codes = [client.post("/v1/tx", content=_stranger_tx(chain, i), headers=RAW) for i in range(4)]
        assert [r.status_code for r in codes] == [403, 403, 403, 429]
        assert codes[-1].json()["error"]["code"] == "client_rate_limited"
        assert int(codes[-1].headers["retry-after"]) >= 1
        # a batch costs one token per transaction
        node.api.admission = AdmissionBudget(AdmissionSettings(per_client_rate_s=0.1, per_client_burst=3))
        batch = client.post(
            "/v1/txs", content=codec.encode([_stranger_tx(chain, i) for i in range(4)]), headers=RAW
        )
        assert (batch.status_code, batch.json()["error"]["code"]) == (429, "client_rate_limited")
        # the node's own budget, whoever asks
        node.api.admission = AdmissionBudget(AdmissionSettings(rate_s=0.1, burst=2))
        codes = [client.post("/v1/tx", content=_stranger_tx(chain, i), headers=RAW) for i in range(3)]
        assert codes[-1].status_code == 503 and codes[-1].json()["error"]["code"] == "admission_busy"
        assert "retry-after" in codes[-1].headers
    finally:
        node.api.admission = saved


def test_a_personal_number_in_clear_is_refused_at_admission(node: NodeApp, chain: BuiltChain) -> None:
    """Issue 18.6: the node refuses what the SDK would have refused, with the code that says to
    seal the field; nothing is kept."""
    from wire.files import load_signing_key

    branch = next(o.org_id for o in chain.genesis.orgs if o.level == "BRANCH")
    admin = load_signing_key(chain.net / "keys" / "admins" / f"{branch}.key")
    client = TestClient(node.app, raise_server_exceptions=False)
    before = len(node.runtime.mempool)
    for note in ("ID 11010519491231002X", "call 13812345678", "old card 110105491231002"):
        tx = build_tx(
            chain_id=chain.genesis.chain_id,
            tx_type="alert.ack",
            org_id=branch,
            payload={"alert_id": "0" * 32, "note": note},
            key=admin,
        )
        resp = client.post("/v1/tx", content=tx.encode(), headers=RAW)
        assert (resp.status_code, resp.json()["error"]["code"]) == (400, "personal_data_in_clear")
        assert "seal the field" in resp.json()["error"]["message"]
    assert len(node.runtime.mempool) == before
