"""The SDK's knowledge of transaction types: the generated builders and schema copy are up to date
with the contracts, every type has a builder, and the client-side validator agrees with the
node's (`contracts.schema.validate`) on the verdict, the reason code and the message, for valid
payloads and for thousands of mutated ones."""

from __future__ import annotations

import dataclasses
import random
import string
from datetime import date
from typing import Any

import pytest

from client_sdk import PayloadError, builders, schema, sign_tx
from client_sdk.builders import BUILDERS
from client_sdk.tx import prepare_payload
from contracts import TX_TYPES, TxRejected
from contracts import schema as node_schema
from scripts.gen_builders import ROOT, render, stale
from wire.crypto import SigningKey


def test_generated_files_are_up_to_date_with_the_contracts() -> None:
    outputs = render()
    assert any(p.suffix == ".json" for p in outputs) and any(p.suffix == ".py" for p in outputs)
    out_of_date = [str(p.relative_to(ROOT)) for p in stale(outputs)]
    assert not out_of_date, (
        f"stale: {out_of_date}: run `python scripts/gen_builders.py` after changing the contracts"
    )


def test_every_transaction_type_has_a_builder_with_its_fields() -> None:
    assert set(BUILDERS) == set(TX_TYPES) == set(schema.tx_types())
    for tx_type, cls in BUILDERS.items():
        assert tx_type == cls.TX_TYPE
        node_fields = [f.name for f in TX_TYPES[tx_type].schema.fields]
        assert [f.name for f in dataclasses.fields(cls)] == node_fields, tx_type


# ------------------------------------------------------------------------------------ values
def valid_value(s: dict[str, Any], rnd: random.Random) -> Any:
    t = s["type"]
    if t == "str":
        if s["pattern"] and "a-f" in s["pattern"]:
            return "".join(rnd.choice("0123456789abcdef") for _ in range(s["min_len"]))
        if s["pattern"]:
            n = max(1, s["min_len"])
            return "a" + "".join(rnd.choice(string.ascii_lowercase) for _ in range(n - 1))
        n = rnd.randint(s["min_len"], min(s["max_len"], s["min_len"] + 8))
        return "".join(rnd.choice(string.ascii_letters) for _ in range(n))
    if t == "int":
        return rnd.randint(s["min"], min(s["max"], s["min"] + 100))
    if t == "bool":
        return rnd.random() < 0.5
    if t == "date":
        return f"{rnd.randint(1950, 2030)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
    if t == "month":
        return f"{rnd.randint(1950, 2030)}-{rnd.randint(1, 12):02d}"
    if t == "hex":
        return rnd.randbytes(s["bytes"]).hex()
    if t == "enum":
        return rnd.choice(s["values"])
    if t == "list":
        n = rnd.randint(s["min_len"], min(s["max_len"], s["min_len"] + 2))
        items = [valid_value(s["item"], rnd) for _ in range(n)]
        if s["unique"]:
            seen: dict[str, Any] = {}
            for i in items:
                seen.setdefault(repr(i), i)
            items = list(seen.values())
            if len(items) < s["min_len"]:
                items = [valid_value(s["item"], rnd) for _ in range(s["min_len"])]
        return items
    if t == "json":
        return rnd.choice([1, "x", True, [1, 2], {"k": "v", "n": 3}])
    if t == "object":
        out = {}
        for f in s["fields"]:
            if f["required"] or rnd.random() < 0.5:
                out[f["name"]] = valid_value(f["schema"], rnd)
        return out
    raise AssertionError(t)


WRONG = [
    None,
    1,
    -5,
    2**64,
    True,
    "",
    "x" * 3000,
    "2021-02-30",
    "2021-13",
    "ABC",
    [],
    {},
    [1],
    {"a": None},
    1.5,
]


def mutate(value: Any, s: dict[str, Any], rnd: random.Random) -> Any:
    """The value with one random change somewhere inside it (often, not always, invalid)."""
    t = s["type"]
    if t == "object" and isinstance(value, dict) and rnd.random() < 0.8:
        choice = rnd.random()
        fields = s["fields"]
        if choice < 0.1:
            return {**value, "unexpected": 1}
        if choice < 0.2 and value:
            k = rnd.choice(sorted(value))
            return {kk: vv for kk, vv in value.items() if kk != k}
        f = rnd.choice(fields)
        inner = value.get(f["name"], valid_value(f["schema"], rnd))
        return {**value, f["name"]: mutate(inner, f["schema"], rnd)}
    if t == "list" and isinstance(value, list) and value and rnd.random() < 0.6:
        i = rnd.randrange(len(value))
        if rnd.random() < 0.2:
            return [*value, value[i]]
        return [*value[:i], mutate(value[i], s["item"], rnd), *value[i + 1 :]]
    return rnd.choice(WRONG)


