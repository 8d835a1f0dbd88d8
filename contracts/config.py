"""Rule configuration: the defaults of DOMAIN.md section C, and the reader rules use.

Rules:

- No floats (ratios are per-mille integers, money is integer fen); every key named as in DOMAIN.md
  section C with its unit last.
- `default_rule_config()` supplies the genesis defaults. `genesis_state` merges the genesis
  document's `rule_config` over them (a key the defaults do not know, or a value of another type,
  is a genesis error) and writes one `cfg/...` state entry per key; `org_overrides` become
  per-organisation entries. From then on the ledger state is the only source: rules read values
  through `Config`, never from constants (legal constants fixed by the regulations themselves, such
  as "18 years", are named constants in the rule modules, with their source).
- `Config.get(key, org_id)` returns the override of the nearest ancestor-or-self organisation that
  has one, else the global value. A missing key is an InvariantError (the state is incomplete).
- `version` is the rule-set version recorded on every alert. `rule_modes` maps a rule id to
  `ENFORCE` (the default when absent), `SHADOW` (verdicts go to the receipt's shadow list, nothing
  is enforced) or `OFF`. Changes after genesis go through `contracts.governance` (config.set,
  config.rollout, calendar.set), each bumping `version`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.errors import InvariantError
from wire.genesis import org_parent

RULE_MODES = ("ENFORCE", "SHADOW", "OFF")


def default_rule_config() -> dict[str, Any]:
    """A fresh copy of the DOMAIN.md section C defaults (plus the engine's own knobs)."""
    return {
        "version": 1,
        # 三重一大 decisions
        "large_funds_threshold_fen": 10_000_000,  # ¥100,000: illustrative, set per unit
        "dec_quorum": "HALF",  # HALF (more than half, section 0.3) or TWO_THIRDS
        "split_window_days": 30,
        "split_near_ratio_permille": 800,
        "emergency_ratify_days": 30,
        "deviation_ratio_permille": 100,
        "materials_lead_days": 1,
        "count_written_opinions_in_committee": False,
        "dec_recusal_reduces_n": True,
        # DEC-02: read PERSONNEL's "三分之二以上" as "超过三分之二" (3P > 2N) if the organisation
        # department adopts that reading; default: 3P >= 2N
        "personnel_quorum_above_two_thirds": False,
        # joining procedure
        "public_notice_days": 5,
        "public_notice_working_days": True,  # JOIN-12 counts working days (False: calendar days)
        "filing_deadline_days": 30,
        "conversion_discussion_grace_months": 1,
        "oath_deadline_months": 3,
        "archive_deadline_days": 60,
        "assessment_grace_days": 30,
        "political_review_validity_months": 12,
        "rush_window_days": 30,
        "rush_max": 3,
        "rush_max_permille": 0,  # JOIN-26 also flags > this share of branch members (0: off)
        "min_applicant_to_activist_months": 0,
        "stale_application_months": 12,
        "thought_report_period": "QUARTER",
        "age_from_day_after_birthday": False,
        "application_date_slack_days": 30,
        # MAT-07: the documents a step needs registered for the person before it is written
        "stage_required_docs": {
            "S01": ["APPLICATION"],
            "S15": ["VOLUNTEER_BOOK", "POLITICAL_REVIEW", "TRAINING_CERT"],
            "S23": ["CONVERSION_APPLICATION"],
        },
        # meetings
        "absence_streak_n": 3,
        "minutes_late_days": 7,
        "minutes_late_red_days": 30,
        "overlap_tolerance_min": 10,
        "quorum_half_inclusive": True,
        "party_lesson_period": "QUARTER",
        "reminder_days": 7,
        # MTG-06 counts a period's meetings this many days after it ends (minutes may be
        # registered up to minutes_late_days late without a flag)
        "series_close_grace_days": 7,
        # MTG-05: no organisational life attended (or excused) for this many months: YELLOW
        # (local practice); 6 months is the national red line
        "absence_yellow_months": 3,
        # materials
        "late_registration_days": 30,
        "batch_backfill_max": 10,
        # archive (ARC-04): dues behind by more than this many months: YELLOW (local practice)
        "dues_yellow_months": 3,
        # transfers
        "receipt_days": 30,
        "letter_validity_months_in_province": 3,
        "letter_validity_months_cross_province": 6,
        "letter_reminder_days": 15,
        # clocks and the engine
        "endorsement_clock_tolerance_ms": 300_000,
        "stale_tx_ms": 86_400_000,  # client_time_ms further than this from block time: stale_tx
        "approval_authority_level": "COUNTY",  # org.create default for approval_authority
        # per-rule mode: {rule_id: ENFORCE|SHADOW|OFF}; absent = ENFORCE
        "rule_modes": {},
        # governance: keys an org may set for itself (config.set by an admin of that org)
        "config_delegated_keys": [
            "materials_lead_days",
            "party_lesson_period",
            "public_notice_days",
            "thought_report_period",
        ],
        # a config.rollout runs in shadow for at least this many blocks before it binds
        "rollout_shadow_blocks": 100,
        # node governance (contracts/nodegov.py): who approves a change of the validator set (admins
        # of at least this fraction of the orgs hosting validators, plus the node's own org) and of
        # an observer (admins of its org and of its parent org), and how long a proposal stays open
        "node_validator_approvals": {"orgs_fraction": [2, 3], "own_org": True},
        "node_observer_approvals": {"own_org": True, "parent_org": True},
        "node_proposal_ttl_ms": 7 * 86_400_000,
        # per-organisation overrides: {org_id: {key: value}}
        "org_overrides": {},
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The rule configuration in force, as read from `cfg/...` state entries."""

    values: Mapping[str, Any]
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return self.get_int("version")

    def get(self, key: str, org_id: str | None = None) -> Any:
        org = org_id if self.overrides else None  # no overrides (the usual case): no ancestry walk
        while org is not None:
            per_org = self.overrides.get(org)
            if per_org is not None and key in per_org:
                return per_org[key]
            org = org_parent(org)
        if key not in self.values:
            raise InvariantError(f"rule configuration has no value for {key!r}")
        return self.values[key]

    def get_int(self, key: str, org_id: str | None = None) -> int:
        v = self.get(key, org_id)
        if type(v) is not int:
            raise InvariantError(f"rule configuration {key!r} is not an integer")
        return v

    def get_bool(self, key: str, org_id: str | None = None) -> bool:
        v = self.get(key, org_id)
        if type(v) is not bool:
            raise InvariantError(f"rule configuration {key!r} is not a boolean")
        return v

    def get_str(self, key: str, org_id: str | None = None) -> str:
        v = self.get(key, org_id)
        if type(v) is not str:
            raise InvariantError(f"rule configuration {key!r} is not a string")
        return v

    def get_list(self, key: str, org_id: str | None = None) -> list[Any]:
        v = self.get(key, org_id)
        if not isinstance(v, list):
            raise InvariantError(f"rule configuration {key!r} is not a list")
        return v

    def get_map(self, key: str, org_id: str | None = None) -> Mapping[str, Any]:
        v = self.get(key, org_id)
        if not isinstance(v, dict):
            raise InvariantError(f"rule configuration {key!r} is not a map")
        return v

    def rule_mode(self, rule_id: str) -> str:
        mode = self.get_map("rule_modes").get(rule_id, "ENFORCE")
        if mode not in RULE_MODES:
            raise InvariantError(f"rule mode {mode!r} of {rule_id} is not one of {RULE_MODES}")
        return str(mode)
