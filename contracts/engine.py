"""The contract engine: applies a block's transactions in order to a state view.

Rules:

- Pure and deterministic: block time (`BlockContext.time_ms`) is the only clock; nothing iterates
  a set or depends on hash seeds; writes come out sorted by key. Same blocks in, same writes and
  receipts out, on every machine.
- At the start of a block a rollout whose shadow period is over binds (contracts.governance),
  the node changes of a validator epoch starting at this height take effect and node proposals
  whose time passed expire (contracts.nodes, contracts.nodegov), then every due entry with time <= block time fires, in key order (see contracts.alerts); the
  follow-ups a firing schedules (`Rule.next_due`, strictly later than the entry) fire in the same
  block when their time has passed too, so a periodic deadline catches up after any quiet gap.
- Per transaction, in order: replay (`tx/<id>` marker exists: `replayed`), chain id
  (`wrong_chain`), `client_time_ms` within `stale_tx_ms` of block time (`stale_tx`), known type
  (`unknown_tx_type`), payload schema, signer key registered, live and of the transaction's org
  (`unknown_signer`, `key_revoked`, `key_rotated`, `wrong_org`), every approval signature from a
  live key (`bad_approval`), the org exists; then the family's `check` (permissions, structure),
  then every rule registered for the type (registry order; the first REJECT refuses the tx and
  names its rule, unless a rule that outranks it (`contracts.rules.PRECEDENCE`) refuses it too),
  then the family's `apply`, then alerts for FLAG verdicts and deadlines.
- Each transaction runs in its own overlay: a rejected one changes no state (its overlay is
  dropped) but keeps its receipt; every processed transaction, accepted or rejected, leaves the
  replay marker `tx/<id>` = {height, status}. A replayed one writes nothing.
- Rules in SHADOW mode (`rule_modes`) report verdicts in the receipt's `shadow` list only; OFF
  rules do not run; neither schedules or fires deadlines (a periodic chain keeps its rhythm).
- While a rollout is pending, the rules also run under its candidate configuration; what it would
  do differently goes to `shadow` (added verdicts as they are, dropped ones as `DROP_<disposition>`).
- Limits: a receipt lists at most 1,024 written keys (each <= 512 characters) and 256 alerts; a
  transaction exceeding them is rejected (`too_many_writes`, `key_too_long`, `too_many_alerts`).
- Preconditions (the caller's): the main and approval signatures verified; `txs` decoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import keys
from contracts.alerts import due_entries, schedule_due, write_alert
from contracts.base import BlockContext, BlockOutcome, Disposition, DueEntry, Rule, TxCtx, TxSpec, Verdict
from contracts.config import Config
from contracts.errors import TxRejected, invariant
from contracts.governance import bind_rollout, load_candidate, load_config
from contracts.identity import get_user, live_user, require_org
from contracts.nodegov import expire as expire_node_proposals
from contracts.nodes import activate as activate_epoch
from contracts.rules import may_outrank, outranks, rules_for
from contracts.rules import rule as rule_by_id
from contracts.schema import validate
from contracts.state import Overlay, StateReader, View
from contracts.txtypes import TX_TYPES
from wire.errors import WireError
from wire.types import (
    MAX_APPROVALS,
    MAX_RECEIPT_ITEMS,
    RECEIPT_ACCEPTED,
    RECEIPT_REJECTED,
    AlertRef,
    Receipt,
    ShadowVerdict,
    SignedTransaction,
)

MAX_RECEIPT_WRITES = 4 * MAX_RECEIPT_ITEMS
MAX_KEY_CHARS = 512


def execute_block(state: StateReader, ctx: BlockContext, txs: Sequence[SignedTransaction]) -> BlockOutcome:
    """Apply `txs` in order on top of `state`; return the writes and one receipt per transaction."""
    block = Overlay(state)
    view = View(block)
    meta = view.get(keys.meta_chain())
    invariant(meta is not None, "the state has no meta/chain record: was genesis_state applied?")
    invariant(meta is not None and meta["chain_id"] == ctx.chain_id, "block chain id differs from genesis")
    bind_rollout(view, ctx)
    activate_epoch(view, ctx)
    expire_node_proposals(view, ctx)
    config = load_config(view)
    _fire_due(view, ctx, config)
    candidate = load_candidate(view, config)
    receipts = []
    for tx in txs:
        receipt, cfg_written = _execute_tx(block, ctx, tx, config, candidate)
        receipts.append(receipt)
        if cfg_written:
            config = load_config(view)
            candidate = load_candidate(view, config)
    return BlockOutcome(writes=tuple(block.written()), receipts=tuple(receipts))


def _fire_due(view: View, ctx: BlockContext, config: Config) -> None:
    """Fire every due entry with time <= block time, then the follow-ups that came due meanwhile."""
    entries = due_entries(view, ctx.time_ms)
    while entries:
        for entry in entries:
            view.delete(entry.key)
            rule = rule_by_id(entry.rule_id)
            if rule.on_due is not None and config.rule_mode(rule.rule_id) == "ENFORCE":
                _due_alerts(view, ctx, config, rule, entry)
            if rule.next_due is not None:
                for req in rule.next_due(view, entry, ctx, config):
                    invariant(req.rule_id == rule.rule_id, f"rule {rule.rule_id} scheduled for {req.rule_id}")
                    invariant(req.at_ms > entry.at_ms, f"{rule.rule_id}: a follow-up must come later")
                    schedule_due(view, req)
        entries = due_entries(view, ctx.time_ms)


def _due_alerts(view: View, ctx: BlockContext, config: Config, rule: Rule, entry: DueEntry) -> None:
    verdicts = rule.on_due(view, entry, ctx, config) if rule.on_due is not None else ()
    for i, v in enumerate(verdicts):
        _check_verdict(rule, v)
        invariant(v.disposition == Disposition.FLAG, f"{rule.rule_id}: a deadline can only flag")
        write_alert(
            view,
            v,
            source={"due": entry.key, "height": ctx.height},
            # a due key can come back (a periodic reminder); the height keeps its alerts apart
            source_id=f"{entry.key}#{ctx.height}",
            index=i,
            org_id=entry.org_id,
            time_ms=ctx.time_ms,
            height=ctx.height,
            config=config,
        )


def _check_verdict(rule: Rule, v: Verdict) -> None:
    invariant(v.rule_id == rule.rule_id, f"rule {rule.rule_id} returned a verdict of {v.rule_id}")
    invariant(v.colour in rule.colours, f"rule {rule.rule_id} returned colour {v.colour}")
    if v.disposition == Disposition.REJECT:
        invariant("REJECT" in rule.disposition, f"rule {rule.rule_id} may not reject")


def _execute_tx(
    block: Overlay, ctx: BlockContext, tx: SignedTransaction, config: Config, candidate: Config | None
) -> tuple[Receipt, bool]:
    marker = keys.tx_marker(tx.tx_id.hex())
    block_view = View(block)
    if block_view.exists(marker):
        return _rejected(tx, TxRejected("replayed", "this transaction was already processed")), False
    overlay = Overlay(block)
    view = View(overlay)
    shadow: list[ShadowVerdict] = []
    try:
        t, spec = _admit(view, ctx, tx, config)
        spec.check(view, t, config)
        flags = _run_rules(view, t, ctx, config, candidate, shadow)
        spec.apply(view, t, config)
        alerts = _raise_alerts(view, t, ctx, config, flags)
        _schedule(view, t, ctx, config)
        written = [k.decode("utf-8") for k, _ in overlay.written()]
        if len(written) > MAX_RECEIPT_WRITES:
            raise TxRejected("too_many_writes", f"{len(written)} keys written, limit {MAX_RECEIPT_WRITES}")
        if any(len(k) > MAX_KEY_CHARS for k in written):
            raise TxRejected(
                "key_too_long", f"an id makes a state key longer than {MAX_KEY_CHARS} characters"
            )
    except TxRejected as exc:
        block_view.put(marker, {"height": ctx.height, "status": RECEIPT_REJECTED})
        return _rejected(tx, exc, shadow), False
    overlay.merge_into(block)
    block_view.put(marker, {"height": ctx.height, "status": RECEIPT_ACCEPTED})
    receipt = Receipt(
        tx_id=tx.tx_id,
        status=RECEIPT_ACCEPTED,
        alerts=tuple(alerts),
        writes=tuple(written),
        shadow=tuple(shadow[:MAX_RECEIPT_ITEMS]),
    )
    return receipt, any(k.startswith("cfg/") for k in written)


def _rejected(tx: SignedTransaction, exc: TxRejected, shadow: Sequence[ShadowVerdict] = ()) -> Receipt:
    return Receipt(
        tx_id=tx.tx_id,
        status=RECEIPT_REJECTED,
        rule_id=exc.rule_id[:32],
        reason_code=exc.code[:64],
        reason=exc.message[:1024],
        shadow=tuple(shadow[:MAX_RECEIPT_ITEMS]),
    )


def _admit(view: View, ctx: BlockContext, tx: SignedTransaction, config: Config) -> tuple[TxCtx, Any]:
    try:
        body = tx.body
    except WireError as exc:
        raise TxRejected("malformed", f"the transaction body does not decode: {exc}") from exc
    if body.chain_id != ctx.chain_id:
        raise TxRejected("wrong_chain", f"the transaction is for chain {body.chain_id!r}")
    if abs(body.client_time_ms - ctx.time_ms) > config.get_int("stale_tx_ms"):
        raise TxRejected("stale_tx", "client_time_ms is too far from the block time")
    spec = TX_TYPES.get(body.tx_type)
    if spec is None:
        raise TxRejected("unknown_tx_type", f"unknown transaction type {body.tx_type!r}")
    payload = checked_payload(tx, spec)
    if spec.signed_by == "node":
        _node_signer(view, body.signer, body.org_id, len(tx.approvals))
    else:
        user = live_user(view, body.signer)
        if user["org_id"] != body.org_id:
            raise TxRejected("wrong_org", f"the signer belongs to {user['org_id']}, not {body.org_id}")
    approvers = tuple(a.signer for a in tx.approvals)
    if len(approvers) > MAX_APPROVALS or len(set(approvers)) != len(approvers) or body.signer in approvers:
        raise TxRejected("bad_approval", "approvals must be distinct keys other than the signer")
    for key in approvers:
        rec = get_user(view, key)
        if rec is None or rec["status"] != "ACTIVE":
            raise TxRejected("bad_approval", f"approval key {key.hex()[:16]}… is not a live registered key")
    require_org(view, body.org_id)
    t = TxCtx(
        tx_id=tx.tx_id,
        tx_type=body.tx_type,
        org_id=body.org_id,
        signer=body.signer,
        approvers=approvers,
        payload=payload,
        time_ms=ctx.time_ms,
        height=ctx.height,
        signature=tx.signature,
    )
    return t, spec


def _node_signer(view: View, signer: bytes, org_id: str, approvals: int) -> None:
    """Node-signed types: the signer is a node's key in force, acting for its own org, alone."""
    node = view.get(keys.node_key(signer.hex()))
    if node is None:
        raise TxRejected("unknown_signer", f"the signer's key {signer.hex()[:16]}… is not a node key")
    if node["status"] == "ROTATED":
        raise TxRejected("key_rotated", f"node {node['node_id']}'s key was replaced by a rotation")
    if node["status"] != "ACTIVE":
        raise TxRejected("key_revoked", f"node {node['node_id']}'s key is {node['status']}")
    if node["org_id"] != org_id:
        raise TxRejected("wrong_org", f"node {node['node_id']} belongs to {node['org_id']}, not {org_id}")
    if approvals:
        raise TxRejected("bad_approval", "a node-signed transaction carries no approvals")


