"""Sealed texts (issue 18.6): the SDK refuses a personal number in a clear field before signing,
and seals any prose field in place so the owner and its ancestors open it and nobody else; the
sealed payload is what the node and the contracts accept."""

from __future__ import annotations

import pytest

from client_sdk import builders as b
from client_sdk.errors import PayloadError
from client_sdk.privacy import (
    CannotDecrypt,
    OrgKeyring,
    PrivacyError,
    Recipient,
    open_text,
    seal_text,
    text_context,
)
from client_sdk.sealedtext import seal_prose
from client_sdk.tx import sign_tx
from contracts import check_tx
from wire.cleartext import SEALED_TEXT_MAX
from wire.crypto import EncryptionKey, SigningKey
from wire.genesis import org_parent

B1 = "cn.p1.c1.x1.b1"
ORGS = ["cn", "cn.p1", "cn.p1.c1", "cn.p1.c1.x1", B1, "cn.p2"]
KEYS = {o: EncryptionKey.generate() for o in ORGS}
ME = SigningKey(b"\x09" * 32)


def recipients(org: str | None) -> list[Recipient]:
    out = []
    while org is not None:
        out.append(Recipient(org, 1, KEYS[org].public))
        org = org_parent(org)
    return out


def ring(org: str) -> OrgKeyring:
    return OrgKeyring(org, (KEYS[org],))


def test_the_sdk_refuses_a_personal_number_in_clear_before_signing() -> None:
    for payload in (
        b.AlertAck(alert_id="0" * 32, note="spoke to him: 13812345678"),
        {"alert_id": "0" * 32, "note": "ID 11010519491231002X"},
    ):
        with pytest.raises(PayloadError) as info:
            sign_tx(payload, chain_id="c", org_id=B1, key=ME, tx_type="alert.ack")
        assert info.value.code == "personal_data_in_clear" and info.value.path == "note"
        assert "seal the field" in info.value.what


def test_a_sealed_text_opens_for_the_owner_and_its_ancestors_only() -> None:
    ctx = text_context("alert.ack", B1, "note")
    sealed = seal_text("张三 called from 13812345678", recipients(B1), ctx)
    for org in ("cn", "cn.p1", "cn.p1.c1", "cn.p1.c1.x1", B1):
        assert open_text(sealed, ring(org), context=ctx) == "张三 called from 13812345678"
    with pytest.raises(CannotDecrypt):
        open_text(sealed, ring("cn.p2"))
    with pytest.raises(PrivacyError):  # moved to another field: its context does not match
        open_text(sealed, ring(B1), context=text_context("alert.ack", B1, "other"))
    with pytest.raises(PrivacyError):
        seal_text("x" * SEALED_TEXT_MAX, recipients(B1), ctx)


def test_a_sealing_transform_makes_the_payload_pass_and_the_contracts_accept_it() -> None:
    keys = recipients(B1)
    payload = {
        "alert_id": "0" * 32,
        "note": "他的手机 138 1234 5678",
    }

    def transform(tx_type: str, org_id: str, p: dict[str, object]) -> dict[str, object]:
        return seal_prose(
            tx_type, p, lambda path, text: seal_text(text, keys, text_context(tx_type, org_id, path))
        )

    tx = sign_tx(payload, chain_id="c", org_id=B1, key=ME, tx_type="alert.ack", transforms=[transform])
    note = tx.body.payload["note"]
    assert note.startswith("sealed1:") and len(note) <= SEALED_TEXT_MAX
    check_tx(tx)  # what the node's admission and the engine run
    assert (
        open_text(note, ring("cn"), context=text_context("alert.ack", B1, "note")) == "他的手机 138 1234 5678"
    )


def test_seal_prose_finds_nested_prose_and_only_what_is_named() -> None:
    payload = {
        "recusals": [{"person_key": "ab" * 32, "reason": "spouse"}],
        "interests": [{"person_key": "cd" * 32, "relation": "brother"}],
        "counterparty_key": "kept",
    }
    sealed = seal_prose("decision.record", payload, lambda path, text: f"<{path}>")
    assert sealed["recusals"][0]["reason"] == "<recusals[0].reason>"
    assert sealed["interests"][0]["relation"] == "<interests[0].relation>"
    assert sealed["counterparty_key"] == "kept"  # read by the rules: never sealed
    only = seal_prose("decision.record", payload, lambda path, text: "S", fields={"recusals[].reason"})
    assert only["recusals"][0]["reason"] == "S" and only["interests"][0]["relation"] == "brother"
