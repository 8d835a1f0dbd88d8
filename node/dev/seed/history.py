"""The ordinary history of the `dev seed` scenario: orgs, users, members, meetings, pipelines,
transfers and routine decisions.

Rules:

- Setup first: the new orgs (each with its own encryption key), then users with roles at every
  level, a revoked key and a role granted then withdrawn, and a committee member per county.
- Members are imported archives (no pipeline on the ledger), each branch with its secretary.
- A year of meetings is recorded newest first, so the absence clocks (MTG-05) start from each
  member's latest meeting, and before the pipelines whose older votes list the same members;
  b002 carries the absence scenario.
- Joining pipelines stop at every stage (two complete to full membership); introducers are
  existing members. Transfers happen after the last meeting of the year.
"""

from __future__ import annotations

from datetime import date, timedelta

from contracts.calendar import add_months
from contracts.testing import import_member, person
from contracts.testing_procedure import ensure_officers, run_pipeline, secretary
from node.dev.seed.scenario import (
    ABSENTEE,
    BRANCHES,
    COUNTIES,
    DRIFTER,
    EXCUSED,
    MEMBERS_PER_BRANCH,
    NEW_ORGS,
    ScenarioBase,
)
from node.dev.seed.shadow import Intent, PlannedTx
from wire.crypto import EncryptionKey


class HistoryPhases(ScenarioBase):
    """The phases of ordinary life, in the order `Scenario.build` runs them."""

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
            # a county auditor (the console's first user: docs/console.md)
            self.register("cn.gs.lz.cg/admin", "cn.gs.lz.cg", "auditor")
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
