"""Rule configuration as governed ledger state: reading it, changing it, rolling a new rule-set
version out in shadow first, and the official working-day calendar (DOMAIN.md sections C, 0.5).

Rules:

- The configuration in force is the `cfg/g/<key>` entries (global) and `cfg/o/<org>/<key>`
  entries (per organisation, applying to its subtree); `cfg/g/version` is the rule-set version
  recorded on every alert. Every change bumps it by one and leaves `cfg/h/<version>` = what changed
  (key, org, old and new value), who signed, the transaction and the reason; so an auditor can
  rebuild the configuration in force at any alert.
- `config.set` changes one value: a global value, or any value for one org, by an `admin` of the
  central (root) org; or a value for the signer's own org when the key is in
  `config_delegated_keys` (the org the value belongs to, where delegated), by an admin of that org.
  Engine keys (`GLOBAL_ONLY`) are never per org. A value must have the type of the default, a
  listed choice where there are choices, and integers at least their minimum (0, or `MINIMUMS`).
- `config.rollout` (central admin) proposes a new rule-set version: a list of changes. For the rest
  of its block and the next `shadow_blocks` blocks (at least `rollout_shadow_blocks`) every
  transaction is also judged under the candidate configuration, and what the candidate would do
  differently goes to the receipt's `shadow` list: a verdict it adds as itself, a verdict it drops
  as `DROP_FLAG` / `DROP_REJECT`; nothing of it is enforced. At the start of block
  `start + shadow_blocks + 1` the changes bind (one version bump). One rollout at a time;
  `config.cancel_rollout` (central admin) withdraws it. Deadlines always run under the
  configuration in force.
- `calendar.set` (central admin) records the official calendar of one year: its public holidays
  and its make-up working days (调休). Versioned per year (`cal/<year>/v/<n>` immutable) and a
  rule-set change (version bump). `contracts.workdays.working_days` counts Monday to Friday minus holidays plus
  make-up days; a year without a calendar on the ledger counts Monday to Friday and says so.
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import BlockContext, TxCtx, TxSpec
from contracts.config import RULE_MODES, Config
from contracts.errors import TxRejected, invariant
from contracts.identity import require_org, require_role
from contracts.records import DOC_TYPES, STEPS
from contracts.schema import ORG_PATTERN, Date, Int, Json, List, Obj, Str, opt, req
from contracts.state import View
from wire.genesis import LEVELS, org_depth

PERIODS = ("MONTH", "QUARTER", "HALF_YEAR", "YEAR")
CHOICES: dict[str, tuple[str, ...]] = {
    "dec_quorum": ("HALF", "TWO_THIRDS"),
    "party_lesson_period": PERIODS,
    "thought_report_period": PERIODS,
    "approval_authority_level": LEVELS,
}
# values below which a rule or the engine stops making sense (a streak of 0 meetings flags
# everyone; a stale-transaction window under a minute would refuse even the fix)
MINIMUMS: dict[str, int] = {
    "absence_streak_n": 1,
    "rush_window_days": 1,
    "split_window_days": 1,
    "stale_tx_ms": 60_000,
    "node_proposal_ttl_ms": 3_600_000,
}
GLOBAL_ONLY = (
    "version",
    "org_overrides",
    "rule_modes",
    "stale_tx_ms",
    "endorsement_clock_tolerance_ms",
    "approval_authority_level",
    "config_delegated_keys",
    "rollout_shadow_blocks",
    "node_validator_approvals",
    "node_observer_approvals",
    "node_proposal_ttl_ms",
)


# ----------------------------------------------------------------------------------- reading
def load_config(view: View) -> Config:
    values: dict[str, Any] = {}
    overrides: dict[str, dict[str, Any]] = {}
    for _, rec in view.scan_prefix("cfg/g/"):
        values[rec["key"]] = rec["value"]
    for _, rec in view.scan_prefix("cfg/o/"):
        overrides.setdefault(rec["org_id"], {})[rec["key"]] = rec["value"]
    invariant("version" in values, "the state has no rule configuration (cfg/g/version)")
    return Config(values=values, overrides=overrides)


def load_candidate(view: View, config: Config) -> Config | None:
    """The configuration a pending rollout would bring (None when there is none)."""
    rollout = view.get(keys.cfg_rollout())
    if rollout is None:
        return None
    values = dict(config.values)
    overrides = {org: dict(v) for org, v in config.overrides.items()}
    for ch in rollout["changes"]:
        if ch["org_id"] is None:
            values[ch["key"]] = ch["value"]
        else:
            overrides.setdefault(ch["org_id"], {})[ch["key"]] = ch["value"]
    values["version"] = config.version + 1
    return Config(values=values, overrides=overrides)


# ---------------------------------------------------------------------------------- validation
def check_value(config: Config, key: str, value: Any, org_id: str | None) -> None:
    """A change of `key` to `value` (for `org_id`, or global) is well-formed."""
    if key not in config.values or key in ("version", "org_overrides"):
        raise TxRejected("unknown_config_key", f"{key!r} is not a settable configuration key")
    if org_id is not None and key in GLOBAL_ONLY:
        raise TxRejected("global_only", f"{key} is one value for the whole ledger")
    default = config.values[key]
    if type(value) is not type(default):
        raise TxRejected("wrong_type", f"{key} takes a {type(default).__name__}")
    if type(value) is int and value < MINIMUMS.get(key, 0):
        raise TxRejected("out_of_range", f"{key} is at least {MINIMUMS.get(key, 0)}")
    if key in CHOICES and value not in CHOICES[key]:
        raise TxRejected("bad_value", f"{key} is one of {', '.join(CHOICES[key])}")
    if key == "rule_modes":
        from contracts.rules import registry

        known = {r.rule_id for r in registry()}
        for rule_id in sorted(value):
            if rule_id not in known or value[rule_id] not in RULE_MODES:
                raise TxRejected("bad_value", f"rule_modes: {rule_id} -> {value[rule_id]!r}")
    elif key == "stage_required_docs":
        for step in sorted(value):
            kinds = value[step]
            if step not in STEPS or type(kinds) is not list or any(k not in DOC_TYPES for k in kinds):
                raise TxRejected("bad_value", f"stage_required_docs: {step} -> {kinds!r}")
    elif key in ("node_validator_approvals", "node_observer_approvals"):
        _check_node_approvals(key, value)
    elif key == "config_delegated_keys" and any(
        type(k) is not str or k not in config.values or k in GLOBAL_ONLY for k in value
    ):
        raise TxRejected("bad_value", "config_delegated_keys lists per-org configuration keys")


def _check_node_approvals(key: str, value: dict[str, Any]) -> None:
    """The two node-approval rules: a map of exactly their fields, a fraction in (0, 1]."""
    if key == "node_validator_approvals":
        frac = value.get("orgs_fraction")
        ok = (
            set(value) == {"orgs_fraction", "own_org"}
            and type(value["own_org"]) is bool
            and isinstance(frac, list)
            and len(frac) == 2
            and all(type(x) is int for x in frac)
            and 0 < frac[0] <= frac[1]
        )
        if not ok:
            raise TxRejected(
                "bad_value", 'node_validator_approvals is {"orgs_fraction": [num, den], "own_org": bool}'
            )
    elif set(value) != {"own_org", "parent_org"} or any(type(v) is not bool for v in value.values()):
        raise TxRejected("bad_value", 'node_observer_approvals is {"own_org": bool, "parent_org": bool}')


def _is_central_admin(view: View, tx: TxCtx) -> bool:
    user = require_role(view, tx, ("admin",))
    return org_depth(str(user["org_id"])) == 1


def _require_central_admin(view: View, tx: TxCtx) -> None:
    if not _is_central_admin(view, tx):
        raise TxRejected("central_admin_required", "only an admin of the central org may do this")


# --------------------------------------------------------------------------------- applying
def apply_changes(view: View, changes: list[dict[str, Any]], meta: dict[str, Any]) -> int:
    """Write `changes` as the next rule-set version; return it."""
    head = view.require(keys.cfg_global("version"))
    version = int(head["value"]) + 1
    logged = []
    for ch in changes:
        key, org = ch["key"], ch["org_id"]
        entry = keys.cfg_global(key) if org is None else keys.cfg_org(org, key)
        old = view.get(entry)
        logged.append({"key": key, "org_id": org, "old": None if old is None else old["value"]})
        logged[-1]["new"] = ch["value"]
        rec: dict[str, Any] = {"key": key, "value": ch["value"], "version": version}
        if org is not None:
            rec["org_id"] = org
        view.put(entry, rec)
    view.put(keys.cfg_global("version"), {"key": "version", "value": version, "version": version})
    view.put(keys.cfg_history(version), dict(meta, version=version, changes=logged))
    return version


def _meta(view: View, tx: TxCtx, kind: str) -> dict[str, Any]:
    user = require_role(view, tx, ("admin",))
    return {
        "kind": kind,
        "tx_id": tx.tx_hex,
        "by": tx.signer.hex(),
        "user_id": user["user_id"],
        "org_id": tx.org_id,
        "height": tx.height,
        "time_ms": tx.time_ms,
        "reason": tx.payload["reason"],
    }


def bind_rollout(view: View, ctx: BlockContext) -> bool:
    """At the start of a block: bind a rollout whose shadow period is over. True if one bound."""
    rollout = view.get(keys.cfg_rollout())
    if rollout is None or ctx.height < rollout["bind_height"]:
        return False
    meta = {
        "kind": "rollout",
        "tx_id": rollout["tx_id"],
        "by": rollout["by"],
        "user_id": rollout["user_id"],
        "org_id": rollout["org_id"],
        "height": ctx.height,
        "time_ms": ctx.time_ms,
        "reason": rollout["reason"],
        "proposed_height": rollout["start_height"],
    }
    version = apply_changes(view, rollout["changes"], meta)
    done = dict(rollout, state="BOUND", bound_height=ctx.height, version=version)
    view.put(keys.cfg_rollout_done(rollout["start_height"], rollout["tx_id"]), done)
    view.delete(keys.cfg_rollout())
    return True


# ------------------------------------------------------------------------------- transactions
_CHANGE = (
    req("key", Str(64), "a key of the rule configuration (DOMAIN.md section C)"),
    req("value", Json(), "the new value, of the default's type"),
    opt("org_id", Str(164, pattern=ORG_PATTERN), "the org the value belongs to (null: global)"),
)
CONFIG_SET = Obj((*_CHANGE, req("reason", Str(1024))))
CONFIG_ROLLOUT = Obj(
    (
        req("changes", List(Obj(_CHANGE), 32, min_len=1)),
        opt("shadow_blocks", Int(0, 10_000_000), "default and minimum: rollout_shadow_blocks"),
        req("reason", Str(1024)),
    )
)
CONFIG_CANCEL = Obj((req("reason", Str(1024)),))
CALENDAR_SET = Obj(
    (
        req("year", Int(1949, 2200)),
        opt("holidays", List(Date(), 64, unique=True), "public holidays (放假)", default=[]),
        opt("workdays", List(Date(), 32, unique=True), "make-up working days (调休上班)", default=[]),
        req("reason", Str(1024)),
    )
)


def _check_change(view: View, tx: TxCtx, config: Config, ch: Any) -> None:
    org = ch["org_id"]
    if org is not None:
        require_org(view, org)
    check_value(config, ch["key"], ch["value"], org)


def _check_set(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    _check_change(view, tx, config, p)
    user = require_role(view, tx, ("admin",))
    central = org_depth(str(user["org_id"])) == 1
    if not central:
        delegated = config.values["config_delegated_keys"]
        if p["org_id"] != tx.org_id or p["key"] not in delegated:
            raise TxRejected(
                "central_admin_required",
                f"{p['key']} for {p['org_id'] or 'the whole ledger'} is set by a central admin"
                + (" (delegated keys: by the org itself)" if delegated else ""),
            )
    current = config.values[p["key"]] if p["org_id"] is None else config.get(p["key"], p["org_id"])
    entry = keys.cfg_global(p["key"]) if p["org_id"] is None else keys.cfg_org(p["org_id"], p["key"])
    if current == p["value"] and view.exists(entry):
        raise TxRejected("no_change", f"{p['key']} already has this value")


def _apply_set(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    apply_changes(
        view, [{"key": p["key"], "value": p["value"], "org_id": p["org_id"]}], _meta(view, tx, "set")
    )


def _check_rollout(view: View, tx: TxCtx, config: Config) -> None:
    _require_central_admin(view, tx)
    if view.exists(keys.cfg_rollout()):
        raise TxRejected("rollout_pending", "another rollout is in its shadow period")
    p = tx.payload
    seen = set()
    for ch in p["changes"]:
        _check_change(view, tx, config, ch)
        pair = (ch["key"], ch["org_id"] or "")
        if pair in seen:
            raise TxRejected("duplicate_item", f"{ch['key']} is changed twice")
        seen.add(pair)
    minimum = config.get_int("rollout_shadow_blocks")
    if p["shadow_blocks"] is not None and p["shadow_blocks"] < minimum:
        raise TxRejected("out_of_range", f"a rollout runs in shadow for at least {minimum} blocks")


def _apply_rollout(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    blocks = p["shadow_blocks"] if p["shadow_blocks"] is not None else config.get_int("rollout_shadow_blocks")
    meta = _meta(view, tx, "rollout")
    view.put(
        keys.cfg_rollout(),
        {
            "changes": [{"key": c["key"], "value": c["value"], "org_id": c["org_id"]} for c in p["changes"]],
            "shadow_blocks": blocks,
            "start_height": tx.height,
            "bind_height": tx.height + blocks + 1,
            "base_version": config.version,
            "state": "SHADOW",
            **{k: meta[k] for k in ("tx_id", "by", "user_id", "org_id", "reason")},
        },
    )


def _check_cancel(view: View, tx: TxCtx, config: Config) -> None:
    _require_central_admin(view, tx)
    if not view.exists(keys.cfg_rollout()):
        raise TxRejected("no_rollout", "no rollout is pending")


def _apply_cancel(view: View, tx: TxCtx, config: Config) -> None:
    rollout = view.require(keys.cfg_rollout())
    done = dict(rollout, state="CANCELLED", cancelled_by=tx.tx_hex, cancel_reason=tx.payload["reason"])
    view.put(keys.cfg_rollout_done(rollout["start_height"], rollout["tx_id"]), done)
    view.delete(keys.cfg_rollout())


def _check_calendar(view: View, tx: TxCtx, config: Config) -> None:
    _require_central_admin(view, tx)
    p = tx.payload
    year = str(p["year"])
    for d in (*p["holidays"], *p["workdays"]):
        if not d.startswith(year + "-"):
            raise TxRejected("bad_value", f"{d} is not in {year}")
    if set(p["holidays"]) & set(p["workdays"]):
        raise TxRejected("bad_value", "a day is either a holiday or a make-up working day")


def _apply_calendar(view: View, tx: TxCtx, config: Config) -> None:
    p = tx.payload
    year = p["year"]
    head = view.get(keys.calendar(year))
    version = 1 if head is None else int(head["version"]) + 1
    rec = {
        "year": year,
        "holidays": sorted(p["holidays"]),
        "workdays": sorted(p["workdays"]),
        "version": version,
        "tx_id": tx.tx_hex,
        "height": tx.height,
        "reason": p["reason"],
    }
    view.put(keys.calendar(year), rec)
    view.put(keys.calendar_version(year, version), rec)
    meta = _meta(view, tx, "calendar")
    meta["calendar"] = {"year": year, "version": version}
    apply_changes(view, [], meta)


_CENTRAL = "an admin of the central (root) org"
TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec(
        name="config.set",
        family="config",
        description="Change one rule configuration value (global, or for one org); bumps the version.",
        signers=_CENTRAL + "; a delegated key for its own org: an admin of that org",
        schema=CONFIG_SET,
        check=_check_set,
        apply=_apply_set,
    ),
    TxSpec(
        name="config.rollout",
        family="config",
        description="Propose a new rule-set version: shadow for N blocks (receipt.shadow), then binding.",
        signers=_CENTRAL,
        schema=CONFIG_ROLLOUT,
        check=_check_rollout,
        apply=_apply_rollout,
    ),
    TxSpec(
        name="config.cancel_rollout",
        family="config",
        description="Withdraw the pending rollout before it binds.",
        signers=_CENTRAL,
        schema=CONFIG_CANCEL,
        check=_check_cancel,
        apply=_apply_cancel,
    ),
    TxSpec(
        name="calendar.set",
        family="config",
        description="Record a year's official working-day calendar (holidays, make-up days); versioned.",
        signers=_CENTRAL,
        schema=CALENDAR_SET,
        check=_check_calendar,
        apply=_apply_calendar,
    ),
)