def _shadow(v: Verdict, disposition: str | None = None) -> ShadowVerdict:
    return ShadowVerdict(
        rule_id=v.rule_id,
        colour=v.colour.value,
        disposition=disposition or v.disposition.value,
        reason_code=v.reason_code[:64],
    )


def _evaluate(
    view: View, t: TxCtx, ctx: BlockContext, config: Config, shadow: list[ShadowVerdict] | None
) -> list[Verdict]:
    """The verdicts of the rules enforced under `config`, in registry order, up to and including
    the first REJECT; SHADOW-mode rules' verdicts go to `shadow` (when given). After the first
    REJECT only the rules that outrank it still run (`contracts.rules.PRECEDENCE`): a more
    specific rule that refuses too takes its place, so the receipt names it."""
    out: list[Verdict] = []
    refused: Verdict | None = None
    for rule in rules_for(t.tx_type):
        mode = config.rule_mode(rule.rule_id)
        if rule.fn is None or mode == "OFF":
            continue
        if refused is not None and not may_outrank(rule.rule_id, refused.rule_id):
            continue
        for v in rule.fn(view, t, ctx, config):
            _check_verdict(rule, v)
            if mode == "SHADOW":
                if shadow is not None:
                    shadow.append(_shadow(v))
                continue
            if refused is not None:
                if v.disposition == Disposition.REJECT and outranks(v, refused):
                    out[-1] = refused = v  # the refusal is always the last verdict kept
                continue  # a flag (or another fact's refusal) of a refused transaction changes nothing
            out.append(v)
            if v.disposition == Disposition.REJECT:
                refused = v
                break
    return out