def node_verdict(tx_type: str, payload: Any) -> tuple[str, str] | dict[str, Any]:
    try:
        return node_schema.validate(TX_TYPES[tx_type].schema, payload)
    except TxRejected as exc:
        return exc.code, str(exc)


def sdk_verdict(tx_type: str, payload: Any) -> tuple[str, str] | dict[str, Any]:
    try:
        return schema.validate(tx_type, payload)
    except PayloadError as exc:
        return exc.code, str(exc)


@pytest.mark.parametrize("tx_type", sorted(TX_TYPES))
def test_the_sdk_judges_payloads_exactly_as_the_node(tx_type: str) -> None:
    rnd = random.Random(f"sdk-schema-{tx_type}")
    s = schema.spec(tx_type)["payload"]
    disagreements = []
    invalid = 0
    for _ in range(300):
        payload = valid_value(s, rnd)
        for candidate in (payload, mutate(payload, s, rnd), mutate(mutate(payload, s, rnd), s, rnd)):
            node, sdk = node_verdict(tx_type, candidate), sdk_verdict(tx_type, candidate)
            invalid += isinstance(node, tuple)
            if node != sdk:
                disagreements.append((candidate, node, sdk))
    assert not disagreements, disagreements[:3]
    assert invalid > 100  # the mutations do exercise the failure paths


def test_a_builder_fails_before_signing_with_the_node_reason_code() -> None:
    class Refusing:
        public = b"\x00" * 32

        def sign(self, *a: Any) -> bytes:
            raise AssertionError("a key was used for an invalid payload")

    bad = builders.ArchiveCreate(person_key="zz", key_version=1, id_check_ok=True, birth_date="1990-01-01")
    with pytest.raises(PayloadError) as err:
        sign_tx(bad, chain_id="c", org_id="cn", key=Refusing())  # type: ignore[arg-type]
    assert err.value.code == "bad_format" and err.value.path == "person_key"
    late = builders.ArchiveCreate(
        person_key=b"\x01" * 32, key_version=1, id_check_ok=True, birth_date="1990-02-30"
    )
    with pytest.raises(PayloadError, match="birth_date"):
        late.validate()
    with pytest.raises(PayloadError) as err:
        prepare_payload({"pubkey": "00" * 32}, tx_type="user.revoke")
    assert err.value.code == "missing_field" and err.value.path == "reason"
    with pytest.raises(PayloadError) as err:
        prepare_payload({}, tx_type="no.such")
    assert err.value.code == "unknown_tx_type"


def test_builders_convert_dates_and_bytes_and_leave_out_unset_fields() -> None:
    pk = b"\x07" * 32
    step = builders.JoinStep(
        pipeline_id="p-1",
        person_key=pk,
        step="S01",
        event_date=date(2024, 5, 1),
        extra={"received_date": date(2024, 5, 1)},
    )
    assert step.to_dict() == {
        "pipeline_id": "p-1",
        "person_key": pk.hex(),
        "step": "S01",
        "event_date": "2024-05-01",
        "extra": {"received_date": "2024-05-01"},
    }
    normalised = step.validate()
    assert normalised["result"] == "PASS" and normalised["doc_refs"] == []


def test_signing_covers_what_was_validated_and_transformed() -> None:
    key, approver = SigningKey.generate(), SigningKey.generate()
    seen: list[tuple[str, str]] = []

    def stamp(tx_type: str, org_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        seen.append((tx_type, org_id))
        return {**payload, "reason": "rewritten"}

    payload = builders.UserRevoke(pubkey=b"\x02" * 32, reason="left")
    tx = sign_tx(payload, chain_id="c", org_id="cn.p1", key=key, approvers=[approver], transforms=[stamp])
    assert seen == [("user.revoke", "cn.p1")]
    assert tx.body.payload == {"pubkey": "02" * 32, "reason": "rewritten"}
    assert tx.body.signer == key.public and tx.body.tx_type == "user.revoke" and tx.body.org_id == "cn.p1"
    assert tx.signature_ok()
    assert [a.signer for a in tx.approvals] == [approver.public]

    def breaks(tx_type: str, org_id: str, p: dict[str, Any]) -> dict[str, Any]:
        return {**p, "reason": ""}

    with pytest.raises(PayloadError, match="reason"):
        sign_tx(payload, chain_id="c", org_id="cn", key=key, transforms=[breaks])
    with pytest.raises(PayloadError) as err:
        sign_tx(
            builders.UserRevoke(pubkey=b"\x02" * 32, reason="x" * 1000),
            chain_id="c",
            org_id="cn",
            key=key,
            max_tx_bytes=300,
        )
    assert err.value.code in ("too_large", "too_long")
