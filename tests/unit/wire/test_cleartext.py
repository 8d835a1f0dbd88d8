"""Personal data never goes into clear fields (issue 18.6): what `wire/cleartext.py` detects (18-
and 15-digit ID numbers, mobile numbers) and does not, and how the one payload interpreter
(`wire/schema.py`, used by the contracts, the node and the SDK) refuses it in every string the
schema does not constrain by a pattern, advising to seal prose fields."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import TX_TYPES
from wire import schema as S
from wire.cleartext import PERSONAL_IN_CLEAR, SEALED_TEXT_MAX, find_mobiles, personal_in
from wire.errors import SchemaError
from wire.idnumber import check_char, check_id, check_id15

ID18 = "11010519491231002X"
ID15 = "110105491231002"
FULLWIDTH_ID18 = "".join(chr(ord(c) + 0xFEE0) for c in ID18)


def test_id_numbers() -> None:
    assert check_id(ID18) == ID18 and check_id15(ID15) == ID18
    assert personal_in(f"member {ID18} left") == "an 18-digit ID number"
    assert personal_in(f"ID:{ID18.lower()}") == "an 18-digit ID number"
    assert personal_in(f"见{FULLWIDTH_ID18}") == "an 18-digit ID number"
    assert personal_in(f"old card {ID15}") == "a 15-digit ID number"
    bad_check = ID18[:17] + ("1" if check_char(ID18[:17]) != "1" else "2")
    assert personal_in(bad_check) is None  # not checksum-valid
    assert personal_in("990105491231002") is None  # 99: no province
    assert personal_in("110105491331002") is None  # month 13
    assert personal_in("1" + ID15) is None and personal_in(ID15 + "7") is None  # inside longer runs


@pytest.mark.parametrize(
    "text",
    [
        "call 13812345678",
        "手机：13812345678。",
        "138 1234 5678",
        "138-1234-5678",
        "+86 13812345678",
        "008613812345678",
        "tel１３８１２３４５６７８",
    ],
)
def test_mobile_numbers(text: str) -> None:
    assert personal_in(text) == "a mobile number", text


@pytest.mark.parametrize(
    "text",
    [
        "ref 1381234567",  # 10 digits
        "ts 1700000000000",  # a 13-digit timestamp
        "order 12812345678",  # 12x is no mobile prefix
        "amount 138123456789",  # 12 digits
        "2024-03-15 10:00-11:30, room 1208",
        "张三 (name: the node cannot know)",
    ],
)
def test_what_is_not_detected(text: str) -> None:
    assert personal_in(text) is None, text


def test_find_mobiles_reports_the_number() -> None:
    assert find_mobiles("a 138 1234 5678 b 15912345678") == ["138 1234 5678", "15912345678"]


def _refusal(ftype: S.FieldType, value: Any) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        S.validate(S.Obj((S.req("f", ftype),)), {"f": value})
    return info.value


def test_the_interpreter_refuses_personal_numbers_in_unpatterned_strings() -> None:
    prose = _refusal(S.Str(1024, text=True), f"left, ID {ID18}")
    assert prose.code == PERSONAL_IN_CLEAR and prose.path == "f" and "seal the field" in prose.what
    plain = _refusal(S.Str(64), "13812345678")
    assert plain.code == PERSONAL_IN_CLEAR and "leave the number out" in plain.what
    assert _refusal(S.Json(), {"a": [f"x {ID15}"]}).path == "f.a[0]"
    assert _refusal(S.Json(), {"13812345678": 1}).code == PERSONAL_IN_CLEAR
    listed = _refusal(
        S.List(S.Obj((S.req("reason", S.Str(256, text=True)),)), 4), [{"reason": "ok"}, {"reason": ID18}]
    )
    assert listed.path == "f[1].reason"
    # a pattern constrains the string already: ids and hashes are not scanned
    assert S.validate(S.Obj((S.req("f", S.Str(64, pattern=r"^[0-9]+$")),)), {"f": "13812345678"})


def test_a_prose_field_takes_a_sealed_text_beyond_its_own_limit() -> None:
    field = S.Obj((S.req("f", S.Str(256, text=True)),))
    sealed = "sealed1:" + "A" * 1000
    assert S.validate(field, {"f": sealed}) == {"f": sealed}
    for bad in ("sealed1:" + "A" * (SEALED_TEXT_MAX), "sealed1:not base64!", "sealed1:short"):
        with pytest.raises(SchemaError) as info:
            S.validate(field, {"f": bad})
        assert info.value.code == "bad_format"
    with pytest.raises(SchemaError):  # only prose fields take it
        S.validate(S.Obj((S.req("f", S.Str(256)),)), {"f": sealed})


def test_the_text_flag_survives_the_json_form() -> None:
    for ftype in (S.Str(256, text=True), S.Str(64), S.Str(12, pattern="^a$")):
        assert S.from_json(ftype.to_json()) == ftype
    assert "text" not in S.Str(64).to_json()


def _strings(ftype: S.FieldType, path: str) -> list[tuple[str, S.Str]]:
    if isinstance(ftype, S.Obj):
        return [x for f in ftype.fields for x in _strings(f.type, f"{path}.{f.name}" if path else f.name)]
    if isinstance(ftype, S.List):
        return _strings(ftype.item, f"{path}[]")
    return [(path, ftype)] if isinstance(ftype, S.Str) else []


def test_every_free_text_field_of_the_contracts_is_guarded_and_the_prose_ones_are_named() -> None:
    """Every unpatterned string of every payload schema is scanned (the interpreter's rule); these
    are the prose fields, sealable, that no rule reads."""
    prose, scanned = set(), 0
    for name, tx_spec in TX_TYPES.items():
        for path, ftype in _strings(tx_spec.schema, ""):
            if ftype.pattern is None:
                scanned += 1
                with pytest.raises(SchemaError) as info:
                    S.compile_check(ftype)(f"x {ID18}"[: max(ftype.max_len, 20)], path)
                assert info.value.code == PERSONAL_IN_CLEAR, (name, path)
            if ftype.text:
                prose.add(f"{name}.{path}")
    assert scanned >= 30
    assert prose == {
        "alert.ack.note",
        "alert.resolve.reason",
        "alert.waive.reason",
        "archive.amend.amend_reason",
        "archive.event.reason",
        "decision.amend.amend_reason",
        "decision.amend.recusals[].reason",
        "decision.amend.interests[].relation",
        "decision.record.recusals[].reason",
        "decision.record.interests[].relation",
        "join.step.extra.special_extension_reason",
        "material.amend.amend_reason",
        "meeting.amend.amend_reason",
        "transfer.in.refusal_reason",
        "user.revoke.reason",
    }
