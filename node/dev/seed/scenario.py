"""The `dev seed` scenario's cast and the helpers every phase planner shares.

Rules:

- The cast is fixed: the orgs the seed creates under the default tree (`NEW_ORGS`), the
  branches it fills (`BRANCHES`, `MEMBERS_PER_BRANCH`), the counties above them, and the three
  members of b002 who carry the MTG-05 absence scenario.
- Dates are relative to today (CST) and always in the past: `months_ago` never returns today or
  later, so a morning meeting is never in the future.
- A user is `"<org>/<role>"`; naming one for the first time makes its key, recorded in the plan
  (`Plan.keys`) for the seed to register and store. `submit` records whatever the shadow makes
  of a transaction; `must` also requires it accepted (`contracts.testing.StepFailed` if not).
- `ScenarioBase` holds the state the phases share (the shadow ledger, the plan, the members of
  each branch); the phases are its subclasses (`node/dev/seed/history.py`, `node/dev/seed/frauds.py`).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from contracts.calendar import add_months, cst_date
from contracts.testing import ms, ok, person
from contracts.testing_procedure import meeting_payload
from node.dev.seed.shadow import Plan, ShadowLedger
from wire.crypto import SigningKey
from wire.genesis import Genesis
from wire.types import Receipt

MARKER_STARTED = "seed-v1/started"
MARKER_DONE = "seed-v1/done"
ROOT_ADMIN = "cn/admin"

NEW_ORGS: tuple[tuple[str, str, str, str], ...] = (  # (org, parent admin signing, name, founded)
    ("cn.gs.lz.cg.b003", "cn.gs.lz.cg/admin", "Branch 003, Tianshui Road", "2012-05-01"),
    ("cn.gs.lz.ql", "cn.gs.lz/admin", "Qilihe District Committee", "1955-03-01"),
    ("cn.gs.lz.ql.b001", "cn.gs.lz.ql/admin", "Branch 001, Xijin Road", "2006-04-01"),
    ("cn.sn.xa.yt.b002", "cn.sn.xa.yt/admin", "Branch 002, Dayan Pagoda", "2009-10-01"),
)
BRANCHES = (
    "cn.gs.lz.cg.b001",
    "cn.gs.lz.cg.b002",
    "cn.gs.lz.cg.b003",
    "cn.gs.lz.ql.b001",
    "cn.sn.xa.yt.b001",
    "cn.sn.xa.yt.b002",
)
COUNTIES = ("cn.gs.lz.cg", "cn.gs.lz.ql", "cn.sn.xa.yt")
MEMBERS_PER_BRANCH = {
    "cn.gs.lz.cg.b001": 9,
    "cn.gs.lz.cg.b002": 6,
    "cn.gs.lz.cg.b003": 4,
    "cn.gs.lz.ql.b001": 4,
    "cn.sn.xa.yt.b001": 5,
    "cn.sn.xa.yt.b002": 3,
}
# b002 keeps the absence scenario (MTG-05): its drifter, its absent and its excused member
DRIFTER, ABSENTEE, EXCUSED = "cn.gs.lz.cg.b002-m05", "cn.gs.lz.cg.b002-m04", "cn.gs.lz.cg.b002-m03"


class ScenarioBase:
    """The state every phase shares: the shadow ledger, the plan, the members of each branch."""

    def __init__(
        self, genesis: Genesis, admin_keys: dict[str, SigningKey], now_ms: int | None = None
    ) -> None:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        self.today = cst_date(now_ms)
        self.plan = Plan(today=self.today)
        keys = {f"{org}/admin": k for org, k in admin_keys.items()}
        self.L = ShadowLedger(genesis, keys, now_ms)
        self.members: dict[str, list[str]] = {b: [] for b in BRANCHES}
        self.original: dict[str, list[str]] = {}
        self.meeting_no = 0

    # ------------------------------------------------------------------ dates
    def days_ago(self, n: int) -> str:
        return (self.today - timedelta(days=n)).isoformat()

    def months_ago(self, n: int, day: int | None = None) -> str:
        d = add_months(self.today, -n)
        if day is not None:
            d = d.replace(day=min(day, 28))
        if d >= self.today:
            d = self.today - timedelta(days=1)
        return d.isoformat()

    # ------------------------------------------------------------------ helpers
    def user(self, org: str, role: str) -> str:
        name = f"{org}/{role}"
        if name not in self.L.keys:
            self.L.keys[name] = SigningKey.generate()
            self.plan.keys[name] = self.L.keys[name]
        return name

    def submit(self, user: str, tx_type: str, payload: dict[str, Any], **kw: Any) -> Receipt:
        return self.L.submit(user, tx_type, payload, **kw)

    def must(self, user: str, tx_type: str, payload: dict[str, Any], **kw: Any) -> Receipt:
        return ok(self.submit(user, tx_type, payload, **kw), f"{self.L.label or tx_type}")

    # ------------------------------------------------------------------ meetings
    def meeting(
        self,
        branch: str,
        kind: str,
        day: str,
        hour: int,
        attendance: list[tuple[str, str]],
        *,
        check: bool = True,
        **fields: Any,
    ) -> Receipt:
        self.meeting_no += 1
        mid = f"{branch}/{kind.lower()}/{day}"
        payload = meeting_payload(
            mid,
            kind,
            ms(day, hour),
            attendance=[{"person_key": person(n), "status": s} for n, s in attendance],
            **fields,
        )
        payload["location_code"] = "HALL-" + branch.rsplit(".", 1)[1].upper()
        receipt = self.submit(f"{branch}/operator", "meeting.record", payload)
        return ok(receipt, f"meeting {mid}") if check else receipt
