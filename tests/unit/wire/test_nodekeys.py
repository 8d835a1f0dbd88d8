"""A node key's standing (wire/nodekeys.py): only an ACTIVE record with its node and org names a key
in force; every other status, or a malformed record, gives no node authority."""

from __future__ import annotations

from typing import Any

import pytest

from wire.nodekeys import node_in_force, node_key_state_key

ACTIVE = {"node_id": "b002-obs2", "org_id": "cn.gs.lz.cg.b002", "role": "observer", "status": "ACTIVE"}


def test_an_active_key_is_in_force_as_its_node() -> None:
    assert node_in_force(ACTIVE) == ("b002-obs2", "cn.gs.lz.cg.b002")
    assert node_key_state_key("ab" * 32) == "nodekey/" + "ab" * 32


@pytest.mark.parametrize(
    "record",
    [
        {**ACTIVE, "status": "PENDING"},
        {**ACTIVE, "status": "ROTATED"},
        {**ACTIVE, "status": "REMOVED"},
        {**ACTIVE, "node_id": 7},
        {k: v for k, v in ACTIVE.items() if k != "org_id"},
        None,
        ["ACTIVE"],
    ],
)
def test_anything_else_gives_no_node_authority(record: Any) -> None:
    assert node_in_force(record) is None
