"""Person keys from a node (`POST /v1/person-keys`), the SDK side (docs/privacy.md).

Rules:

- An ID number is validated here (`wire.idnumber.check_id`, and the birth date against it)
  before anything is sent; an invalid one raises IdNumberError and is never sent.
- The answer carries the keys and a masked number, never the number: `PersonKey` holds the newest
  key, its masked number and birth date, and the older key versions.
- Requests go through the client that owns this object (`client_sdk.privacy.PrivacyClient`, as
  `client.person_keys`), in batches of at most `PersonKeys.MAX_BATCH`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from client_sdk.errors import ApiError
from wire.idnumber import IdNumberError, birth_date_of, check_id, mask_id


class Requester(Protocol):
    """What `PersonKeys` needs of its client: one JSON request."""

    def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class PersonKey:
    """A person key from the node: never the ID number itself."""

    person_key: str
    key_version: int
    masked: str  # at most the first 6 and the last 4 characters of the ID number
    birth_date: str  # digits 7-14 of the ID number
    name_key: str | None = None
    older: tuple[tuple[int, str, str | None], ...] = ()  # (version, person_key, name_key) of older secrets


class PersonKeys:
    """Person keys from a node (`POST /v1/person-keys`): the ID number is validated here first and
    never sent when invalid; the answer carries the keys and a masked number, never the number."""

    MAX_BATCH = 64

    def __init__(self, client: Requester) -> None:
        self._client = client

    @staticmethod
    def _item(id_number: str, name: str | None, birth_date: str | None) -> dict[str, Any]:
        n = check_id(id_number)
        born = birth_date_of(n)
        if birth_date is not None and birth_date != born:
            raise IdNumberError(
                "birth_date", "birth date differs from the one in the ID number (positions 7-14)"
            )
        item: dict[str, Any] = {"id_number": n}
        if name is not None:
            item["name"] = name
            item["birth_date"] = born
        return item

    def get(
        self,
        id_number: str,
        *,
        name: str | None = None,
        birth_date: str | None = None,
        all_versions: bool = False,
    ) -> PersonKey:
        return self.batch([(id_number, name, birth_date)], all_versions=all_versions)[0]

    def batch(
        self, entries: Sequence[str | tuple[str, str | None, str | None]], *, all_versions: bool = False
    ) -> list[PersonKey]:
        """Person keys for several ID numbers (optionally with name (and birth date) for the
        name key); any invalid number raises IdNumberError before anything is sent."""
        items = []
        for e in entries:
            id_number, name, born = (e, None, None) if isinstance(e, str) else e
            items.append(self._item(id_number, name, born))
        out: list[PersonKey] = []
        for i in range(0, len(items), self.MAX_BATCH):
            chunk = items[i : i + self.MAX_BATCH]
            doc = self._client.request(
                "POST", "/v1/person-keys", json={"items": chunk, "all_versions": all_versions}
            )
            answers = doc.get("items", [])
            if len(answers) != len(chunk):
                raise ApiError(200, "bad_response", "the node answered another number of items")
            for sent, ans in zip(chunk, answers, strict=True):
                if not ans.get("ok"):
                    err = ans.get("error", {})
                    raise IdNumberError(str(err.get("code", "invalid")), str(err.get("message", "")))
                keys = sorted(ans["keys"], key=lambda k: -int(k["key_version"]))
                top = keys[0]
                out.append(
                    PersonKey(
                        person_key=str(top["person_key"]),
                        key_version=int(top["key_version"]),
                        masked=mask_id(sent["id_number"]),
                        birth_date=birth_date_of(sent["id_number"]),
                        name_key=top.get("name_key"),
                        older=tuple(
                            (int(k["key_version"]), str(k["person_key"]), k.get("name_key")) for k in keys[1:]
                        ),
                    )
                )
        return out
