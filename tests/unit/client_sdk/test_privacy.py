"""The SDK against a fake node: it re-hashes blobs, checks org keys against its genesis, and never
sends an invalid ID number."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from client_sdk.errors import VerificationError
from client_sdk.privacy import BlobError, PrivacyClient, blob_hash, encrypt_blob
from contracts.testing import make_genesis
from wire.idnumber import IdNumberError

GENESIS = make_genesis()
B1 = "cn.p1.c1.x1.b1"


def client(handler: Any) -> tuple[PrivacyClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)  # type: ignore[no-any-return]

    http = httpx.Client(base_url="http://node", transport=httpx.MockTransport(record))
    return PrivacyClient("http://node", GENESIS, http=http), seen


def test_a_blob_that_does_not_hash_to_its_name_is_refused() -> None:
    blob, _ = encrypt_blob(b"scan")
    h = blob_hash(blob)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    pc, _ = client(lambda r: httpx.Response(200, content=tampered))
    with pytest.raises(BlobError, match="SHA-256"):
        pc.download_blob(h)
    pc, _ = client(lambda r: httpx.Response(200, content=blob))
    assert pc.download_blob(h) == blob


def _chain(org: str, override: dict[str, Any] | None = None) -> dict[str, Any]:
    chain = []
    parts = org.split(".")
    for i in range(len(parts), 0, -1):
        o = ".".join(parts[:i])
        chain.append(
            {
                "org_id": o,
                "key_version": 1,
                "enc_pubkey": GENESIS.org(o).enc_pubkey.hex(),
                "source": "genesis",
                "tx_id": None,
                "proof": None,
            }
        )
    if override:
        chain[1].update(override)
    return {"height": 3, "org_id": org, "chain": chain}


def test_org_keys_are_checked_against_the_genesis() -> None:
    pc, _ = client(lambda r: httpx.Response(200, json=_chain(B1)))
    keys = pc.enc_keys(B1)
    assert [k.org_id for k in keys] == [B1, "cn.p1.c1.x1", "cn.p1.c1", "cn.p1", "cn"]
    forged = {"enc_pubkey": "ab" * 32}
    pc, _ = client(lambda r: httpx.Response(200, json=_chain(B1, forged)))
    with pytest.raises(VerificationError, match="genesis key"):
        pc.enc_keys(B1)
    short = _chain(B1)
    short["chain"] = short["chain"][:-1]  # an ancestor left out: its org would not be sealed to
    pc, _ = client(lambda r: httpx.Response(200, json=short))
    with pytest.raises(VerificationError, match="ancestors"):
        pc.enc_keys(B1)
    bogus = {"source": "tx", "tx_id": "00" * 32, "proof": {"tx_id": "00" * 32}}
    pc, _ = client(lambda r: httpx.Response(200, json=_chain(B1, bogus)))
    with pytest.raises(VerificationError):
        pc.enc_keys(B1)


def test_an_invalid_number_is_never_sent() -> None:
    pc, seen = client(lambda r: httpx.Response(500))
    with pytest.raises(IdNumberError, match="check character"):
        pc.person_keys.get("110105194912310020")
    with pytest.raises(IdNumberError, match="birth date differs"):
        pc.person_keys.get("11010519491231002X", name="张三", birth_date="1950-01-01")
    assert seen == []


def test_person_keys_are_sent_normalised_and_read_back() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["items"] == [
            {"id_number": "11010519491231002X", "name": "张三", "birth_date": "1949-12-31"}
        ]
        keys = [{"key_version": 2, "person_key": "22" * 32, "name_key": "33" * 32}]
        keys.append({"key_version": 1, "person_key": "11" * 32, "name_key": "44" * 32})
        return httpx.Response(200, json={"items": [{"index": 0, "ok": True, "masked": "x", "keys": keys}]})

    pc, _ = client(answer)
    pk = pc.person_keys.get(" 11010519491231002x", name="张三", all_versions=True)
    assert (pk.person_key, pk.key_version, pk.masked, pk.birth_date) == (
        "22" * 32,
        2,
        "110105********002X",
        "1949-12-31",
    )
    assert pk.older == ((1, "11" * 32, "44" * 32),)
