"""The rule registry: every rule of DOMAIN.md section B that the contracts implement, once.

Rules:

- Each rule is registered exactly once with its DOMAIN id, colours and disposition exactly as in
  DOMAIN.md's rule index, a one-line description, and its functions (see `contracts.base.Rule`).
- Registry order is the evaluation order and the order of DOMAIN.md's rule index (families JOIN,
  DUP, MAT, ARC, MTG, XFER, DEC; ids ascending within a family); the first REJECT verdict in that
  order names the rule on the receipt.
- Precedence: where two rules claim the same fact and both refuse a transaction, the receipt names
  the more specific one (`PRECEDENCE`: a rule -> the rules that outrank it, transitively), whatever
  their registry order; a more specific rule that is OFF or in SHADOW leaves the other one in force.
- `registry()` returns the rules; `rules_for(tx_type)` those that run on a transaction type;
  `outranks(a, b)` whether rule `a` is more specific than rule `b`.
"""

from __future__ import annotations

from contracts.base import Rule
from contracts.errors import InvariantError
from contracts.rules import (
    arc,
    dec,
    dec_money,
    dup,
    join,
    join_admission,
    join_approval,
    join_probation,
    join_stages,
    mat,
    mtg,
    mtg_series,
    xfer,
)


def _by_number(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    return tuple(sorted(rules, key=lambda r: int(r.rule_id.rsplit("-", 1)[1])))


_JOIN = _by_number(
    (*join.RULES, *join_stages.RULES, *join_admission.RULES, *join_approval.RULES, *join_probation.RULES)
)
_MTG = _by_number((*mtg.RULES, *mtg_series.RULES))
_DEC = _by_number((*dec.RULES, *dec_money.RULES))
_RULES: tuple[Rule, ...] = (*_JOIN, *dup.RULES, *mat.RULES, *arc.RULES, *_MTG, *xfer.RULES, *_DEC)
_BY_ID: dict[str, Rule] = {}
for _rule in _RULES:
    if _rule.rule_id in _BY_ID:
        raise InvariantError(f"rule {_rule.rule_id} is registered twice")
    _BY_ID[_rule.rule_id] = _rule
_BY_TX: dict[str, tuple[Rule, ...]] = {}
for _rule in _RULES:
    for _tx_type in _rule.tx_types:
        _BY_TX[_tx_type] = (*_BY_TX.get(_tx_type, ()), _rule)


# general rule -> the more specific rules that name a refusal both describe (docs/contracts.md)
PRECEDENCE: dict[str, tuple[str, ...]] = {
    "JOIN-14": ("DUP-06",),  # an S15 item another person's S15 already cited: the duplicate join
    "DUP-06": ("JOIN-13",),  # an S14 volunteer-book serial held by another person: the S14 rule
    "JOIN-20": ("ARC-01", "JOIN-23"),  # archive dates with a pipeline; an extension out of range
    "JOIN-21": ("JOIN-23",),  # an extension decided before the probation ends
    "XFER-02": ("XFER-04",),  # a transfer-out by the branch the member has left
    "MTG-03": ("MTG-07", "XFER-04"),  # an entitled voter who is not a voting member / has moved
    "MTG-07": ("XFER-04",),  # an entitled voter (or the item's subject) who has moved away
}


def _closure(rule_id: str) -> frozenset[str]:
    seen: set[str] = set()
    todo = list(PRECEDENCE.get(rule_id, ()))
    while todo:
        r = todo.pop()
        if r not in seen:
            seen.add(r)
            todo.extend(PRECEDENCE.get(r, ()))
    return frozenset(seen)


_OUTRANKS = {r: _closure(r) for r in PRECEDENCE}
for _general, _specific in _OUTRANKS.items():
    if _general in _specific:
        raise InvariantError(f"rule precedence is circular at {_general}")
    for _r in (_general, *_specific):
        if _r not in _BY_ID:
            raise InvariantError(f"rule precedence names an unregistered rule {_r}")


def outranks(specific: str, general: str) -> bool:
    """Rule `specific` names a refusal that rule `general` also gives (PRECEDENCE, transitively)."""
    return specific in _OUTRANKS.get(general, frozenset())


def registry() -> tuple[Rule, ...]:
    """Every registered rule, in evaluation order."""
    return _RULES


def rule(rule_id: str) -> Rule:
    if rule_id not in _BY_ID:
        raise InvariantError(f"no rule {rule_id} is registered")
    return _BY_ID[rule_id]


def rules_for(tx_type: str) -> tuple[Rule, ...]:
    return _BY_TX.get(tx_type, ())
