"""The rule registry: every rule of DOMAIN.md section B that the contracts implement, once.

Rules:

- Each rule is registered exactly once with its DOMAIN id, colours and disposition exactly as in
  DOMAIN.md's rule index, a one-line description, and its functions (see `contracts.base.Rule`).
- Registry order is the evaluation order and the order of DOMAIN.md's rule index (families JOIN,
  DUP, MAT, ARC, MTG, XFER, DEC; ids ascending within a family); the first REJECT verdict in that
  order names the rule on the receipt.
- `registry()` returns the rules; `rules_for(tx_type)` those that run on a transaction type.
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


def registry() -> tuple[Rule, ...]:
    """Every registered rule, in evaluation order."""
    return _RULES


def rule(rule_id: str) -> Rule:
    if rule_id not in _BY_ID:
        raise InvariantError(f"no rule {rule_id} is registered")
    return _BY_ID[rule_id]


def rules_for(tx_type: str) -> tuple[Rule, ...]:
    return _BY_TX.get(tx_type, ())