def _rollout_diff(current: list[Verdict], candidate: list[Verdict]) -> list[ShadowVerdict]:
    """What the candidate configuration would do differently (a multiset difference)."""

    def sig(v: Verdict) -> tuple[str, str, str, str]:
        return (v.rule_id, v.colour.value, v.disposition.value, v.reason_code)

    left = [sig(v) for v in current]
    added = []
    for v in candidate:
        if sig(v) in left:
            left.remove(sig(v))
        else:
            added.append(_shadow(v))
    right = [sig(v) for v in candidate]
    dropped = []
    for v in current:
        if sig(v) in right:
            right.remove(sig(v))
        else:
            dropped.append(_shadow(v, "DROP_" + v.disposition.value))
    return added + dropped


def _run_rules(
    view: View,
    t: TxCtx,
    ctx: BlockContext,
    config: Config,
    candidate: Config | None,
    shadow: list[ShadowVerdict],
) -> list[Verdict]:
    verdicts = _evaluate(view, t, ctx, config, shadow)
    if candidate is not None:
        shadow.extend(_rollout_diff(verdicts, _evaluate(view, t, ctx, candidate, None)))
    for v in verdicts:
        if v.disposition == Disposition.REJECT:
            raise TxRejected(v.reason_code, v.reason, rule_id=v.rule_id)
    return verdicts


