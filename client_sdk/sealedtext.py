"""Sealed texts: the text of a prose field encrypted to the owning org and its ancestors, in the
field itself (docs/privacy.md, issue 18.6). Offline: no IO.

Rules:

- A prose field (`"text": true` in the payload schema: free text no rule reads, such as
  `reason` of `archive.event` or `note` of `alert.ack`) holds either clear text, which must not
  contain an ID or mobile number (`wire/cleartext.py`; the node refuses it with
  `personal_data_in_clear`), or a sealed text: `sealed1:` + base64url (no padding) of the
  canonical msgpack `[nonce, ciphertext, [sealed data key, ...]]`, at most
  `wire.cleartext.SEALED_TEXT_MAX` characters whatever the field's own limit.
- The plaintext is canonical JSON `{"ctx": context, "text": text}` padded with blanks to 64 bytes
  (SecretBox under a random data key); the data key is sealed (SealedBox) to every recipient.
  The recipients are not named (the field's room is small): an org opens a sealed text by trying
  its keys (`OrgKeyring`, current and older versions) on each sealed key. Sealed texts are not
  re-sealed after an org key rotation: keep the older keys in the keyring to read them.
- `text_context(tx_type, org_id, path)` binds a sealed text to its field: opening it with the
  context of another field, transaction type or org fails, so a sealed text cannot be moved.
- `seal_prose(tx_type, payload, seal)` applies `seal(path, text)` to every prose field of a
  payload (or those named), for `PrivacyClient.text_sealer`, a payload transform.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Collection, Sequence
from typing import Any

import nacl.exceptions
import nacl.public
import nacl.secret

from client_sdk.envelopes import PAD_TO, CannotDecrypt, OrgKeyring, PrivacyError, Recipient
from client_sdk.schema import spec
from wire import codec
from wire.cleartext import SEALED_TEXT_MAX, SEALED_TEXT_PREFIX, is_sealed_text
from wire.errors import DecodeError


def text_context(tx_type: str, org_id: str, path: str) -> str:
    """The context a sealed text is bound to: its transaction type, acting org and field path."""
    return f"text:{tx_type}:{org_id}:{path}"


def seal_text(text: str, recipients: Sequence[Recipient], context: str) -> str:
    """`text` sealed to every recipient (the owning org first, then its ancestors)."""
    if not recipients:
        raise PrivacyError("a sealed text needs at least one recipient org key")
    plain = json.dumps({"ctx": context, "text": text}, ensure_ascii=False, separators=(",", ":")).encode()
    plain += b" " * (-len(plain) % PAD_TO)
    key = os.urandom(nacl.secret.SecretBox.KEY_SIZE)
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    ct = bytes(nacl.secret.SecretBox(key).encrypt(plain, nonce).ciphertext)
    keys = [bytes(nacl.public.SealedBox(nacl.public.PublicKey(r.public)).encrypt(key)) for r in recipients]
    packed = codec.encode([nonce, ct, keys])
    out = SEALED_TEXT_PREFIX + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")
    if len(out) > SEALED_TEXT_MAX:
        raise PrivacyError(
            f"the text is too long to seal into a field ({len(out)} > {SEALED_TEXT_MAX} characters)"
        )
    return out


def open_text(value: str, keyring: OrgKeyring, *, context: str | None = None) -> str:
    """The clear text of a sealed text, opened with one of the keyring's keys; its context checked
    when given. CannotDecrypt when no key of the keyring opens it."""
    if not is_sealed_text(value):
        raise PrivacyError("not a sealed text")
    raw = value[len(SEALED_TEXT_PREFIX) :]
    try:
        doc = codec.decode(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        nonce, ct, sealed = doc
        if not isinstance(nonce, bytes) or not isinstance(ct, bytes) or not isinstance(sealed, list):
            raise ValueError
    except (DecodeError, ValueError, TypeError):
        raise PrivacyError("the sealed text does not decode") from None
    for item in sealed:
        for secret in keyring.keys:
            try:
                key = nacl.public.SealedBox(nacl.public.PrivateKey(secret.secret)).decrypt(item)
                plain = nacl.secret.SecretBox(key).decrypt(ct, nonce)
                found = json.loads(plain.decode("utf-8"))
            except (nacl.exceptions.CryptoError, ValueError, TypeError):
                continue
            if context is not None and found.get("ctx") != context:
                raise PrivacyError(f"the sealed text belongs to {found.get('ctx')!r}, not to {context!r}")
            return str(found["text"])
    raise CannotDecrypt(f"no key of {keyring.org_id} opens this sealed text")


def seal_prose(
    tx_type: str,
    payload: dict[str, Any],
    seal: Callable[[str, str], str],
    fields: Collection[str] | None = None,
) -> dict[str, Any]:
    """A copy of `payload` whose prose fields hold `seal(path, text)` instead of their text: every
    one, or those whose path is in `fields` (list items as `name[]`, e.g. `recusals[].reason`).
    Texts already sealed are left as they are."""

    def walk(schema: dict[str, Any], value: Any, path: str, pattern: str) -> Any:
        kind = schema.get("type")
        if kind == "object" and isinstance(value, dict):
            by_name = {f["name"]: f["schema"] for f in schema["fields"]}
            return {
                k: walk(by_name[k], v, f"{path}.{k}" if path else k, f"{pattern}.{k}" if pattern else k)
                if k in by_name
                else v
                for k, v in value.items()
            }
        if kind == "list" and isinstance(value, list):
            return [walk(schema["item"], v, f"{path}[{i}]", f"{pattern}[]") for i, v in enumerate(value)]
        prose = kind == "str" and schema.get("text") and isinstance(value, str) and value
        if prose and (fields is None or pattern in fields) and not value.startswith(SEALED_TEXT_PREFIX):
            return seal(path, value)
        return value

    out: dict[str, Any] = walk(spec(tx_type)["payload"], payload, "", "")
    return out
