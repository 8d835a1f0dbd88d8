"""Personal data that must never travel in a clear text field of a payload (issue 18.6): the one
definition, used through the payload-schema interpreter (`wire/schema.py`) by the contracts (so
by the node at admission, proposal validation and execution, and by the auditor) and by the SDK
and the CLI before anything is signed.

Rules:

- `personal_in(text)` names the first personal number found in `text` (None when there is none):
  - an 18-character resident ID number with a valid check character and birth date
    (`wire.idnumber.find_id_numbers`);
  - a 15-digit first-generation ID number with a province code and a real 19YY birth date
    (`wire.idnumber.find_id_numbers_15`);
  - a mainland mobile number: 11 digits `1[3-9]x xxxx xxxx`, the three groups written together
    or separated by one space or hyphen, optionally after `+86`, `0086` or `86`.
  Digits may be half- or full-width; a number inside a longer run of digits is not one.
- What it cannot detect, and nobody should believe it does: names, addresses, numbers written
  in words, split otherwise, or spread over several fields. Those are the SDK's job: seal them.
- A sealed text (`SEALED_TEXT_PREFIX` + base64url, made by the SDK's `seal_text`) is what a
  prose field (`wire.schema.Str(text=True)`) holds instead of its clear text; it may be up to
  SEALED_TEXT_MAX characters whatever the field's own limit.
- Pure: no IO, clock or randomness (the contracts import it).
"""

from __future__ import annotations

import re

from wire.idnumber import find_id_numbers, find_id_numbers_15

PERSONAL_IN_CLEAR = "personal_data_in_clear"
SEALED_TEXT_PREFIX = "sealed1:"
SEALED_TEXT_MAX = 4096
SEALED_TEXT_RE = re.compile(r"^sealed1:[A-Za-z0-9_-]{40,4088}$")

_HALF = str.maketrans(
    {**{chr(0xFF10 + i): str(i) for i in range(10)}, "\uff0b": "+", "\uff0d": "-", "\u3000": " "}
)
_MOBILE = re.compile(r"(?<![0-9])(?:(?:\+|00)?86[ -]?)?1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}(?![0-9])")


def find_mobiles(text: str) -> list[str]:
    """The mainland mobile numbers in `text` (as written, half-width)."""
    return [m.group(0) for m in _MOBILE.finditer(text.translate(_HALF))]


def personal_in(text: str) -> str | None:
    """What personal number `text` holds in clear ("an 18-digit ID number", ...), or None."""
    if len(text) < 11:
        return None
    if find_id_numbers(text):
        return "an 18-digit ID number"
    if find_id_numbers_15(text):
        return "a 15-digit ID number"
    if find_mobiles(text):
        return "a mobile number"
    return None


def is_sealed_text(value: str) -> bool:
    """Whether `value` has the form of a sealed text (not whether it opens)."""
    return value.startswith(SEALED_TEXT_PREFIX) and SEALED_TEXT_RE.match(value) is not None
