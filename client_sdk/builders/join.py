"""Typed builders of the `join` transaction family: `join.pipeline_transfer`, `join.step`. GENERATED
by scripts/gen_builders.py from `contracts.tx_types_json()`: do not edit; run `python
scripts/gen_builders.py` after a contracts change (tests/unit/client_sdk/test_builders.py fails
while this file is stale).

Import them from `client_sdk.builders`, which re-exports every family; its docstring states the
rules all builders follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar, Literal, NotRequired, TypedDict

from client_sdk.tx import Payload


class JoinStepExtra(TypedDict):
    received_date: NotRequired[str | date | None]
    """S01: date the application was received; date YYYY-MM-DD"""
    conclusion: NotRequired[Literal["QUALIFIED", "UNQUALIFIED"] | None]
    """S10: political review conclusion"""
    days: NotRequired[int | None]
    """S11: training days; integer in [0, 366]"""
    hours: NotRequired[int | None]
    """S11: class hours; integer in [0, 10000]"""
    special_case: NotRequired[bool | None]
    """S11: individual special case without training"""
    volunteer_book_no: NotRequired[str | None]
    """S14: 入党志愿书编号; 1..64 characters"""
    item_id: NotRequired[str | None]
    """S15/S17/S23/S24: the meeting item voted on; 1..64 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    reported_date: NotRequired[str | date | None]
    """S15: date the resolution was reported upward; date YYYY-MM-DD"""
    special_extension_reason: NotRequired[str | None]
    """S17: reason for approval after 3 months; 1..1024 characters"""
    extension_months: NotRequired[int | None]
    """S23 EXTEND: months of extension; integer in [0, 120]"""


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinPipelineTransfer(Payload):
    """`join.pipeline_transfer`: Hand an open pipeline (activist / development target) to another unit.

    Signed by an operator or admin of the org holding the pipeline.
    """

    TX_TYPE: ClassVar[str] = "join.pipeline_transfer"
    pipeline_id: str
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    person_key: str | bytes
    """32 bytes as lower-case hex"""
    from_org_id: str
    """1..164 characters, matching ^[a-z0-9][a-z0-9_-]{0,31}(\\.[a-z0-9][a-z0-9_-]{0,31}){0,4}$"""
    to_org_id: str
    """1..164 characters, matching ^[a-z0-9][a-z0-9_-]{0,31}(\\.[a-z0-9][a-z0-9_-]{0,31}){0,4}$"""
    handover_date: str | date
    """date YYYY-MM-DD"""
    doc_refs: list[str] | None = None
    """0..32 items, distinct"""
    new_pipeline_id: str | None = None
    """continue under a new id (linked); 1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinStep(Payload):
    """`join.step`: Record one of the 25 joining-procedure steps of a pipeline.

    Signed by branch steps: an operator/admin of the pipeline's org; committee steps: a higher org; S13/S17/S24: the approving org with an approver.
    """

    TX_TYPE: ClassVar[str] = "join.step"
    pipeline_id: str
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    person_key: str | bytes
    """32 bytes as lower-case hex"""
    step: Literal[
        "S01",
        "S02",
        "S03",
        "S04",
        "S05",
        "S06",
        "S07",
        "S08",
        "S09",
        "S10",
        "S11",
        "S12",
        "S13",
        "S14",
        "S15",
        "S16",
        "S17",
        "S18",
        "S19",
        "S20",
        "S21",
        "S22",
        "S23",
        "S24",
        "S25",
    ]
    event_date: str | date
    """date the step legally happened; date YYYY-MM-DD"""
    decision_ref: str | None = None
    """meeting (or decision) that decided the step; 1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    doc_refs: list[str] | None = None
    """0..32 items, distinct"""
    actor_keys: list[str | bytes] | None = None
    """talker, contacts, introducers; 0..16 items"""
    result: Literal["PASS", "FAIL", "EXTEND", "CANCEL", "N_A"] | None = None
    """node default 'PASS'"""
    extra: JoinStepExtra | None = None
