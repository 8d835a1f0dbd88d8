"""Typed builders of the `privacy` transaction family: `access.anchor`, `privacy.reseal`. GENERATED
by scripts/gen_builders.py from `contracts.tx_types_json()`: do not edit; run `python
scripts/gen_builders.py` after a contracts change (tests/unit/client_sdk/test_builders.py fails
while this file is stale).

Import them from `client_sdk.builders`, which re-exports every family; its docstring states the
rules all builders follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypedDict

from client_sdk.tx import Payload


class PrivacyResealItems(TypedDict):
    envelope: str | bytes
    """SHA-256 of nonce || ct; 32 bytes as lower-case hex"""
    sealed: str | bytes
    """80 bytes as lower-case hex"""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessAnchor(Payload):
    """`access.anchor`: Anchor the hash of a closed access-log segment of a node.

    Signed by the node's genesis key (node keys sign nothing else).
    """

    TX_TYPE: ClassVar[str] = "access.anchor"
    node_id: str
    """the anchoring node (its genesis key signs); 1..64 characters, matching ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"""
    segment: int
    """segment number, consecutive per node; integer in [1, 1099511627776]"""
    first_seq: int
    """sequence number of the segment's first line; integer in [1, 4611686018427387904]"""
    last_seq: int
    """sequence number of its last line; integer in [1, 4611686018427387904]"""
    prev_head: str | bytes
    """the chain hash the segment continues (zeros for the first); 32 bytes as lower-case hex"""
    head_hash: str | bytes
    """chain hash of the segment's last line; 32 bytes as lower-case hex"""
    file_hash: str | bytes
    """SHA-256 of the segment file's bytes; 32 bytes as lower-case hex"""
    closed_at_ms: int
    """when the node closed the segment (its clock); integer in [0, 4611686018427387904]"""
    restart: bool | None = None
    """the node lost its local log: a new chain starts here; node default False"""


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivacyReseal(Payload):
    """`privacy.reseal`: Record data keys re-sealed to an org's current encryption key (after org.set_enc_key).

    Signed by an admin of the org or of an ancestor.
    """

    TX_TYPE: ClassVar[str] = "privacy.reseal"
    org_id: str
    """the org whose new key the data keys are sealed to; 1..164 characters, matching ^[a-z0-9][a-z0-9_-]{0,31}(\\.[a-z0-9][a-z0-9_-]{0,31}){0,4}$"""
    key_version: int
    """its current enc_key_version; integer in [1, 1000000]"""
    items: list[PrivacyResealItems]
    """1..128 items, distinct"""
