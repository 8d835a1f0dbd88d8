"""The record families: one table of family name, read-API path and state-key prefix.

Every side that names a record family reads it from here: the contracts write records under
`<key_prefix>/<id>`, the read index classifies state keys by it, the read API serves
`/v1/<path>` and `/v1/<path>/<id>/<sub_path>`, the access log names the family it recorded, the
SDK builds its URLs and knows which families carry sealed personal fields.

Rules: a family's children are sub-collections of one record, stored at
`<key_prefix>/<id>/<key_part>/<n>` and served at `/v1/<path>/<id>/<sub_path>`; `id_is_hex` means
the record id is a 64-hex person key; `sealed` means the record may carry an encryption envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Child:
    """A sub-collection of a record: its family name, URL sub-path and state-key part."""

    family: str
    sub_path: str
    key_part: str


@dataclass(frozen=True, slots=True)
class RecordFamily:
    family: str
    path: str
    key_prefix: str
    children: tuple[Child, ...] = ()
    id_is_hex: bool = False
    sealed: bool = False


FAMILIES: tuple[RecordFamily, ...] = (
    RecordFamily(
        "archive",
        "archives",
        "archive",
        (Child("archive_version", "versions", "v"),),
        id_is_hex=True,
        sealed=True,
    ),
    RecordFamily("material", "materials", "doc", (Child("material_version", "versions", "v"),), sealed=True),
    RecordFamily("pipeline", "pipelines", "pipeline", (Child("pipeline_step", "steps", "ev"),)),
    RecordFamily("transfer", "transfers", "transfer", (Child("transfer_in", "in", "in"),)),
    RecordFamily("meeting", "meetings", "meeting", (Child("meeting_version", "versions", "v"),), sealed=True),
    RecordFamily(
        "decision", "decisions", "decision", (Child("decision_version", "versions", "v"),), sealed=True
    ),
    RecordFamily("alert", "alerts", "alert"),
)

BY_FAMILY = MappingProxyType({f.family: f for f in FAMILIES})
BY_PATH = MappingProxyType({f.path: f for f in FAMILIES})
BY_KEY_PREFIX = MappingProxyType({f.key_prefix: f for f in FAMILIES})
CHILDREN = MappingProxyType({c.family: (f, c) for f in FAMILIES for c in f.children})
"""Child family name -> (its parent family, the child)."""


def family_of(name: str) -> RecordFamily | None:
    """The family of a family or child-family name (`archive_version` -> archive)."""
    found = BY_FAMILY.get(name)
    if found is not None:
        return found
    child = CHILDREN.get(name)
    return None if child is None else child[0]
