"""The state root: a homomorphic multiset hash (LtHash, 1024 lanes of 16 bits) over all state entries.

Why this and not a Merkle tree over the state: it updates in O(1) per written key (a block's cost
is its write set, not the size of the state), it depends only on the current set of entries and
not on history (so a node can check its whole stored state against a certified root with one scan,
and a state snapshot can be verified), and the lattice construction (Bellare-Micciancio; used by
Facebook's update propagation and Solana's accounts hash) is collision resistant at these sizes.

Rules:

- An entry (key, value) contributes `lanes(key, value)`: SHAKE-256 of the canonical encoding of
  `[key, value]`, 4096 bytes read as 1024 little-endian 32-bit words of which only the low 16 bits
  are kept. The accumulator is the lane-wise sum mod 2**16 of all live entries' lanes.
- Writing a key removes its old entry (if any) and adds the new one; deleting removes it.
- `root()` = SHA-256(b"orgledger/state-root\\x00" || the 2048 reduced 16-bit lanes, little endian).
- The accumulator is held as one Python int with each lane in its own 32-bit slot, so an update is
  a single big-int addition; slots are reduced mod 2**16 well before they could carry into the next.
"""

from __future__ import annotations

import hashlib

import msgpack

LANES = 1024
_SLOT_BITS = 32
_WIDTH_BYTES = LANES * _SLOT_BITS // 8
_LOW16 = int.from_bytes(b"\xff\xff\x00\x00" * LANES, "little")
_TWO16 = int.from_bytes(b"\x00\x00\x01\x00" * LANES, "little")  # 2**16 in every slot
_REDUCE_EVERY = 20_000  # each update adds < 2**17 per slot; 2**32 / 2**17 >> this


def entry_lanes(key: bytes, value: bytes) -> int:
    digest = hashlib.shake_256(msgpack.packb([key, value], use_bin_type=True)).digest(_WIDTH_BYTES)
    return int.from_bytes(digest, "little") & _LOW16


class StateHash:
    """Incremental LtHash accumulator. Copy with `copy()`; the state root is `root()`."""

    __slots__ = ("_acc", "_pending")

    def __init__(self, acc: int = 0) -> None:
        self._acc = acc
        self._pending = 0

    @classmethod
    def from_bytes(cls, data: bytes) -> StateHash:
        if len(data) != 2 * LANES:
            raise ValueError("a serialized state hash is 2048 bytes")
        acc = 0
        for i in range(LANES):
            acc |= int.from_bytes(data[2 * i : 2 * i + 2], "little") << (_SLOT_BITS * i)
        return cls(acc)

    def copy(self) -> StateHash:
        out = StateHash(self._acc)
        out._pending = self._pending
        return out

    def add(self, key: bytes, value: bytes) -> None:
        self._acc += entry_lanes(key, value)
        self._bump()

    def remove(self, key: bytes, value: bytes) -> None:
        self._acc += _TWO16 - entry_lanes(key, value)
        self._bump()

    def update(self, key: bytes, old: bytes | None, new: bytes | None) -> None:
        """Apply one write: `old` is the previous value (None if absent), `new` None deletes."""
        if old is not None:
            self.remove(key, old)
        if new is not None:
            self.add(key, new)

    def _bump(self) -> None:
        self._pending += 1
        if self._pending >= _REDUCE_EVERY:
            self._acc &= _LOW16
            self._pending = 0

    def lanes_bytes(self) -> bytes:
        """The 2048-byte canonical form (lanes reduced mod 2**16, little endian)."""
        reduced = (self._acc & _LOW16).to_bytes(_WIDTH_BYTES, "little")
        return b"".join(reduced[i : i + 2] for i in range(0, _WIDTH_BYTES, 4))

    def root(self) -> bytes:
        return hashlib.sha256(b"orgledger/state-root\x00" + self.lanes_bytes()).digest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StateHash) and (self._acc & _LOW16) == (other._acc & _LOW16)

    def __hash__(self) -> int:  # pragma: no cover - not used as a dict key
        return hash(self._acc & _LOW16)
