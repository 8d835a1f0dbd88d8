"""The transaction type registry: every `tx_type` the engine accepts, with its payload schema.

`TX_TYPES` maps each dotted name to its `TxSpec` (family, description, who signs, the payload
schema). The SDK generates typed builders from `tx_types_json()`; `check_tx` and the engine
validate payloads against the same schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from contracts import (
    archive,
    governance,
    joining,
    lifecycle,
    materials,
    meetings,
    nodegov,
    orgs,
    privacy,
    transfer,
)
from contracts.base import TxSpec
from contracts.errors import InvariantError

_ALL: tuple[TxSpec, ...] = (
    *orgs.TX_SPECS,
    *archive.TX_SPECS,
    *materials.TX_SPECS,
    *joining.TX_SPECS,
    *transfer.TX_SPECS,
    *meetings.TX_SPECS,
    *lifecycle.TX_SPECS,
    *governance.TX_SPECS,
    *nodegov.TX_SPECS,
    *privacy.TX_SPECS,
)


def _build() -> Mapping[str, TxSpec]:
    out: dict[str, TxSpec] = {}
    for spec in _ALL:
        if spec.name in out:
            raise InvariantError(f"transaction type {spec.name} is registered twice")
        out[spec.name] = spec
    return MappingProxyType(dict(sorted(out.items())))


TX_TYPES: Mapping[str, TxSpec] = _build()


def tx_types_json() -> list[dict[str, Any]]:
    """Every transaction type with its payload schema, sorted by name (for the SDK and the docs)."""
    return [spec.to_json() for spec in TX_TYPES.values()]
