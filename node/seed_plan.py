"""The demo history of `orgledger dev seed`, planned on a shadow ledger before anything is sent.

Rules:

- The plan is made by running the scenario on an in-memory ledger (`contracts.testing.Ledger`)
  that starts from the network's own genesis, signs with the same keys and uses the wall clock
  as block time, exactly like the real network will. The procedures come from
  `contracts.testing_procedure` (pipelines the full rulebook accepts: documents, branch
  decisions, general-meeting votes, county approvals). Every transaction the shadow executed is
  recorded (`PlannedTx`: who signs, type, org, payload, approvers, the shadow's receipt), and the
  seed replays them through the SDK (node/seed.py). The shadow also says in advance what the
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
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from contracts.calendar import add_months, cst_date
from contracts.testing import (
    Ledger,
    digest,
    doc_payload,
    import_member,
    meeting_payload,
    ms,
    ok,
    person,
    run_pipeline,
)
from contracts.testing_procedure import ensure_officers, secretary
from wire.crypto import EncryptionKey, SigningKey
from wire.genesis import Genesis
from wire.types import Receipt, SignedTransaction, TxBody

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


@dataclass(frozen=True, slots=True)
class Intent:
    """What a fraud attempt should do: `REJECT` by `rule_id`, or FLAG `rule_id` in `colours`."""

    what: str  # a sentence for the summary
    rule_id: str
    outcome: str  # REJECT | FLAG
    colours: tuple[str, ...] = ()
    subject: str | None = None  # FLAG: a person key the alerts must name (None: any)

    def met(self, receipt: dict[str, Any], alerts: Sequence[dict[str, Any]]) -> bool:
        """Whether the transaction's receipt (REJECT) or the alerts on the ledger (FLAG: raised by
        the transaction or by the deadlines it set) show the intended outcome."""
        if self.outcome == "REJECT":
            return receipt.get("status") == "REJECTED" and receipt.get("rule_id") == self.rule_id
        if receipt.get("status") != "ACCEPTED":
            return False
        seen = {
            a["colour"]
            for a in alerts
            if a["rule_id"] == self.rule_id and (self.subject is None or self.subject in a["subject_keys"])
        }
        return set(self.colours) <= seen


@dataclass(frozen=True, slots=True)
class PlannedTx:
    phase: str
    lane: str
    label: str
    user: str  # "<org>/<role>": whose key signs
    tx_type: str
    org_id: str
    payload: dict[str, Any]
    approvers: tuple[str, ...]
    intent: Intent | None
    shadow: Receipt  # what the shadow ledger made of it

    @property
    def family(self) -> str:
        return self.tx_type.split(".")[0]


@dataclass
class Plan:
    today: date
    txs: list[PlannedTx] = field(default_factory=list)
    keys: dict[str, SigningKey] = field(default_factory=dict)  # users the seed registers
    enc_keys: dict[str, EncryptionKey] = field(default_factory=dict)  # orgs the seed creates
    shadow_alerts: list[dict[str, Any]] = field(default_factory=list)

    def phases(self) -> list[tuple[str, dict[str, list[PlannedTx]]]]:
        """[(phase, {lane: [txs in order]})] in plan order."""
        out: list[tuple[str, dict[str, list[PlannedTx]]]] = []
        for tx in self.txs:
            if not out or out[-1][0] != tx.phase:
                out.append((tx.phase, {}))
            out[-1][1].setdefault(tx.lane, []).append(tx)
        return out

    def intents(self) -> list[PlannedTx]:
        return [t for t in self.txs if t.intent is not None]


class ShadowLedger(Ledger):
    """contracts.testing's Ledger with the network's keys, wall-clock block time, and a record of
    every transaction it executed (grouped into phases and lanes)."""

    def __init__(self, genesis: Genesis, keys: dict[str, SigningKey], now_ms: int) -> None:
        super().__init__(genesis)
        self.keys = keys
        self.time_ms = max(now_ms, genesis.genesis_time_ms + 1)
        self.phase, self.lane, self.label = "", "", ""
        self.intent: Intent | None = None
        self.recorded: list[PlannedTx] = []

    def tx(
        self,
        user: str,
        tx_type: str,
        payload: Any,
        *,
        org_id: str | None = None,
        approvers: Sequence[str] = (),
        client_time_ms: int | None = None,
        chain_id: str | None = None,
        nonce: int | None = None,
        signer_key: SigningKey | None = None,
    ) -> SignedTransaction:
        self.nonce += 1
        sk = signer_key or self.keys[user]
        body = TxBody(
            chain_id=chain_id or self.genesis.chain_id,
            tx_type=tx_type,
            org_id=org_id or user.rsplit("/", 1)[0],
            signer=sk.public,
            nonce=self.nonce if nonce is None else nonce,
            client_time_ms=self.time_ms if client_time_ms is None else client_time_ms,
            payload=payload,
        )
        return SignedTransaction.create(body, sk.signer(), [self.keys[a].signer() for a in approvers])

    def submit(
        self, user: str, tx_type: str, payload: Any, *, at: str | int | None = None, **kw: Any
    ) -> Receipt:
        """Execute one transaction in its own block at the wall clock (`at`, an event date of
        the procedure helpers, is not block time here) and record it."""
        self.time_ms += 10
        approvers = tuple(kw.get("approvers", ()))
        tx = self.tx(user, tx_type, payload, **kw)
        receipt = self.block(tx, at=self.time_ms).receipts[0]
        self.recorded.append(
            PlannedTx(
                phase=self.phase,
                lane=self.lane,
                label=self.label or tx_type,
                user=user,
                tx_type=tx_type,
                org_id=tx.body.org_id,
                payload=payload,
                approvers=approvers,
                intent=self.intent,
                shadow=receipt,
            )
        )
        return receipt

    @contextmanager
    def at(self, phase: str, lane: str, label: str = "", intent: Intent | None = None) -> Iterator[None]:
        saved = (self.phase, self.lane, self.label, self.intent)
        self.phase, self.lane, self.label, self.intent = phase, lane, label, intent
        try:
            yield
        finally:
            self.phase, self.lane, self.label, self.intent = saved


# ------------------------------------------------------------------------------------ the scenario
class Scenario:
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

    # ------------------------------------------------------------------ phases
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

    def setup(self) -> None:
        """New orgs under the default tree, and users with roles at every level."""
        L = self.L
        with L.at("setup", "orgs-and-users"):
            for org, signer, name, founded in NEW_ORGS:
                parent = org.rsplit(".", 1)[0]
                if parent in COUNTIES and f"{parent}/admin" not in L.keys:
                    L.label = f"admin of {parent}"
                    self.register(f"{parent.rsplit('.', 1)[0]}/admin", parent, "admin")
                enc = EncryptionKey.generate()
                self.plan.enc_keys[org] = enc
                L.label = f"org.create {org}"
                payload = {
                    "org_id": org,
                    "name": name,
                    "enc_pubkey": enc.public.hex(),
                    "founded_date": founded,
                }
                self.must(signer, "org.create", payload)
            L.label = "users"
            self.register("cn/admin", "cn", "auditor")
            for prov in ("cn.gs", "cn.sn"):
                self.register("cn/admin", prov, "operator")
                self.register("cn/admin", prov, "approver")
            self.register("cn/admin", "cn.gs", "auditor")
            for city in ("cn.gs.lz", "cn.sn.xa"):
                self.register(f"{city.rsplit('.', 1)[0]}/admin", city, "operator")
            for county in COUNTIES:
                signer = (
                    f"{county}/admin" if f"{county}/admin" in L.keys else f"{county.rsplit('.', 1)[0]}/admin"
                )
                self.register(signer, county, "operator")
                self.register(signer, county, "approver")
            for branch in BRANCHES:
                county = branch.rsplit(".", 1)[0]
                self.register(f"{county}/admin", branch, "operator")
            self.register("cn.gs.lz.cg/admin", "cn.gs.lz.cg.b001", "integration")
            # a key that left its post, and a role granted then withdrawn
            gone = self.register("cn.gs.lz.cg/admin", "cn.gs.lz.cg.b002", "operator", suffix="former")
            L.label = "user.revoke"
            self.must(
                "cn.gs.lz.cg/admin", "user.revoke", {"pubkey": gone, "reason": "left the branch office"}
            )
            op = L.keys["cn.gs.lz/operator"].public.hex()
            L.label = "user.grant_role"
            self.must("cn.gs/admin", "user.grant_role", {"pubkey": op, "role": "auditor"}, org_id="cn.gs")
            L.label = "user.revoke_role"
            self.must("cn.gs/admin", "user.revoke_role", {"pubkey": op, "role": "auditor"}, org_id="cn.gs")
            for county in COUNTIES:  # a committee member per county (talks before approval, JOIN-15)
                L.label = f"committee post {county}"
                post = {
                    "org_id": county,
                    "person_key": person(f"committee@{county}"),
                    "post": "COMMITTEE_MEMBER",
                    "action": "APPOINT",
                    "date": "2015-01-01",
                }
                self.must(f"{county}/operator", "org.set_post", post)

    def register(self, signer: str, org: str, role: str, suffix: str = "") -> str:
        name = self.user(org, role if not suffix else f"{role}-{suffix}")
        key = self.L.keys[name].public.hex()
        payload = {"user_id": name, "org_id": org, "pubkey": key, "roles": [role]}
        self.must(signer, "user.register", payload, org_id=signer.rsplit("/", 1)[0])
        return key

    def import_members(self) -> None:
        """Existing members (imported archives: no pipeline on the ledger) and branch secretaries."""
        L = self.L
        dues = add_months(self.today, -1).isoformat()[:7]
        for bi, branch in enumerate(BRANCHES):
            with L.at("members", branch, f"members of {branch}"):
                ensure_officers(L, branch)  # the secretary (a full member) and the county post
                self.members[branch].append(secretary(branch))
                for i in range(1, MEMBERS_PER_BRANCH[branch]):
                    name = f"{branch}-m{i:02d}"
                    year = 1958 + (7 * i + 3 * bi) % 38
                    join = f"{min(year + 24, 2021)}-{(i % 12) + 1:02d}-{10 + i % 15:02d}"
                    full = add_months(date.fromisoformat(join), 12).isoformat()
                    import_member(
                        L,
                        name,
                        branch,
                        birth=f"{year}-{(i * 5) % 12 + 1:02d}-{(i * 7) % 27 + 1:02d}",
                        join=join,
                        full=full,
                        gender="MALE" if (i + bi) % 3 else "FEMALE",
                        dues_paid_through=dues,
                    )
                    self.members[branch].append(name)
                sec = {
                    "org_id": branch,
                    "person_key": person(secretary(branch)),
                    "post": "SECRETARY",
                    "action": "APPOINT",
                    "date": "2016-01-01",
                }
                L.label = f"secretary of {branch}"
                self.must(f"{branch}/operator", "org.set_post", sec)

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

    def year_of_meetings(self) -> None:
        """Twelve months of organisational life per branch, recorded newest first: a theme day
        monthly, the branch committee monthly where it applies, the general meeting and a party
        lesson quarterly. b002 carries the absence scenario of MTG-05."""
        L = self.L
        for branch in BRANCHES:
            with L.at("meetings", branch, f"meetings of {branch}"):
                people = list(self.members[branch])
                for m in range(1, 13):
                    theme_day = self.months_ago(m, 15)
                    att = self.attendance(branch, people, m)
                    if branch == "cn.gs.lz.cg.b002" and m == 3:
                        L.intent = Intent(
                            "three theme days missed in a row, and three missed with leave",
                            "MTG-05",
                            "FLAG",
                            ("YELLOW", "BLUE"),
                        )
                    if branch == "cn.gs.lz.cg.b002" and m == 8:
                        L.intent = Intent(
                            "a member last seen at a meeting eight months ago (deadlines)",
                            "MTG-05",
                            "FLAG",
                            ("YELLOW", "RED"),
                            subject=person(DRIFTER),
                        )
                    self.meeting(branch, "THEME_DAY", theme_day, 14, att)
                    L.intent = None
                    if MEMBERS_PER_BRANCH[branch] >= 7:
                        committee = [(n, "PRESENT") for n in people[:5]]
                        self.meeting(branch, "BRANCH_COMMITTEE", self.months_ago(m, 8), 19, committee)
                    if m % 3 == 1:
                        self.meeting(branch, "BRANCH_GENERAL", self.months_ago(m, 22), 15, att)
                        lesson = self.months_ago(m, 26)
                        self.meeting(
                            branch,
                            "PARTY_LESSON",
                            lesson,
                            9,
                            att,
                            lecturer_key=person(secretary(branch)),
                        )

    def attendance(self, branch: str, people: list[str], months_back: int) -> list[tuple[str, str]]:
        out = []
        for i, n in enumerate(people):
            status = "LEAVE" if (i + months_back) % 7 == 0 else "PRESENT"
            if branch == "cn.gs.lz.cg.b002":
                if n == DRIFTER and months_back < 8:
                    continue  # stopped coming, and the branch stopped listing them (MTG-05 clock)
                if n == ABSENTEE and months_back <= 3:
                    status = "ABSENT"
                if n == EXCUSED and months_back <= 3:
                    status = ("LEAVE", "ABSENT", "LEAVE")[months_back - 1]
                if (n == EXCUSED and months_back > 3) or (n == ABSENTEE and months_back > 3):
                    status = "PRESENT"
            out.append((n, status))
        return out

    # ------------------------------------------------------------------ pipelines
    def pipelines(self) -> None:
        """Joining pipelines: two complete to full membership, others at every stage."""
        L = self.L
        plans = [
            ("cn.gs.lz.cg.b001", "applicant-liu", 33, "S25", "complete to full membership"),
            ("cn.sn.xa.yt.b001", "applicant-zhao", 34, "S25", "complete to full membership"),
            ("cn.gs.lz.cg.b001", "applicant-chen", 15, "S09", "development target"),
            ("cn.gs.lz.cg.b001", "applicant-wang", 3, "S03", "activist"),
            ("cn.gs.lz.cg.b003", "applicant-sun", 21, "S20", "probationary member"),
            ("cn.gs.lz.cg.b003", "applicant-zhou", 1, "S01", "applicant"),
            ("cn.gs.lz.ql.b001", "applicant-wu", 25, "S16", "approval overdue"),
        ]
        for branch, name, months, until, what in plans:
            lane = branch
            intent = None
            if what == "approval overdue":
                intent = Intent(
                    "approval (S17) never recorded 7 months after the branch resolution",
                    "JOIN-17",
                    "FLAG",
                    ("BLUE", "YELLOW", "RED"),
                    subject=person(name),
                )
            with L.at("pipelines", lane, f"{name}: {what}"):
                start = self.months_ago(months, 6)
                intro = (self.members[branch][1], self.members[branch][2])
                run_pipeline(L, name, branch, f"{branch}/p-{name}", start, until=until, introducers=intro)
                if intent is not None:  # the S16 talk is the last step; the deadlines come after it
                    last = L.recorded.pop()
                    L.recorded.append(_with_intent(last, intent))
            if until in ("S25", "S20"):
                self.members[branch].append(name)

    # ------------------------------------------------------------------ transfers, decisions
    def transfers_and_decisions(self) -> None:
        L = self.L
        self.original = {b: list(m) for b, m in self.members.items()}
        moves = [
            ("cn.gs.lz.cg.b001", "cn.gs.lz.cg.b002", 6, "JOB_CHANGE", "within the county"),
            ("cn.gs.lz.cg.b003", "cn.gs.lz.ql.b001", 3, "RESIDENCE", "across counties"),
            ("cn.gs.lz.cg.b001", "cn.sn.xa.yt.b002", 7, "JOB_CHANGE", "across provinces"),
        ]
        for i, (src, dst, idx, reason, what) in enumerate(moves):
            name = self.members[src][idx]
            tid = f"ZZ-{self.today.year}-{i + 1:04d}"
            # after the last meeting of the year (a lesson can be a week ago)
            issue, report, back = self.days_ago(6), self.days_ago(4), self.days_ago(2)
            valid = (date.fromisoformat(issue) + timedelta(days=60)).isoformat()
            with L.at("transfers", f"transfer-{i + 1}", f"transfer {what}: {name}"):
                out = {
                    "transfer_id": tid,
                    "person_key": person(name),
                    "member_status": "FULL",
                    "from_org_id": src,
                    "to_org_id": dst,
                    "issue_date": issue,
                    "valid_until": valid,
                    "reason": reason,
                    "dues_paid_through": add_months(self.today, -1).isoformat()[:7],
                }
                self.must(f"{src}/operator", "transfer.out", out)
                into = {
                    "transfer_id": tid,
                    "person_key": person(name),
                    "to_org_id": dst,
                    "report_date": report,
                    "accepted": True,
                }
                self.must(f"{dst}/operator", "transfer.in", into)
                self.must(f"{src}/operator", "transfer.receipt", {"transfer_id": tid, "receipt_date": back})
            self.members[src].remove(name)
            self.members[dst].append(name)
        for org in ("cn.gs.lz.cg", "cn.gs.lz.cg.b001", "cn.sn.xa.yt"):
            with L.at("decisions", f"decisions-{org}", f"routine decisions of {org}"):
                body = "BRANCH_COMMITTEE" if org.count(".") == 4 else "STANDING_COMMITTEE"
                for m in range(1, 13):
                    day = self.months_ago(m, 12)
                    payload = {
                        "decision_id": f"{org}/d/{day}",
                        "decision_body": body,
                        "decision_mode": "CIRCULATION",
                        "category": "OTHER",
                        "item_seq": 1,
                        "amount_fen": 120_000 + 7_300 * m,
                        "counterparty_key": f"supplier-{org.rsplit('.', 1)[1]}-{m:02d}",
                        "result": "PASSED",
                        "effective_date": day,
                    }
                    self.must(f"{org}/operator", "decision.record", payload)

    # ------------------------------------------------------------------ fraud attempts
    def frauds(self) -> None:
        L = self.L
        gs_b001, b002, b003 = "cn.gs.lz.cg.b001", "cn.gs.lz.cg.b002", "cn.gs.lz.cg.b003"
        sn_b001 = "cn.sn.xa.yt.b001"
        # DUP-02: the applicant with an open pipeline in Gansu applies again in Shaanxi
        dup = "applicant-wang"
        with L.at(
            "frauds",
            "dup-02",
            "duplicate application across provinces",
            Intent("an applicant with an open pipeline in Gansu applies in Shaanxi", "DUP-02", "REJECT"),
        ):
            payload = {
                "person_key": person(dup),
                "key_version": 1,
                "id_check_ok": True,
                "birth_date": "1990-01-01",
            }
            self.submit(f"{sn_b001}/operator", "archive.create", payload)
        # MAT-01: the same scanned application filed for a second person; a copied thought report
        with L.at("frauds", "mat-01", "the same scanned application for two people"):
            L.intent = Intent("the scan of one application filed for another person", "MAT-01", "REJECT")
            pid = f"{b003}/p-applicant-zhou"
            doc = doc_payload(
                f"{b003}/p-applicant-qian/APPLICATION",
                "APPLICATION",
                ["applicant-qian"],
                self.days_ago(4),
                b003,
            )
            doc["content_hash"] = digest(f"content:{pid}/APPLICATION")
            self.submit(f"{b003}/operator", "material.register", doc)
            L.intent = None
            L.label = "a thought report"
            rep = doc_payload(
                f"{pid}/THOUGHT_REPORT", "THOUGHT_REPORT", ["applicant-zhou"], self.days_ago(3), b003
            )
            rep["text_hash"] = digest(f"text:{pid}/THOUGHT_REPORT")
            self.must(f"{b003}/operator", "material.register", rep)
            L.label = "a copied thought report"
            L.intent = Intent(
                "a thought report copying another applicant's text", "MAT-01", "FLAG", ("YELLOW",)
            )
            copy = doc_payload(
                f"{gs_b001}/tr-applicant-wang",
                "THOUGHT_REPORT",
                ["applicant-wang"],
                self.days_ago(2),
                gs_b001,
            )
            copy["text_hash"] = rep["text_hash"]
            self.submit(f"{gs_b001}/operator", "material.register", copy)
        # MTG-02: copied minutes, once the same file (refused), once the same text (flagged)
        with L.at("frauds", "mtg-02", "copied minutes"):
            att = [(n, "PRESENT") for n in self.original[b002] if n != DRIFTER]
            src = f"{b002}/theme_day/{self.months_ago(2, 15)}"
            L.intent = Intent("minutes filed with another meeting's file", "MTG-02", "REJECT")
            self.meeting(
                b002,
                "THEME_DAY",
                self.days_ago(6),
                16,
                att,
                check=False,
                minutes_content_hash=digest("minutes:" + src),
            )
            L.intent = Intent("minutes whose text copies another meeting's", "MTG-02", "FLAG", ("RED",))
            self.meeting(
                b002,
                "THEME_DAY",
                self.days_ago(5),
                16,
                att,
                check=False,
                minutes_text_hash=digest("minutes-text:" + src),
            )
            L.intent = None
        # XFER-01: a transfer-in with no transfer-out behind it
        with L.at(
            "frauds",
            "xfer-01",
            "transfer-in without a transfer-out",
            Intent("a member received in Shaanxi with no letter from Gansu", "XFER-01", "REJECT"),
        ):
            into = {
                "transfer_id": f"ZZ-{self.today.year}-9999",
                "person_key": person(self.members[gs_b001][4]),
                "to_org_id": sn_b001,
                "report_date": self.days_ago(3),
                "accepted": True,
            }
            self.submit(f"{sn_b001}/operator", "transfer.in", into)
        # DEC-06: three payments just under the threshold to one supplier within a month
        with L.at("frauds", "dec-06", "three near-threshold payments"):
            for k, days in enumerate((24, 15, 6)):
                L.intent = (
                    Intent(
                        "three payments just below the collective-decision threshold",
                        "DEC-06",
                        "FLAG",
                        ("RED", "YELLOW"),
                    )
                    if k == 2
                    else None
                )
                payload = {
                    "decision_id": f"cn.gs.lz.cg/d/split-{k + 1}",
                    "decision_body": "MGMT_MEETING",
                    "decision_mode": "INDIVIDUAL",
                    "category": "OTHER",
                    "item_seq": 1,
                    "amount_fen": 9_600_000 + 10_000 * k,
                    "counterparty_key": "supplier-hengtong-digital",
                    "procurement_category": "it-equipment",
                    "result": "PASSED",
                    "effective_date": self.days_ago(days),
                }
                self.submit("cn.gs.lz.cg/operator", "decision.record", payload)
            L.intent = None


def _with_intent(tx: PlannedTx, intent: Intent) -> PlannedTx:
    return PlannedTx(
        phase=tx.phase,
        lane=tx.lane,
        label=tx.label,
        user=tx.user,
        tx_type=tx.tx_type,
        org_id=tx.org_id,
        payload=tx.payload,
        approvers=tx.approvers,
        intent=intent,
        shadow=tx.shadow,
    )


def make_plan(genesis: Genesis, admin_keys: dict[str, SigningKey], now_ms: int | None = None) -> Plan:
    """The whole seed, planned on a shadow ledger (raises StepFailed if a clean step would fail)."""
    return Scenario(genesis, admin_keys, now_ms).build()
