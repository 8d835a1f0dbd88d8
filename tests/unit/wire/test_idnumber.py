"""ID numbers: GB 11643 validation with errors that say what is wrong, normalisation, masking, keys."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wire.idnumber import (
    IdNumberError,
    birth_date_of,
    check_char,
    check_id,
    mask_id,
    mask_path,
    mask_text,
    name_key,
    normalise_id,
    person_key,
)

VALID = "11010519491231002X"  # the standard's own example


def make(first17: str) -> str:
    return first17 + check_char(first17)


def test_the_standard_example_and_its_check_character() -> None:
    assert check_char(VALID[:17]) == "X"
    assert check_id(VALID) == VALID
    assert birth_date_of(VALID) == "1949-12-31"


def test_normalisation_trims_full_width_and_final_x() -> None:
    full = "".join(chr(ord(c) + 0xFEE0) for c in VALID[:17]) + "ｘ"
    assert normalise_id(f"\u3000 {full} ") == VALID
    assert normalise_id(VALID.lower()) == VALID
    assert check_id(" 11010519491231002x\n") == VALID


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        ("1101051949123100", "length", "18 characters, this one 16"),
        ("11010519491231002X1", "length", "this one 19"),
        ("1101A519491231002X", "character", "position 5"),
        ("110105 9491231002X", "character", "position 7"),
        ("11010519491231002Y", "character", "position 18"),
        (make("11010519490230002"), "birth_date", "1949-02-30 is not a calendar date"),
        (make("11010518991231002"), "birth_date", "outside"),
        ("110105194912310020", "check_char", "expected X, got 0"),
    ],
)
def test_each_failure_names_what_is_wrong(raw: str, code: str, words: str) -> None:
    with pytest.raises(IdNumberError) as info:
        check_id(raw)
    assert info.value.code == code and words in str(info.value)
    assert raw not in str(info.value)  # the message never quotes the number


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_one_changed_digit_is_always_caught(first17: str) -> None:
    """MOD 11-2 detects every single-digit substitution (when the date stays valid)."""
    valid = make(first17)
    for pos in (0, 3, 15, 16):
        for d in "0123456789":
            if d == valid[pos]:
                continue
            changed = valid[:pos] + d + valid[pos + 1 :]
            with pytest.raises(IdNumberError):
                check_id(changed)


def test_masking_keeps_at_most_6_and_4() -> None:
    assert mask_id(VALID) == "110105********002X"
    assert mask_id("short") == "*****"
    text = f"looked up {VALID} and ID{VALID.lower()}; full width {'１' * 17}Ｘ; keep 1234567890123456789"
    masked = mask_text(text)
    assert VALID not in masked and VALID.lower() not in masked and "１" * 17 not in masked
    assert masked.count("********") == 3 and "1234567890123456789" in masked
    hexkey = "ab" + "1" * 60 + "cd"
    assert mask_path(f"/v1/archives/{hexkey}?q={VALID}") == f"/v1/archives/{hexkey}?q=110105********002X"


def test_person_and_name_keys_are_the_documented_hmacs() -> None:
    secret = b"k" * 32
    assert person_key(secret, VALID.lower()) == hmac.new(secret, VALID.encode(), hashlib.sha256).hexdigest()
    expected = hmac.new(secret, "张 三丰".encode() + b"\x001949-12-31", hashlib.sha256).hexdigest()
    assert name_key(secret, " 张  三丰 ", "1949-12-31") == expected
    with pytest.raises(IdNumberError):
        person_key(secret, "110105194912310020")


def test_log_records_are_masked_by_the_node_filter(caplog: pytest.LogCaptureFixture) -> None:
    from node.privacy.logmask import install_log_masking

    install_log_masking()
    log = logging.getLogger("orgledger.test.masking")
    with caplog.at_level(logging.INFO):
        log.info("person %s asked for %s", "张三", VALID)
        try:
            raise ValueError(f"bad {VALID}")
        except ValueError:
            log.exception("failed on %s", VALID)
    text = caplog.text
    assert VALID not in text and "110105********002X" in text
