"""Envelopes: an ancestor's key opens, a sibling's or a child's does not; contexts bind; raw ID
numbers are refused; blobs; re-sealing after a rotation."""

from __future__ import annotations

import pytest

from client_sdk.privacy import (
    BlobError,
    CannotDecrypt,
    OrgKeyring,
    PrivacyError,
    Recipient,
    blob_hash,
    data_key,
    decrypt_blob,
    encrypt_blob,
    envelope_id,
    open_fields,
    seal_fields,
    seal_key,
)
from contracts.privacy import SEALED
from contracts.schema import validate
from wire.crypto import EncryptionKey
from wire.genesis import org_parent

ORGS = ["cn", "cn.p1", "cn.p1.c1", "cn.p1.c1.x1", "cn.p1.c1.x1.b1", "cn.p1.c1.x1.b2", "cn.p2", "cn.p1.c1.x2"]
KEYS = {o: EncryptionKey.generate() for o in ORGS}
B1 = "cn.p1.c1.x1.b1"


def chain(org: str | None) -> list[Recipient]:
    out = []
    while org is not None:
        out.append(Recipient(org, 1, KEYS[org].public))
        org = org_parent(org)
    return out


def ring(org: str) -> OrgKeyring:
    return OrgKeyring(org, (KEYS[org],))


FIELDS = {
    "name": "张三丰",
    "phone": "13800000000",
    "address": "北京市东城区",
    "id_masked": "110105********002X",
}


def test_the_owner_and_every_ancestor_open_it_siblings_and_children_do_not() -> None:
    env = seal_fields(FIELDS, chain(B1), "archive:pk")
    assert validate(SEALED, env) == env  # what the contracts accept
    for org in ("cn", "cn.p1", "cn.p1.c1", "cn.p1.c1.x1", B1):
        assert open_fields(env, ring(org), context="archive:pk") == FIELDS
    for org in ("cn.p2", "cn.p1.c1.x1.b2", "cn.p1.c1.x2"):
        with pytest.raises(CannotDecrypt):
            open_fields(env, ring(org))
    # a county record: the branch below (a child) cannot open it
    county = seal_fields({"minutes": "张三丰 发言"}, chain("cn.p1.c1.x1"), "meeting:m1")
    with pytest.raises(CannotDecrypt):
        open_fields(county, ring(B1))
    # a sibling holding a key under the owner's org id still cannot open it
    with pytest.raises(CannotDecrypt):
        open_fields(env, OrgKeyring(B1, (KEYS["cn.p1.c1.x1.b2"],)))


def test_nothing_of_the_fields_is_visible_and_lengths_leak_only_in_steps() -> None:
    env = seal_fields(FIELDS, chain(B1), "archive:pk")
    raw = bytes.fromhex(env["ct"])
    for value in FIELDS.values():
        assert value.encode() not in raw
    short = seal_fields({"name": "王五"}, chain(B1), "archive:pk")
    longer = seal_fields({"name": "王五六"}, chain(B1), "archive:pk")
    assert len(short["ct"]) == len(longer["ct"])
    assert envelope_id(env) != envelope_id(seal_fields(FIELDS, chain(B1), "archive:pk"))  # fresh keys


def test_context_binds_an_envelope_to_its_record() -> None:
    env = seal_fields(FIELDS, chain(B1), "archive:pk-a")
    with pytest.raises(PrivacyError, match="belongs to"):
        open_fields(env, ring(B1), context="archive:pk-b")


@pytest.mark.parametrize(
    "fields",
    [
        {"id": "11010519491231002X"},
        {"note": "身份证 11010519491231002x 已核"},
        {"nested": {"list": ["a", "１１０１０５１９４９１２３１００２Ｘ"]}},
    ],
)
def test_raw_id_numbers_are_refused_even_encrypted(fields: dict[str, object]) -> None:
    with pytest.raises(PrivacyError, match="ID number"):
        seal_fields(fields, chain(B1), "archive:pk")


def test_a_tampered_ciphertext_or_key_does_not_open() -> None:
    env = seal_fields(FIELDS, chain(B1), "archive:pk")
    flipped = dict(env, ct=("0" if env["ct"][0] != "0" else "1") + env["ct"][1:])
    with pytest.raises(PrivacyError):
        open_fields(flipped, ring(B1))
    with pytest.raises(PrivacyError):
        seal_fields(FIELDS, [], "x")


def test_reseal_after_rotation_opens_with_the_new_key_only_through_the_seal() -> None:
    env = seal_fields(FIELDS, chain(B1), "archive:pk")
    new = EncryptionKey.generate()
    key = data_key(env, ring("cn.p1"))
    seals = [{"org_id": "cn.p1", "key_version": 2, "sealed": seal_key(key, new.public)}]
    new_ring = OrgKeyring("cn.p1", (new,))
    with pytest.raises(CannotDecrypt):
        open_fields(env, new_ring)
    assert open_fields(env, new_ring, seals=seals) == FIELDS
    assert open_fields(env, OrgKeyring("cn.p1", (new, KEYS["cn.p1"]))) == FIELDS  # old key still opens


def test_blobs_round_trip_and_refuse_tampering() -> None:
    blob, key = encrypt_blob(b"%PDF scan of an application by \xe5\xbc\xa0\xe4\xb8\x89")
    assert b"\xe5\xbc\xa0" not in blob and len(blob_hash(blob)) == 64
    assert decrypt_blob(blob, key).startswith(b"%PDF")
    with pytest.raises(BlobError):
        decrypt_blob(blob[:-1] + bytes([blob[-1] ^ 1]), key)
    with pytest.raises(BlobError):
        decrypt_blob(blob, EncryptionKey.generate().secret)
