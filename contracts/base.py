"""The engine's value types: block context and outcome, the transaction as rules see it, verdicts,
rules and due-index entries. All frozen dataclasses; no behaviour beyond small derived properties.

Rules:

- A rule is a small pure function. `fn(view, tx, ctx, config) -> verdicts` runs before the
  transaction is applied, on the state as it was (the engine runs every rule registered for the
  tx type, in registry order). `schedule(view, tx, ctx, config) -> due requests` runs after an
  accepted transaction was applied and returns deadlines to put in the due index. `on_due(view,
  entry, ctx, config) -> verdicts` runs when block time passes a due entry's time; it re-checks the
  condition on the state of that moment (a deadline that was met produces nothing); it may update
  the bookkeeping record its own rule keeps (MTG-06's series streaks), never a family's records.
  `next_due(view, entry, ctx, config) -> due requests` runs after every firing of an entry of the
  rule, whatever the rule's mode, so a periodic deadline (a meeting series due each period) keeps
  its rhythm; an entry it schedules whose time has passed fires in the same block.
- A verdict with disposition REJECT refuses the transaction (the first in registry order names
  the rule on the receipt, unless a rule that outranks it refuses too: contracts.rules.PRECEDENCE);
  FLAG verdicts become alert records. A rule may only return colours
  it is registered with, and REJECT only if its registered disposition includes REJECT.
- `dedup_key`: a verdict carrying one raises its alert at most once per (rule, key) in the whole
  history (e.g. one DUP-05 alert per pair of archives, not one per amendment).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from contracts.calendar import cst_date
from wire.types import Receipt

if TYPE_CHECKING:
    from contracts.config import Config
    from contracts.state import View


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockContext:
    chain_id: str
    height: int
    time_ms: int  # block timestamp (UTC epoch ms) agreed by consensus: the ONLY clock

    @property
    def today(self) -> date:
        return cst_date(self.time_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockOutcome:
    writes: tuple[tuple[bytes, bytes | None], ...]  # final value per key touched (None = delete), sorted
    receipts: tuple[Receipt, ...]  # one per transaction, in block order


class Colour(StrEnum):
    RED = "RED"
    YELLOW = "YELLOW"
    BLUE = "BLUE"


class Disposition(StrEnum):
    REJECT = "REJECT"
    FLAG = "FLAG"


@dataclass(frozen=True, slots=True, kw_only=True)
class TxCtx:
    """A transaction after the engine's checks: what families and rules read."""

    tx_id: bytes
    tx_type: str
    org_id: str
    signer: bytes
    approvers: tuple[bytes, ...]
    payload: Mapping[str, Any]
    time_ms: int
    height: int
    signature: bytes = b""  # the main signature (kept on alert history steps as the signed act)

    @property
    def tx_hex(self) -> str:
        return self.tx_id.hex()

    @property
    def today(self) -> date:
        """The CST date of the block: `registered_at` / `submitted_at` of what this tx writes."""
        return cst_date(self.time_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    rule_id: str
    colour: Colour
    disposition: Disposition
    reason_code: str
    reason: str
    subject_keys: tuple[str, ...] = ()
    record_refs: tuple[str, ...] = ()
    org_id: str | None = None  # the subject org; defaults to the transaction's (or due entry's) org
    details: Mapping[str, Any] = field(default_factory=dict)
    dedup_key: str | None = None


def reject(rule_id: str, code: str, reason: str, **kw: Any) -> Verdict:
    return Verdict(
        rule_id=rule_id,
        colour=Colour.RED,
        disposition=Disposition.REJECT,
        reason_code=code,
        reason=reason,
        **kw,
    )


def flag(rule_id: str, colour: Colour, code: str, reason: str, **kw: Any) -> Verdict:
    return Verdict(
        rule_id=rule_id, colour=colour, disposition=Disposition.FLAG, reason_code=code, reason=reason, **kw
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DueRequest:
    """A deadline to watch: at `at_ms` (block time) call the rule's `on_due` with `ref`."""

    at_ms: int
    rule_id: str
    tag: str  # distinguishes several deadlines of one rule on one record ("reminder", "report", ...)
    ref: Mapping[str, Any]
    org_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DueEntry:
    key: str
    at_ms: int
    rule_id: str
    tag: str
    ref: Mapping[str, Any]
    org_id: str


RuleFn = Callable[["View", TxCtx, BlockContext, "Config"], Sequence[Verdict]]
ScheduleFn = Callable[["View", TxCtx, BlockContext, "Config"], Sequence[DueRequest]]
DueFn = Callable[["View", DueEntry, BlockContext, "Config"], Sequence[Verdict]]
NextDueFn = Callable[["View", DueEntry, BlockContext, "Config"], Sequence[DueRequest]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    rule_id: str
    colours: tuple[Colour, ...]
    disposition: str  # exactly as DOMAIN.md's rule index: "REJECT", "FLAG" or "REJECT+FLAG"
    description: str
    family: str
    tx_types: tuple[str, ...] = ()
    fn: RuleFn | None = None
    schedule: ScheduleFn | None = None
    on_due: DueFn | None = None
    next_due: NextDueFn | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "colours": [c.value for c in self.colours],
            "disposition": self.disposition,
            "description": self.description,
            "family": self.family,
            "tx_types": list(self.tx_types),
            "deadlines": self.on_due is not None,
        }


CheckFn = Callable[["View", TxCtx, "Config"], None]
ApplyFn = Callable[["View", TxCtx, "Config"], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class TxSpec:
    """One transaction type: its payload schema, who may sign it, and its family's handlers.

    `check` raises TxRejected for permission and structural problems (before any rule runs);
    `apply` writes the records of an accepted transaction (after every rule passed).
    `signed_by` is "user" (a live registered key of the transaction's org) or "node" (a genesis
    node key of that org; such types take no approvals and user keys cannot sign them).
    """

    name: str
    family: str
    description: str
    signers: str  # who may sign, in words (the check enforces it)
    schema: Any  # contracts.schema.Obj (Any here to keep base free of the schema module)
    check: CheckFn
    apply: ApplyFn
    signed_by: str = "user"

    def to_json(self) -> dict[str, Any]:
        return {
            "tx_type": self.name,
            "family": self.family,
            "description": self.description,
            "signers": self.signers,
            "signed_by": self.signed_by,
            "payload": self.schema.to_json(),
        }
