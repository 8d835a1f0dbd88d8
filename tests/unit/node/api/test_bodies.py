"""Hostile request bodies (issue 18.3): every body reader of the node answers a clear 4xx with a
reason code, never a 5xx: deep nesting, huge numbers, invalid UTF-8, duplicate keys, wrong content
types, on `POST /v1/tx`, `/v1/txs`, `/v1/auth/token` and `/v1/person-keys`. The same bodies are
sent to a real node process by tests/integration/test_readapi_fuzz.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from client_sdk.auth import RequestSigner
from node.api.body import MAX_JSON_DEPTH, parse_json
from node.api.errors import ApiError
from tests.support.auditchain import BuiltChain
from tests.support.hostile import HOSTILE_BODIES, HostileBody
from tests.unit.node.api.test_app import build
from wire.files import load_signing_key


@pytest.fixture(scope="module")
def node_client(
    chain: BuiltChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, RequestSigner, str]]:
    import shutil

    tmp = tmp_path_factory.mktemp("bodies")
    shutil.copytree(chain.data_dir, tmp / "data")
    node = build(chain, tmp / "data", tmp)
    validator = chain.genesis.validator_nodes[0].node_id
    key = load_signing_key(chain.net / "nodes" / validator / "node.key")
    try:
        yield (
            TestClient(node.app, raise_server_exceptions=False),
            RequestSigner(key, chain.genesis.chain_id),
            validator,
        )
    finally:
        node.close()


@pytest.mark.parametrize("case", HOSTILE_BODIES, ids=lambda c: c.name)
def test_hostile_bodies_get_a_coded_4xx(
    case: HostileBody, node_client: tuple[TestClient, RequestSigner, str]
) -> None:
    client, signer, node_id = node_client
    headers = {"content-type": case.content_type}
    if case.signed:
        headers.update(signer.headers("POST", case.path, case.body, node_id=node_id))
    resp = client.post(case.path, content=case.body, headers=headers)
    assert 400 <= resp.status_code < 500, f"{case.name}: {resp.status_code} {resp.text[:200]}"
    assert resp.json()["error"]["code"] in case.codes, f"{case.name}: {resp.text[:200]}"


def test_parse_json_rules() -> None:
    assert parse_json(b'{"a": [1, {"b": "c"}]}') == {"a": [1, {"b": "c"}]}
    for body, code in (
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "too_deep"),
        (b"[" * 100_000, "too_deep"),
        (b'{"a": 1, "a": 2}', "duplicate_key"),
        (b'{"a": 1' + b"9" * 5000 + b"}", "bad_json"),
        (b'{"a": 1e999}', "bad_json"),
        (b'{"a": NaN}', "bad_json"),
        (b'{"a": "\xff"}', "bad_json"),
        (b"", "bad_json"),
    ):
        with pytest.raises(ApiError) as info:
            parse_json(body)
        assert info.value.code == code, body[:40]
    # exactly the limit passes
    deep = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_json(deep) is not None