def _raise_alerts(
    view: View, t: TxCtx, ctx: BlockContext, config: Config, flags: list[Verdict]
) -> list[AlertRef]:
    alerts: list[AlertRef] = []
    counts: dict[str, int] = {}
    for v in flags:
        index = counts.get(v.rule_id, 0)
        counts[v.rule_id] = index + 1
        ref = write_alert(
            view,
            v,
            source={"tx_id": t.tx_hex},
            source_id=t.tx_hex,
            index=index,
            org_id=t.org_id,
            time_ms=ctx.time_ms,
            height=ctx.height,
            config=config,
        )
        if ref is not None:
            alerts.append(ref)
    if len(alerts) > MAX_RECEIPT_ITEMS:
        raise TxRejected("too_many_alerts", f"{len(alerts)} alerts, limit {MAX_RECEIPT_ITEMS}")
    return alerts


def _schedule(view: View, t: TxCtx, ctx: BlockContext, config: Config) -> None:
    for rule in rules_for(t.tx_type):
        if rule.schedule is None or config.rule_mode(rule.rule_id) != "ENFORCE":
            continue
        for req in rule.schedule(view, t, ctx, config):
            invariant(req.rule_id == rule.rule_id, f"rule {rule.rule_id} scheduled for {req.rule_id}")
            schedule_due(view, req)


def check_tx(tx: SignedTransaction) -> None:
    """Stateless admission check for the mempool: the body decodes, the type is known, the payload
    matches its schema, approvals are within limits. Raises TxRejected(code, message)."""
    try:
        body = tx.body
    except WireError as exc:
        raise TxRejected("malformed", f"the transaction body does not decode: {exc}") from exc
    spec = TX_TYPES.get(body.tx_type)
    if spec is None:
        raise TxRejected("unknown_tx_type", f"unknown transaction type {body.tx_type!r}")
    checked_payload(tx, spec)
    approvers = [a.signer for a in tx.approvals]
    if len(approvers) > MAX_APPROVALS or len(set(approvers)) != len(approvers) or body.signer in approvers:
        raise TxRejected("bad_approval", "approvals must be distinct keys other than the signer")


def checked_payload(tx: SignedTransaction, spec: TxSpec) -> dict[str, Any]:
    """The payload validated against its type's schema and normalised (TxRejected when it does not
    match), once per transaction object: the mempool's check and execution share it. The result
    is a pure function of the body bytes (the schemas are fixed), so reusing it changes nothing;
    contracts read it through `TxCtx.payload` (a Mapping) and never mutate it."""
    return tx.derived("contracts.payload", lambda: validate(spec.schema, tx.body.payload))
