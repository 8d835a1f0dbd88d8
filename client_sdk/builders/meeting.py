"""Typed builders of the `meeting` transaction family: `meeting.amend`, `meeting.record`. GENERATED
by scripts/gen_builders.py from `contracts.tx_types_json()`: do not edit; run `python
scripts/gen_builders.py` after a contracts change (tests/unit/client_sdk/test_builders.py fails
while this file is stale).

Import them from `client_sdk.builders`, which re-exports every family; its docstring states the
rules all builders follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, NotRequired, TypedDict

from client_sdk.tx import Payload


class MeetingAmendTopics(TypedDict):
    topic_id: str
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    title_hash: str | bytes
    """32 bytes as lower-case hex"""
    category: NotRequired[str | None]
    """三重一大 topics: MAJOR_DECISION|PERSONNEL|MAJOR_PROJECT|LARGE_FUNDS; 1..32 characters"""
    added_at: NotRequired[int | None]
    """when the topic was put on the agenda (DEC-09: not during the meeting); integer in [0, 9223372036854775807]"""


class MeetingAmendSealedKeys(TypedDict):
    org_id: str
    """1..164 characters, matching ^[a-z0-9][a-z0-9_-]{0,31}(\\.[a-z0-9][a-z0-9_-]{0,31}){0,4}$"""
    key_version: int
    """integer in [1, 1000000]"""
    sealed: str | bytes
    """the data key sealed to that org key; 80 bytes as lower-case hex"""


class MeetingAmendSealed(TypedDict):
    v: int
    """envelope format version; integer in [1, 1]"""
    nonce: str | bytes
    """SecretBox nonce; 24 bytes as lower-case hex"""
    ct: str
    """SecretBox ciphertext of the fields (hex); 32..40000 characters, matching ^(?:[0-9a-f][0-9a-f])*$"""
    keys: list[MeetingAmendSealedKeys]
    """the owning org and every ancestor; 1..8 items, distinct"""


class MeetingAmendAttendance(TypedDict):
    person_key: str | bytes
    """32 bytes as lower-case hex"""
    status: Literal["PRESENT", "PRESENT_ONLINE", "LEAVE", "ABSENT", "OBSERVER"]
    sign_in_at: NotRequired[int | None]
    """integer in [0, 9223372036854775807]"""
    sig: NotRequired[str | bytes | None]
    """64 bytes as lower-case hex"""


class MeetingAmendWrittenOpinions(TypedDict):
    person_key: str | bytes
    """32 bytes as lower-case hex"""
    vote: Literal["YES", "NO", "ABSTAIN"]
    doc_id: NotRequired[str | None]
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    submitted_at: int
    """integer in [0, 9223372036854775807]"""
    item_id: NotRequired[str | None]
    """the item the opinion is on (absent: every item); 1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""


class MeetingAmendItemsVotes(TypedDict):
    person_key: str | bytes
    """32 bytes as lower-case hex"""
    vote: Literal["YES", "NO", "ABSTAIN"]


class MeetingAmendItems(TypedDict):
    item_id: str
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    subject_key: NotRequired[str | bytes | None]
    """32 bytes as lower-case hex"""
    ballot_method: Literal["SECRET", "SHOW_OF_HANDS", "ORAL", "ROLL_CALL"]
    yes: int
    """integer in [0, 100000]"""
    no: int
    """integer in [0, 100000]"""
    abstain: int
    """integer in [0, 100000]"""
    result: Literal["PASSED", "REJECTED", "DEFERRED"]
    votes: NotRequired[list[MeetingAmendItemsVotes] | None]
    """roll-call votes; 0..500 items"""


class MeetingRecordTopics(TypedDict):
    topic_id: str
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    title_hash: str | bytes
    """32 bytes as lower-case hex"""
    category: NotRequired[str | None]
    """三重一大 topics: MAJOR_DECISION|PERSONNEL|MAJOR_PROJECT|LARGE_FUNDS; 1..32 characters"""
    added_at: NotRequired[int | None]
    """when the topic was put on the agenda (DEC-09: not during the meeting); integer in [0, 9223372036854775807]"""


class MeetingRecordSealedKeys(TypedDict):
    org_id: str
    """1..164 characters, matching ^[a-z0-9][a-z0-9_-]{0,31}(\\.[a-z0-9][a-z0-9_-]{0,31}){0,4}$"""
    key_version: int
    """integer in [1, 1000000]"""
    sealed: str | bytes
    """the data key sealed to that org key; 80 bytes as lower-case hex"""


class MeetingRecordSealed(TypedDict):
    v: int
    """envelope format version; integer in [1, 1]"""
    nonce: str | bytes
    """SecretBox nonce; 24 bytes as lower-case hex"""
    ct: str
    """SecretBox ciphertext of the fields (hex); 32..40000 characters, matching ^(?:[0-9a-f][0-9a-f])*$"""
    keys: list[MeetingRecordSealedKeys]
    """the owning org and every ancestor; 1..8 items, distinct"""


class MeetingRecordAttendance(TypedDict):
    person_key: str | bytes
    """32 bytes as lower-case hex"""
    status: Literal["PRESENT", "PRESENT_ONLINE", "LEAVE", "ABSENT", "OBSERVER"]
    sign_in_at: NotRequired[int | None]
    """integer in [0, 9223372036854775807]"""
    sig: NotRequired[str | bytes | None]
    """64 bytes as lower-case hex"""


