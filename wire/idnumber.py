"""Chinese resident ID numbers (GB 11643-1999): validation, normalisation, masking, person keys.

Rules (../shared/DOMAIN.md A.0, docs/privacy.md):

- `normalise_id`: trim, full-width to half-width (digits, letters, spaces), a final `x` becomes `X`.
  Nothing else is changed: inner spaces or other characters make the number invalid, not "fixed".
- `check_id` validates the normalised number: 18 characters, digits 1-17 decimal, the 18th a
  digit or `X`, digits 7-14 a real calendar date between 1900-01-01 and 2099-12-31, and the GB
  11643 MOD 11-2 check character (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, `r = sum mod 11`,
  check = "10X98765432"[r]). Each failure raises `IdNumberError` naming what is wrong (the
  length, the character at position k, the impossible date, "check character: expected X, got
  Y") and never quoting the whole number.
- `person_key = HMAC-SHA256(K_v, normalise(ID))` (the ASCII bytes); `name_key = HMAC-SHA256(K_v,
  normalise_name(name) || 0x00 || birth_date)` with the UTF-8 name. The node computes both (it
  holds K_v); the functions live here so the definition is one.
- `mask_id` shows at most the first 6 and the last 4 characters; `mask_text` masks every
  18-character ID-number-shaped run inside a text (logs, paths, messages).
- First-generation numbers (15 digits: region code, `YYMMDD` birth date in 1900-1999, sequence;
  no check character) are recognised by `check_id15` (a known province code in digits 1-2 and a
  real date; it answers the 18-character form GB 11643 gives the same person: `19` inserted
  before the year and the check character appended) and found in text by `find_id_numbers_15`.
  Without a check character a 15-digit run is an ID number only by its shape, so these are used
  where a false alarm costs a message (refusing clear text), not to scan arbitrary data.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date

ID_LENGTH = 18
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
BIRTH_MIN, BIRTH_MAX = date(1900, 1, 1), date(2099, 12, 31)
# an ID-number-shaped run (half- or full-width): 17 digits and a digit or X, not inside a longer
# run of digits (letters around it do not protect it: "ID110105..." is masked too)
_D = "0-9\uff10-\uff19"
_ID_RUN = re.compile(rf"(?<![{_D}])([{_D}]{{6}})[{_D}]{{8}}([{_D}]{{3}}[{_D}Xx\uff38\uff58])(?![{_D}])")
_HEX64 = re.compile(r"[0-9a-f]{64}")
ID15_LENGTH = 15
_ID15_RUN = re.compile(rf"(?<![{_D}])[{_D}]{{15}}(?![{_D}])")
# GB/T 2260 provinces (the first two digits of every resident ID number)
PROVINCE_CODES = frozenset(
    (
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
    )
)


class IdNumberError(ValueError):
    """The ID number is not valid; `code` says which check failed, the message says where."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _halfwidth(ch: str) -> str:
    o = ord(ch)
    if 0xFF01 <= o <= 0xFF5E:  # full-width ASCII variants
        return chr(o - 0xFEE0)
    if o == 0x3000:  # ideographic space
        return " "
    return ch


def normalise_id(raw: str) -> str:
    """Trim, full-width to half-width, final `x` to `X` (DOMAIN A.0). No other change."""
    text = "".join(_halfwidth(c) for c in raw).strip()
    if text.endswith("x"):
        text = text[:-1] + "X"
    return text


