"""Alert records (DOMAIN.md section 0.6) and the due-date index (deadlines on block time).

Rules:

- An alert is `alert/<alert_id>` with the fields of section 0.6 (`alert_id, rule_id, colour,
  subject_keys, record_refs, org_id, raised_at, details, status, resolver_sig`) plus the rule-set
  version, the reason, the block height and its source (the transaction id or the due entry).
  It starts OPEN with an empty `history`; issue 6's lifecycle transactions append to it.
- Alert ids are deterministic: the first 32 hex digits of SHA-256 over
  `"alert" 0 source 0 rule_id 0 index`, where `source` is the transaction id (hex) or the due key
  and `index` counts that rule's verdicts from that source. Same blocks in, same ids out.
- A verdict with `dedup_key` raises at most one alert per (rule, key) for ever:
  `alertkey/<rule_id>/<key>` remembers the first alert.
- Due entries live at `due/<20-digit ms>/<rule_id>.<tag>.<ref hash>`; at the start of every block
  the engine fires every entry whose time is <= the block time, in key order (time, then name),
  and deletes it. An entry whose time has already passed when it is scheduled fires at the start
  of the next block. So each deadline fires in exactly one block, the first whose time passes it,
  however long the chain was quiet before.
"""

from __future__ import annotations

from typing import Any

from contracts import keys
from contracts.base import DueEntry, DueRequest, Verdict
from contracts.calendar import cst_date
from contracts.config import Config
from contracts.state import View
from wire import codec
from wire.crypto import sha256
from wire.types import AlertRef


def alert_id(source: str, rule_id: str, index: int) -> str:
    return sha256(f"alert\x00{source}\x00{rule_id}\x00{index}".encode()).hex()[:32]


def write_alert(
    view: View,
    verdict: Verdict,
    *,
    source: dict[str, Any],
    source_id: str,
    index: int,
    org_id: str,
    time_ms: int,
    height: int,
    config: Config,
) -> AlertRef | None:
    """Write the alert of a FLAG verdict; None when its dedup key already raised one."""
    aid = alert_id(source_id, verdict.rule_id, index)
    if verdict.dedup_key is not None:
        dedup = keys.alert_dedup(verdict.rule_id, verdict.dedup_key)
        if view.exists(dedup):
            return None
        view.put(dedup, {"alert_id": aid})
    view.put(keys.idx_alert(verdict.org_id or org_id, aid), {"alert_id": aid})
    view.put(
        keys.alert(aid),
        {
            "alert_id": aid,
            "rule_id": verdict.rule_id,
            "colour": verdict.colour.value,
            "reason_code": verdict.reason_code,
            "reason": verdict.reason[:1024],
            "subject_keys": list(verdict.subject_keys),
            "record_refs": list(verdict.record_refs),
            "org_id": verdict.org_id or org_id,
            "raised_at": time_ms,
            "raised_date": cst_date(time_ms).isoformat(),
            "raised_height": height,
            "details": dict(verdict.details),
            "status": "OPEN",
            "resolver_sig": None,
            "history": [],
            "rule_set_version": config.version,
            "source": source,
        },
    )
    return AlertRef(alert_id=aid, rule_id=verdict.rule_id, colour=verdict.colour.value)


def schedule_due(view: View, req: DueRequest) -> str:
    digest = sha256(codec.encode(dict(req.ref))).hex()[:16]
    key = keys.due(req.at_ms, f"{req.rule_id}.{req.tag}.{digest}")
    view.put(
        key,
        {
            "at_ms": req.at_ms,
            "rule_id": req.rule_id,
            "tag": req.tag,
            "ref": dict(req.ref),
            "org_id": req.org_id,
        },
    )
    return key


def due_entries(view: View, time_ms: int) -> list[DueEntry]:
    """Every due entry with time <= `time_ms`, in key order."""
    return [
        DueEntry(
            key=key,
            at_ms=rec["at_ms"],
            rule_id=rec["rule_id"],
            tag=rec["tag"],
            ref=rec["ref"],
            org_id=rec["org_id"],
        )
        for key, rec in view.scan_range("due/", keys.due_until(time_ms))
    ]
