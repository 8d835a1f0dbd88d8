"""The person-key secret and the hashing service behind `POST /v1/person-keys` (docs/privacy.md).

Rules:

- The secret file (`[privacy] person_key_secret_file` of node.toml; `network init` writes it) holds
  one `version:hex` line per secret version (blank lines and `#` comments allowed), each at least
  16 bytes, versions distinct positive integers. The highest version is current; older ones stay
  so keys made with them can still be looked up after a rotation. Every node of a network holds
  the same file (person keys must agree across the tree).
- The file must be readable by its owner only (no group or other bits: mode 0600 or 0400); the
  node refuses to start otherwise, or when the file is malformed. The secret is never on the
  ledger, never logged, never in an error message or a repr.
- `compute` validates each ID number itself (it never trusts the client's check) and answers per
  item: the person key and, with a name, the name key, for the current version (or every version).
  The answer never contains the number, only `mask_id` of it.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.errors import ConfigError
from wire.idnumber import IdNumberError, birth_date_of, check_id, mask_id, name_key, person_key

SECRET_MIN_BYTES = 16


@dataclass(frozen=True, slots=True)
class PersonKeySecrets:
    """Versioned HMAC secrets (never printed: the repr shows versions only)."""

    _secrets: Mapping[int, bytes]

    def __repr__(self) -> str:
        return f"PersonKeySecrets(versions={sorted(self._secrets)})"

    @property
    def current(self) -> int:
        return max(self._secrets)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._secrets))

    def secret(self, version: int) -> bytes:
        return self._secrets[version]

    @classmethod
    def parse(cls, text: str, where: str = "the person-key secret") -> PersonKeySecrets:
        secrets: dict[int, bytes] = {}
        for n, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            version, sep, hexed = line.partition(":")
            try:
                v = int(version)
                raw = bytes.fromhex(hexed.strip())
            except ValueError:
                raise ConfigError(f"{where}: line {n} is not `version:hex`") from None
            if not sep or v < 1:
                raise ConfigError(f"{where}: line {n} is not `version:hex` with a version >= 1")
            if len(raw) < SECRET_MIN_BYTES:
                raise ConfigError(f"{where}: version {v} is shorter than {SECRET_MIN_BYTES} bytes")
            if v in secrets:
                raise ConfigError(f"{where}: version {v} appears twice")
            secrets[v] = raw
        if not secrets:
            raise ConfigError(f"{where} holds no secret")
        return cls(secrets)

    @classmethod
    def load(cls, path: Path) -> PersonKeySecrets:
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="ascii")
        except OSError as exc:
            raise ConfigError(f"cannot read the person-key secret {path}: {exc.strerror}") from exc
        except UnicodeDecodeError:
            raise ConfigError(f"the person-key secret {path} is not `version:hex` lines") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"the person-key secret {path} is accessible by group or others; chmod 600 it")
        return cls.parse(text, f"the person-key secret {path}")


@dataclass(frozen=True, slots=True)
class KeyRequest:
    id_number: str
    name: str | None = None
    birth_date: str | None = None


class PersonKeyService:
    def __init__(self, secrets: PersonKeySecrets) -> None:
        self.secrets = secrets

    def compute(self, items: Sequence[KeyRequest], *, all_versions: bool = False) -> list[dict[str, Any]]:
        versions = self.secrets.versions if all_versions else (self.secrets.current,)
        out: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            try:
                n = check_id(item.id_number)
                born = birth_date_of(n)
                if item.birth_date is not None and item.birth_date != born:
                    raise IdNumberError(
                        "birth_date", "birth date differs from positions 7-14 of the ID number"
                    )
            except IdNumberError as exc:
                out.append(
                    {
                        "index": i,
                        "ok": False,
                        "masked": mask_id(item.id_number),
                        "error": {"code": exc.code, "message": str(exc)},
                    }
                )
                continue
            keys = []
            for v in sorted(versions, reverse=True):
                secret = self.secrets.secret(v)
                entry: dict[str, Any] = {"key_version": v, "person_key": person_key(secret, n)}
                if item.name:
                    entry["name_key"] = name_key(secret, item.name, born)
                keys.append(entry)
            out.append({"index": i, "ok": True, "masked": mask_id(n), "keys": keys})
        return out
