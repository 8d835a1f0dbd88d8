"""The demo history of `orgledger dev seed`, planned on a shadow ledger before anything is sent.

Rules:

- The plan is made by running the scenario on an in-memory ledger (`contracts.testing.Ledger`)
  that starts from the network's own genesis, signs with the same keys and uses the wall clock
  as block time, exactly like the real network will. The procedures come from
  `contracts.testing_procedure` (pipelines the full rulebook accepts: documents, branch
  decisions, general-meeting votes, county approvals). Every transaction the shadow executed is
  recorded (`PlannedTx`: who signs, type, org, payload, approvers, the shadow's receipt), and the
  seed replays them through the SDK (node/dev/seed/__init__.py). The shadow also says in advance what the
  real run should produce; the seed checks the intended outcomes against the real receipts.
- Histories span years but block time is now: events are dated in the past (never today, so a
  06:00 meeting is never in the future). Rules that compare registration with event dates
  (MAT-05 late registration, MTG-04 late minutes) and deadlines that passed before the record
  arrived flag this backfill, as they would flag any real one; the seed reports them as such.
- Ordering avoids flags that say nothing: a year of meetings is recorded newest first (the
  absence clocks then start from each member's latest meeting), before the pipelines whose
  older votes list the same members; introducers are existing members.
- Fraud attempts are `Intent`s: what each should do (a REJECT by a rule, or FLAGs of a rule and
  colour); together they raise alerts of every colour.
- Phases run in order; within a phase, lanes (one per branch, mostly) are independent and the
  seed replays them concurrently; a lane's transactions go one after another.

Layout: this module is the plan's entry (`make_plan`, and `Scenario.build`, which runs the
phases in order between the start and done markers); the shadow ledger and the plan it records
are `node/dev/seed/shadow.py`, the cast and shared helpers `node/dev/seed/scenario.py`, the phases
`node/dev/seed/history.py` and `node/dev/seed/frauds.py`. The names `node/dev/seed/__init__.py` uses are importable
from here.
"""

from __future__ import annotations

from contracts.testing import digest, doc_payload
from node.dev.seed.frauds import FraudPhase
from node.dev.seed.history import HistoryPhases
from node.dev.seed.scenario import BRANCHES, MARKER_DONE, MARKER_STARTED, NEW_ORGS, ROOT_ADMIN
from node.dev.seed.shadow import Intent, Plan, PlannedTx
from wire.crypto import SigningKey
from wire.genesis import Genesis

__all__ = [
    "BRANCHES",
    "MARKER_DONE",
    "MARKER_STARTED",
    "NEW_ORGS",
    "Intent",
    "Plan",
    "PlannedTx",
    "Scenario",
    "make_plan",
]


# ------------------------------------------------------------------------------------ the scenario
class Scenario(HistoryPhases, FraudPhase):
    """The whole seed: `build` runs every phase, in order, on the shadow ledger."""

    def build(self) -> Plan:
        L = self.L
        with L.at("start", "marker", "seed started marker"):
            self.marker(MARKER_STARTED)
        self.setup()
        self.import_members()
        self.year_of_meetings()
        self.pipelines()
        self.transfers_and_decisions()
        self.frauds()
        with L.at("done", "marker", "seed done marker"):
            self.marker(MARKER_DONE)
        self.plan.txs = list(L.recorded)
        self.plan.shadow_alerts = L.alerts()
        return self.plan

    def marker(self, doc_id: str) -> None:
        payload = doc_payload(doc_id, "OTHER", [], self.days_ago(1), "cn")
        payload["content_hash"] = digest(f"orgledger dev seed marker {doc_id} {self.today}")
        self.must(ROOT_ADMIN, "material.register", payload)


def make_plan(genesis: Genesis, admin_keys: dict[str, SigningKey], now_ms: int | None = None) -> Plan:
    """The whole seed, planned on a shadow ledger (raises StepFailed if a clean step would fail)."""
    return Scenario(genesis, admin_keys, now_ms).build()