class MeetingRecordWrittenOpinions(TypedDict):
    person_key: str | bytes
    """32 bytes as lower-case hex"""
    vote: Literal["YES", "NO", "ABSTAIN"]
    doc_id: NotRequired[str | None]
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    submitted_at: int
    """integer in [0, 9223372036854775807]"""
    item_id: NotRequired[str | None]
    """the item the opinion is on (absent: every item); 1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""


class MeetingRecordItemsVotes(TypedDict):
    person_key: str | bytes
    """32 bytes as lower-case hex"""
    vote: Literal["YES", "NO", "ABSTAIN"]


class MeetingRecordItems(TypedDict):
    item_id: str
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    subject_key: NotRequired[str | bytes | None]
    """32 bytes as lower-case hex"""
    ballot_method: Literal["SECRET", "SHOW_OF_HANDS", "ORAL", "ROLL_CALL"]
    yes: int
    """integer in [0, 100000]"""
    no: int
    """integer in [0, 100000]"""
    abstain: int
    """integer in [0, 100000]"""
    result: Literal["PASSED", "REJECTED", "DEFERRED"]
    votes: NotRequired[list[MeetingRecordItemsVotes] | None]
    """roll-call votes; 0..500 items"""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingAmend(Payload):
    """`meeting.amend`: Record the next version of a meeting record (prev_version, amend_reason).

    Signed by an operator or admin of the org holding the meeting / making the decision.
    """

    TX_TYPE: ClassVar[str] = "meeting.amend"
    meeting_id: str
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    joint_org_ids: list[str] | None = None
    """joint meeting; 0..16 items, distinct"""
    group_id: str | None = None
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    meeting_type: Literal[
        "BRANCH_GENERAL",
        "BRANCH_COMMITTEE",
        "GROUP",
        "PARTY_LESSON",
        "THEME_DAY",
        "ORG_LIFE",
        "DEMOCRATIC_REVIEW",
        "COMMITTEE",
        "LEADERSHIP",
    ]
    start: int
    """UTC epoch ms; integer in [0, 9223372036854775807]"""
    end: int
    """UTC epoch ms, > start; integer in [0, 9223372036854775807]"""
    location_code: str
    """1..64 characters"""
    host_key: str | bytes | None = None
    """32 bytes as lower-case hex"""
    recorder_key: str | bytes | None = None
    """32 bytes as lower-case hex"""
    lecturer_key: str | bytes | None = None
    """32 bytes as lower-case hex"""
    topics: list[MeetingAmendTopics] | None = None
    """0..64 items"""
    minutes_content_hash: str | bytes
    """32 bytes as lower-case hex"""
    minutes_text_hash: str | bytes | None = None
    """32 bytes as lower-case hex"""
    sealed: MeetingAmendSealed | None = None
    """encrypted personal fields (docs/privacy.md); stored, never read by the rules"""
    roster_snapshot_hash: str | bytes | None = None
    """32 bytes as lower-case hex"""
    expected_keys: list[str | bytes] | None = None
    """0..500 items, distinct"""
    entitled_voter_keys: list[str | bytes] | None = None
    """0..500 items, distinct"""
    attendance: list[MeetingAmendAttendance] | None = None
    """0..500 items"""
    written_opinions: list[MeetingAmendWrittenOpinions] | None = None
    """0..500 items"""
    items: list[MeetingAmendItems] | None = None
    """0..64 items"""
    prev_version: int
    """integer in [1, 1000000]"""
    amend_reason: str
    """1..1024 characters"""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingRecord(Payload):
    """`meeting.record`: Record a meeting with attendance, written opinions and ballots.

    Signed by an operator or admin of the org holding the meeting / making the decision.
    """

    TX_TYPE: ClassVar[str] = "meeting.record"
    meeting_id: str
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    joint_org_ids: list[str] | None = None
    """joint meeting; 0..16 items, distinct"""
    group_id: str | None = None
    """1..128 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    meeting_type: Literal[
        "BRANCH_GENERAL",
        "BRANCH_COMMITTEE",
        "GROUP",
        "PARTY_LESSON",
        "THEME_DAY",
        "ORG_LIFE",
        "DEMOCRATIC_REVIEW",
        "COMMITTEE",
        "LEADERSHIP",
    ]
    start: int
    """UTC epoch ms; integer in [0, 9223372036854775807]"""
    end: int
    """UTC epoch ms, > start; integer in [0, 9223372036854775807]"""
    location_code: str
    """1..64 characters"""
    host_key: str | bytes | None = None
    """32 bytes as lower-case hex"""
    recorder_key: str | bytes | None = None
    """32 bytes as lower-case hex"""
    lecturer_key: str | bytes | None = None
    """32 bytes as lower-case hex"""
    topics: list[MeetingRecordTopics] | None = None
    """0..64 items"""
    minutes_content_hash: str | bytes
    """32 bytes as lower-case hex"""
    minutes_text_hash: str | bytes | None = None
    """32 bytes as lower-case hex"""
    sealed: MeetingRecordSealed | None = None
    """encrypted personal fields (docs/privacy.md); stored, never read by the rules"""
    roster_snapshot_hash: str | bytes | None = None
    """32 bytes as lower-case hex"""
    expected_keys: list[str | bytes] | None = None
    """0..500 items, distinct"""
    entitled_voter_keys: list[str | bytes] | None = None
    """0..500 items, distinct"""
    attendance: list[MeetingRecordAttendance] | None = None
    """0..500 items"""
    written_opinions: list[MeetingRecordWrittenOpinions] | None = None
    """0..500 items"""
    items: list[MeetingRecordItems] | None = None
    """0..64 items"""
