"""The OpenAPI document names every status each route answers, and only those FastAPI would add on
its own are gone (issue 18.11): no 422 anywhere (validation errors are 400), 401 and 429 on the
blob and proof routes, 429 and 503 everywhere (the connection limits), 403 on `POST /v1/tx`;
405 answers carry `Allow` with every method of the path. The fuzz test
(tests/integration/test_readapi_fuzz.py) checks every answered status against this document."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from node.app import NodeApp
from tests.support.auditchain import BuiltChain
from tests.unit.node.api.test_app import build


@pytest.fixture(scope="module")
def node(chain: BuiltChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeApp]:
    tmp = tmp_path_factory.mktemp("openapi")
    shutil.copytree(chain.data_dir, tmp / "data")
    app = build(chain, tmp / "data", tmp)
    try:
        yield app
    finally:
        app.close()


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield path, method.upper(), op


def test_no_422_and_the_connection_limits_everywhere(node: NodeApp) -> None:
    doc = TestClient(node.app).get("/openapi.json").json()
    assert "422" not in json.dumps(doc["paths"]) and "HTTPValidationError" not in json.dumps(doc)
    for path, method, op in _operations(doc):
        assert {"429", "503"} <= set(op["responses"]), (method, path)
        if "security" in op:  # authenticated: malformed input, failed authentication
            assert {"400", "401"} <= set(op["responses"]), (method, path)


def test_the_routes_that_missed_statuses(node: NodeApp) -> None:
    doc = TestClient(node.app).get("/openapi.json").json()["paths"]
    for path, method in (
        ("/v1/blobs/{h}", "get"),
        ("/v1/blobs/{h}", "put"),
        ("/v1/blobs", "post"),
        ("/v1/proofs/tx/{tx_id}", "get"),
        ("/v1/proofs/state-digests", "get"),
    ):
        assert {"400", "401", "429"} <= set(doc[path][method]["responses"]), (method, path)
    assert {"403", "413"} <= set(doc["/v1/blobs/{h}"]["put"]["responses"])
    assert "403" in doc["/v1/proofs/state-digests"]["get"]["responses"]
    assert "403" in doc["/v1/tx"]["post"]["responses"]  # unknown_signer


def test_405_carries_allow_with_every_method_of_the_path(node: NodeApp) -> None:
    client = TestClient(node.app)
    for method, path, allow in (
        ("DELETE", "/v1/blobs/" + "00" * 32, "GET, PUT"),
        ("GET", "/v1/tx", "POST"),
        ("POST", "/healthz", "GET"),
        ("PATCH", "/v1/blocks/1", "GET"),
    ):
        resp = client.request(method, path)
        assert resp.status_code == 405 and resp.json()["error"]["code"] == "method_not_allowed"
        assert resp.headers["allow"] == allow, (method, path)


def test_routes_that_authenticate_state_both_schemes_and_open_routes_none(node: NodeApp) -> None:
    doc = TestClient(node.app).get("/openapi.json").json()
    assert doc["components"]["securitySchemes"] == {
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Orgledger-Signature"},
        "HTTPBearer": {"type": "http", "scheme": "bearer"},
    }
    both = [{"APIKeyHeader": []}, {"HTTPBearer": []}]
    for path, method in (
        ("/v1/archives/{record_id}", "get"),  # the read API's authentication
        ("/v1/blobs/{h}", "put"),  # the privacy routes' own, which reads a body
        ("/v1/blocks/{height}", "get"),
    ):
        assert doc["paths"][path][method]["security"] == both, (method, path)
    for path in ("/healthz", "/readyz", "/v1/status"):
        assert "security" not in doc["paths"][path]["get"], path
