"""The rule registry: every rule of DOMAIN.md section B that the contracts implement, once.

Rules:

- Each rule is registered exactly once with its DOMAIN id, colours and disposition exactly as in
  DOMAIN.md's rule index, a one-line description, and its functions (see `contracts.base.Rule`).
- Registry order is the evaluation order and the order of DOMAIN.md's rule index (families JOIN,
  DUP, MAT, ARC, MTG, XFER, DEC; ids ascending within a family); the first REJECT verdict in that
  order names the rule on the receipt.
- Precedence: where two rules claim the same fact and both refuse a transaction, the receipt names
  the more specific one (`PRECEDENCE`: the pairs, with the reason codes that are that fact),
  whatever their registry order; a more specific rule that is OFF or in SHADOW leaves the other
  one in force. A chain (MTG-03, then MTG-07, then XFER-04) is followed in registry order.
- `registry()` returns the rules; `rules_for(tx_type)` those that run on a transaction type;
  `may_outrank(rule, refused_by)` whether a rule can still take a refusal's place, `outranks(v, w)`
  whether refusal `v` takes refusal `w`'s place.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.base import Rule, Verdict
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


@dataclass(frozen=True, slots=True)
class Precedence:
    """`specific` names a refusal that `general` also gives for the same fact: `general_codes` are
    the general rule's reason codes for that fact, `specific_codes` the specific rule's (None: all)."""

    general: str
    specific: str
    fact: str
    general_codes: frozenset[str] | None = None
    specific_codes: frozenset[str] | None = None


PRECEDENCE: tuple[Precedence, ...] = (
    Precedence("JOIN-14", "DUP-06", "an S15 item another person's S15 already cited", frozenset({"no_item"})),
    Precedence("DUP-06", "JOIN-13", "an S14 volunteer-book serial another person holds"),
    Precedence("JOIN-20", "ARC-01", "archive dates of a person with a pipeline"),
    Precedence("JOIN-20", "JOIN-23", "an imported probation extension out of range"),
    Precedence(
        "JOIN-21", "JOIN-23", "an extension decided before the probation ends", frozenset({"premature"})
    ),
    Precedence("XFER-02", "XFER-04", "a transfer-out by the branch the member left"),
    Precedence(
        "MTG-03",
        "MTG-07",
        "an entitled voter who is not a voting member on the date",
        frozenset({"not_a_member"}),
        frozenset({"bad_roster"}),
    ),
    Precedence("MTG-03", "XFER-04", "a person recorded at a vote who had moved away"),
    Precedence("MTG-07", "XFER-04", "an entitled voter or an item's subject who had moved away"),
)
_CHALLENGERS: dict[str, frozenset[str]] = {}
for _p in PRECEDENCE:
    for _r in (_p.general, _p.specific):
        if _r not in _BY_ID:
            raise InvariantError(f"rule precedence names an unregistered rule {_r}")
    _CHALLENGERS[_p.general] = _CHALLENGERS.get(_p.general, frozenset()) | {_p.specific}


def _reaches(start: str, goal: str) -> bool:
    todo, seen = [start], set()
    while todo:
        r = todo.pop()
        if r == goal:
            return True
        if r not in seen:
            seen.add(r)
            todo.extend(_CHALLENGERS.get(r, ()))
    return False


for _p in PRECEDENCE:
    if _reaches(_p.specific, _p.general):
        raise InvariantError(f"rule precedence is circular at {_p.general} and {_p.specific}")


def may_outrank(rule_id: str, refused_by: str) -> bool:
    """Rule `rule_id` may name a refusal instead of rule `refused_by` (it still has to refuse)."""
    return rule_id in _CHALLENGERS.get(refused_by, frozenset())


def outranks(specific: Verdict, general: Verdict) -> bool:
    """Refusal `specific` is the more specific one for a fact refusal `general` gives too."""
    return any(
        p.general == general.rule_id
        and p.specific == specific.rule_id
        and (p.general_codes is None or general.reason_code in p.general_codes)
        and (p.specific_codes is None or specific.reason_code in p.specific_codes)
        for p in PRECEDENCE
    )


def registry() -> tuple[Rule, ...]:
    """Every registered rule, in evaluation order."""
    return _RULES


def rule(rule_id: str) -> Rule:
    if rule_id not in _BY_ID:
        raise InvariantError(f"no rule {rule_id} is registered")
    return _BY_ID[rule_id]


def rules_for(tx_type: str) -> tuple[Rule, ...]:
    return _BY_TX.get(tx_type, ())
