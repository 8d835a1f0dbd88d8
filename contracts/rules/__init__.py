"""The rule registry: every rule of DOMAIN.md section B that the contracts implement, once.

Rules:

- Each rule is registered exactly once with its DOMAIN id, colours and disposition exactly as in
  DOMAIN.md's rule index, a one-line description, and its functions (see `contracts.base.Rule`).
- Registry order is the evaluation order (families in DOMAIN order: JOIN, DUP, MAT, ARC, XFER;
  ids ascending within a family); the first REJECT verdict in that order names the rule on the
  receipt.
- `registry()` returns the rules; `rules_for(tx_type)` those that run on a transaction type.
"""

from __future__ import annotations

from contracts.base import Rule
from contracts.errors import InvariantError
from contracts.rules import arc, dup, join, mat, xfer

_RULES: tuple[Rule, ...] = (*join.RULES, *dup.RULES, *mat.RULES, *arc.RULES, *xfer.RULES)
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
