"""The record families: one table of family name, read-API path and state-key prefix.

Every side that names a record family reads it from here: the contracts write records under
`<key_prefix>/<id>`, the read index classifies state keys by it, the read API serves
`/v1/<path>` and `/v1/<path>/<id>/<sub_path>`, the access log names the family it recorded, the
SDK builds its URLs and knows which families carry sealed personal fields.

Key segments: ids that may contain `/` are escaped with `seg` inside keys (`unseg` reverses it);
`prefix_end(p)` is the exclusive upper bound of the keys starting with `p`.

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


# families whose records of an org are listed by a state-key index `idx/<family>/<org>/<id>`, so
# a range over it proves an org's (or a subtree's) list complete
ORG_INDEXED = ("archive", "alert")


def org_index_range(family: str, org_id: str, subtree: bool) -> tuple[bytes, bytes]:
    """[lo, hi) of the index keys of `family` records of `org_id` (with its subtree: org ids are
    dotted paths, and `.` and `/` are adjacent bytes, so the org's own keys and its descendants'
    are one range). `org_id` "" is the whole tree."""
    base = f"idx/{family}/"
    if not org_id:
        return base.encode(), prefix_end(base.encode())
    if subtree:
        return f"{base}{org_id}.".encode(), f"{base}{org_id}0".encode()
    own = f"{base}{org_id}/".encode()
    return own, prefix_end(own)


def record_key_of_index(family: str, index_key: bytes) -> bytes:
    """The record key an org index key points at (`idx/alert/<org>/<id>` -> `alert/<id>`)."""
    base = f"idx/{family}/".encode()
    if not index_key.startswith(base):
        raise ValueError(f"{index_key!r} is not an index key of {family}")
    _, _, rid = index_key[len(base) :].partition(b"/")
    return f"{BY_FAMILY[family].key_prefix}/".encode() + rid


def family_of(name: str) -> RecordFamily | None:
    """The family of a family or child-family name (`archive_version` -> archive)."""
    found = BY_FAMILY.get(name)
    if found is not None:
        return found
    child = CHILDREN.get(name)
    return None if child is None else child[0]


# ------------------------------------------------------------------------------------ key segments
def seg(text: str) -> str:
    """Escape one path segment: `%` -> `%25`, `/` -> `%2F` (ids may contain slashes)."""
    return text.replace("%", "%25").replace("/", "%2F")


def unseg(text: str) -> str:
    return text.replace("%2F", "/").replace("%25", "%")


def prefix_end(prefix: bytes) -> bytes:
    """The exclusive upper bound of all keys starting with `prefix` (prefixes here never end in 0xff)."""
    return prefix[:-1] + bytes((prefix[-1] + 1,))
