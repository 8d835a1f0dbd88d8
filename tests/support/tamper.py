"""Offline edits of a stopped node's LevelDB, as an attacker (or a bad disk) would make them.

Each function opens the database with plyvel directly, rewrites one record and closes it. The
"decodable" variants keep the record a valid encoding (only a hash or signature byte changes), so
nothing but the hashes can notice; the others break the encoding.
"""

from __future__ import annotations

from pathlib import Path

import plyvel

from wire import codec
from wire.types import Block


def _h(height: int) -> bytes:
    return height.to_bytes(8, "big")


def _rewrite(data_dir: Path, key: bytes, edit: object) -> None:
    db = plyvel.DB(str(data_dir))
    try:
        old = db.get(key)
        assert old is not None, f"no record {key!r}"
        new = edit(old)  # type: ignore[operator]
        assert new != old
        if new is None:
            db.delete(key, sync=True)
        else:
            db.put(key, new, sync=True)
    finally:
        db.close()


def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]


def tamper_block(data_dir: Path, height: int, *, decodable: bool) -> None:
    """Change one byte of stored block `height`: inside a transaction's signature, or its first byte."""

    def edit(raw: bytes) -> bytes:
        if not decodable:
            return _flip(raw, 0)
        block = Block.decode(raw)
        assert block.txs, f"block {height} has no transactions"
        tx = block.txs[0]
        out = _flip(raw, raw.index(tx) + len(tx) - 5)
        Block.decode(out)
        return out

    _rewrite(data_dir, b"B" + _h(height), edit)


def tamper_receipt(data_dir: Path, height: int, index: int = 0, *, decodable: bool) -> None:
    """Change one byte of a stored receipt: inside its transaction id (still decodes), or its first byte."""
    # a receipt is [6, 1, tx_id, ...]: fixarray, 6, 1, then bin8 header (2 bytes) and the 32-byte id
    _rewrite(
        data_dir, b"R" + _h(height) + index.to_bytes(4, "big"), lambda raw: _flip(raw, 10 if decodable else 0)
    )


def tamper_state(data_dir: Path, prefix: bytes = b"org/") -> bytes:
    """Change the value of the first state entry under `prefix` (still a valid record); return its key."""
    db = plyvel.DB(str(data_dir))
    try:
        key, value = next(iter(db.iterator(prefix=b"S" + prefix)))
    finally:
        db.close()
    record = codec.decode(value)
    assert isinstance(record, dict)
    _rewrite(data_dir, key, lambda _: codec.encode({**record, "tampered": True}))
    return key[1:]