def check_char(first17: str) -> str:
    """The GB 11643 MOD 11-2 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def check_id(raw: str) -> str:
    """The normalised ID number, or IdNumberError naming what is wrong."""
    if not isinstance(raw, str):
        raise IdNumberError("wrong_type", "an ID number is a string")
    n = normalise_id(raw)
    if len(n) != ID_LENGTH:
        raise IdNumberError("length", f"length: an ID number has {ID_LENGTH} characters, this one {len(n)}")
    for i, ch in enumerate(n[:17], start=1):
        if not ("0" <= ch <= "9"):
            raise IdNumberError("character", f"character at position {i} must be a digit 0-9, not {ch!r}")
    last = n[17]
    if not ("0" <= last <= "9" or last == "X"):
        raise IdNumberError(
            "character", f"character at position 18 (the check character) must be 0-9 or X, not {last!r}"
        )
    y, m, d = int(n[6:10]), int(n[10:12]), int(n[12:14])
    try:
        born = date(y, m, d)
    except ValueError:
        raise IdNumberError(
            "birth_date",
            f"birth date (positions 7-14) {n[6:10]}-{n[10:12]}-{n[12:14]} is not a calendar date",
        ) from None
    if not BIRTH_MIN <= born <= BIRTH_MAX:
        raise IdNumberError(
            "birth_date", f"birth date (positions 7-14) {born.isoformat()} is outside 1900-01-01..2099-12-31"
        )
    expected = check_char(n[:17])
    if last != expected:
        raise IdNumberError("check_char", f"check character: expected {expected}, got {last}")
    return n


def check_id15(raw: str) -> str:
    """The 18-character form of a valid first-generation (15-digit) ID number, or IdNumberError."""
    if not isinstance(raw, str):
        raise IdNumberError("wrong_type", "an ID number is a string")
    n = normalise_id(raw)
    if len(n) != ID15_LENGTH or not n.isascii() or not n.isdigit():
        raise IdNumberError("length", f"a first-generation ID number has {ID15_LENGTH} digits")
    if int(n[:2]) not in PROVINCE_CODES:
        raise IdNumberError("region", f"positions 1-2 ({n[:2]}) are no province code")
    try:
        date(1900 + int(n[6:8]), int(n[8:10]), int(n[10:12]))
    except ValueError:
        raise IdNumberError(
            "birth_date",
            f"birth date (positions 7-12) 19{n[6:8]}-{n[8:10]}-{n[10:12]} is not a calendar date",
        ) from None
    first17 = n[:6] + "19" + n[6:]
    return first17 + check_char(first17)


def is_valid_id15(raw: str) -> bool:
    try:
        check_id15(raw)
    except IdNumberError:
        return False
    return True


def find_id_numbers_15(text: str) -> list[str]:
    """The valid first-generation ID numbers (normalised, 15 digits) among the 15-digit runs of `text`."""
    if len(text) < ID15_LENGTH:
        return []
    return [n for m in _ID15_RUN.finditer(text) if is_valid_id15(n := normalise_id(m.group(0)))]


def is_valid_id(raw: str) -> bool:
    try:
        check_id(raw)
    except IdNumberError:
        return False
    return True


def birth_date_of(raw: str) -> str:
    """Digits 7-14 of a valid ID number as YYYY-MM-DD."""
    n = check_id(raw)
    return f"{n[6:10]}-{n[10:12]}-{n[12:14]}"


def mask_id(raw: str) -> str:
    """At most the first 6 and the last 4 characters, the rest `*` (shorter inputs: all masked)."""
    n = normalise_id(raw) if isinstance(raw, str) else ""
    if len(n) < 12:
        return "*" * len(n)
    return n[:6] + "*" * (len(n) - 10) + n[-4:]


def mask_text(text: str) -> str:
    """Mask every ID-number-shaped run (18 characters, half- or full-width) inside `text`.

    Over-masking is preferred to a leak: a hex string with 18 digits in a row is masked too
    (`mask_path` spares whole 64-hex path segments, which are keys and hashes)."""
    if len(text) < ID_LENGTH:
        return text
    return _ID_RUN.sub(lambda m: m.group(1) + "********" + m.group(2), text)


def find_id_numbers(text: str) -> list[str]:
    """The valid ID numbers (normalised) among the ID-number-shaped runs of `text`."""
    if len(text) < ID_LENGTH:
        return []
    return [n for m in _ID_RUN.finditer(text) if is_valid_id(n := normalise_id(m.group(0)))]


def mask_path(path: str) -> str:
    """`mask_text` per `/`-separated segment, sparing segments that are 64 hex characters."""
    if len(path) < ID_LENGTH:
        return path
    return "/".join(p if _HEX64.fullmatch(p) else mask_text(p) for p in path.split("/"))


def normalise_name(name: str) -> str:
    """NFKC, trimmed, inner whitespace runs collapsed to one space (name_key's input)."""
    return " ".join(unicodedata.normalize("NFKC", name).split())


def person_key(secret: bytes, id_number: str) -> str:
    """HMAC-SHA256(K_v, normalise(ID)) as hex; the ID must be valid."""
    return hmac.new(secret, check_id(id_number).encode("ascii"), hashlib.sha256).hexdigest()


def name_key(secret: bytes, name: str, birth_date: str) -> str:
    """HMAC-SHA256(K_v, normalise_name(name) || 0x00 || birth_date) as hex."""
    if not normalise_name(name):
        raise ValueError("an empty name has no name key")
    date.fromisoformat(birth_date)
    msg = normalise_name(name).encode("utf-8") + b"\x00" + birth_date.encode("ascii")
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()
