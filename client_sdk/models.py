"""What the clients return: committed transactions, records, pages, histories and stream events.

`Committed` is built only from what verified against the client's genesis (`client_sdk.proofs`).
Records, pages, histories and alert events are built from state values proven against a
certified state root (`client_sdk.readproofs`) when the client verifies reads (the default):
then `proven_height` is the height whose state they were proven at; it is None for what a client
with `verify_reads=False` took on the node's word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from client_sdk.proofs import VerifiedTx
from wire.families import FAMILIES as RECORD_FAMILIES
from wire.types import BlockHeader, CommitCertificate

FAMILIES: dict[str, str] = {f.family: f.path for f in RECORD_FAMILIES}
"""Record family -> its path under /v1 (docs/api.md; the table is `wire/families.py`)."""

CHILDREN: dict[str, tuple[str, str]] = {
    c.family: (f.path, c.sub_path) for f in RECORD_FAMILIES for c in f.children
}
"""Child family -> (parent path, sub-path): /v1/<parent>/<id>/<sub>."""


@dataclass(frozen=True, slots=True)
class Committed:
    """A transaction the client saw committed, with the proof it verified.

    `header` and `certificate` are block `height`'s, verified against the genesis validator set;
    the transaction is leaf `index` of that block's tx root. `receipt` is the receipt proven by
    the results root a later certified header carries when `receipt_verified` (the default of
    `submit`), else the node's unproven rendering."""

    tx_id: bytes
    height: int
    index: int
    receipt: dict[str, Any]
    header: BlockHeader
    certificate: CommitCertificate
    receipt_verified: bool
    proof: VerifiedTx

    @property
    def accepted(self) -> bool:
        return self.receipt.get("status") == "ACCEPTED"

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The alerts the transaction raised: `alert_id`, `rule_id`, `colour`."""
        return list(self.receipt.get("alerts") or [])

    @property
    def block_hash(self) -> bytes:
        return self.header.hash


@dataclass(frozen=True, slots=True)
class Record:
    """One item of a record list or lookup (docs/api.md: "A record item").

    Verified (`proven_height` set): every field comes from the proven value bytes; for callers
    who read hashes only (auditors) the proof covers the key and the value hash, so `family`,
    `id`, `parent_id`, `state_key` and `value_hash` are set, `org_id` only when a proven org index
    names it, the other columns and `record` are None. `persons`: the person keys the record
    names (what a member history is made of). `updated_height` is the index's and never proven."""

    family: str
    id: str
    org_id: str | None
    state_key: str
    value_hash: str
    other_org_id: str | None = None
    parent_id: str | None = None
    person_key: str | None = None
    status: str | None = None
    kind: str | None = None
    colour: str | None = None
    day: str | None = None
    updated_height: int | None = None
    record: dict[str, Any] | None = None  # None for callers who read hashes only (auditors)
    proven_height: int | None = None
    persons: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Record:
        return cls(
            family=str(doc["family"]),
            id=str(doc["id"]),
            org_id=str(doc["org_id"]),
            state_key=str(doc["state_key"]),
            value_hash=str(doc["value_hash"]),
            other_org_id=doc.get("other_org_id"),
            parent_id=doc.get("parent_id"),
            person_key=doc.get("person_key"),
            status=doc.get("status"),
            kind=doc.get("kind"),
            colour=doc.get("colour"),
            day=doc.get("day"),
            updated_height=doc.get("updated_height"),
            record=doc.get("record"),
        )

    @property
    def rule_id(self) -> str | None:
        """Alerts: the rule that raised it (the index's `kind`)."""
        return self.kind if self.family == "alert" else None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its items, the height it reflects, and the cursor of the next page.

    `proven_height`: the height whose certified state every item was proven at (None: not
    verified). `complete`: the page is proven to hold every record of what was asked between the
    previous page's end and its own (an org's or subtree's archives or alerts, unfiltered); else
    each item is proven but the list may lack some."""

    items: list[Any]
    height: int
    next_cursor: str | None
    complete: bool = False
    proven_height: int | None = None


@dataclass(frozen=True, slots=True)
class History:
    """Everything about one person the caller may see (`GET /v1/members/{pk}/history`)."""

    person_key: str
    height: int
    items: list[Record]
    truncated: bool
    proven_height: int | None = None  # every item proven at this height (None: not verified)
    complete: bool = False  # a history is never proven complete: each item is

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def of(self, family: str) -> list[Record]:
        return [r for r in self.items if r.family == family]


@dataclass(frozen=True, slots=True)
class Event:
    """One event of the stream (`GET /v1/events`).

    `kind` is "block" (a committed block: `height`, `hash`, `time_ms`, `tx_count`, `accepted`,
    `rejected`; `header` and `certificate` verified against the genesis when the client verifies
    events) or "alert" (a new alert in the caller's scope: the alert record in `data`). A block's
    alerts come before the block itself: the block event closes its height."""

    kind: str
    height: int
    data: dict[str, Any]
    header: BlockHeader | None = field(default=None, compare=False)
    certificate: CommitCertificate | None = field(default=None, compare=False)
    proven_height: int | None = None  # alerts: `data` is the alert proven at this height

    @property
    def alert_id(self) -> str | None:
        return self.data.get("alert_id") if self.kind == "alert" else None

    @property
    def colour(self) -> str | None:
        return self.data.get("colour") if self.kind == "alert" else None

    @property
    def rule_id(self) -> str | None:
        return self.data.get("rule_id") if self.kind == "alert" else None
