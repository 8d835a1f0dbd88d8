"""The auditor's report: what was checked, how much passed, the first failure, the timings.

Rules: `CHECKS` names every check (docs/audit.md says what each holds); each counts blocks (block
checks), transactions (`tx_*`, `proofs`) or state entries (`state`) passed, and at most one
failure; `snapshots` counts the state snapshots of an archive found equal to the replay. A
report is `ok` only when nothing failed and the audit ran to the end. `to_json` is
the `--report` file (docs/audit.md describes its fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.errors import Failure

CHECKS = (
    "availability",
    "decode",
    "headers",
    "certificates",
    "tx_validity",
    "tx_signatures",
    "replay",
    "state_roots",
    "results_roots",
    "receipts",
    "proofs",
    "state",
    "snapshots",
)


@dataclass
class AuditReport:
    source: str
    kind: str
    chain_id: str
    genesis_hash: str
    source_height: int = 0
    verified_height: int = 0
    roots_confirmed_height: int = 0
    blocks: int = 0
    txs: int = 0
    accepted: int = 0
    rejected: int = 0
    checks: dict[str, dict[str, int]] = field(
        default_factory=lambda: {c: {"passed": 0, "failed": 0} for c in CHECKS}
    )
    skipped: dict[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    incomplete: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    workers: int = 0
    segments: int = 1  # replayed in parallel from verified snapshots (auditor/segments.py)
    epochs: int = 1  # validator-set epochs seen (the genesis set is the first)

    @property
    def ok(self) -> bool:
        return self.failure is None and self.incomplete is None

    def passed(self, check: str, n: int = 1) -> None:
        self.checks[check]["passed"] += n

    def to_json(self) -> dict[str, Any]:
        total = self.timings.get("total_s", 0.0)
        return {
            "ok": self.ok,
            "source": self.source,
            "kind": self.kind,
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash,
            "source_height": self.source_height,
            "verified_height": self.verified_height,
            "roots_confirmed_height": self.roots_confirmed_height,
            "blocks": self.blocks,
            "txs": self.txs,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "checks": self.checks,
            "skipped": self.skipped,
            "failure": None if self.failure is None else self.failure.to_json(),
            "incomplete": self.incomplete,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "tx_per_s": round(self.txs / total, 1) if total > 0 else None,
            "workers": self.workers,
            "segments": self.segments,
            "epochs": self.epochs,
        }
