"""Rule configuration defaults: the values of DOMAIN.md section C, as written into genesis.

Rules: no floats (ratios are per-mille integers, money is integer fen), every key named as in
DOMAIN.md section C with its unit last. The ledger's rule configuration (genesis, then governed
updates) is the only source rules read; this module only supplies the genesis defaults.
"""

from __future__ import annotations

from typing import Any


def default_rule_config() -> dict[str, Any]:
    """A fresh copy of the DOMAIN.md section C defaults."""
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
        # joining procedure
        "public_notice_days": 5,
        "filing_deadline_days": 30,
        "conversion_discussion_grace_months": 1,
        "oath_deadline_months": 3,
        "archive_deadline_days": 60,
        "assessment_grace_days": 30,
        "political_review_validity_months": 12,
        "rush_window_days": 30,
        "rush_max": 3,
        "min_applicant_to_activist_months": 0,
        "stale_application_months": 12,
        "thought_report_period": "QUARTER",
        "age_from_day_after_birthday": False,
        "application_date_slack_days": 30,
        # meetings
        "absence_streak_n": 3,
        "minutes_late_days": 7,
        "minutes_late_red_days": 30,
        "overlap_tolerance_min": 10,
        "quorum_half_inclusive": True,
        "party_lesson_period": "QUARTER",
        "reminder_days": 7,
        # materials
        "late_registration_days": 30,
        "batch_backfill_max": 10,
        # transfers
        "receipt_days": 30,
        "letter_validity_months_in_province": 3,
        "letter_validity_months_cross_province": 6,
        # clocks
        "endorsement_clock_tolerance_ms": 300_000,
        # per-organisation overrides: {org_id: {key: value}}
        "org_overrides": {},
    }
