"""The fraud attempts of the `dev seed` scenario, each with the outcome it must have.

Rules: every attempt runs under an `Intent` (a REJECT by a rule, or FLAGs of a rule in given
colours) and is submitted without requiring acceptance (the steps that set one up must be
accepted); the seed checks each intent against the real receipts and alerts. Together they
raise alerts of every colour. They run after the ordinary history, whose members, meetings
and pipelines they refer to.
"""

from __future__ import annotations

from contracts.testing import digest, doc_payload, person
from node.dev.seed.scenario import DRIFTER, ScenarioBase
from node.dev.seed.shadow import Intent


class FraudPhase(ScenarioBase):
    """The last phase before the done marker: every fraud attempt, in one lane per rule."""

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
