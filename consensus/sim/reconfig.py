"""Validator-set changes in the simulator (issue 17): the plan a seed derives, the change
transactions, and the schedule every node and the checker derive from the chain.

The schedule is the simulator's stand-in for the ledger's node registry (`contracts/nodes.py`):
the same epoch rule (`wire.epochs.epoch_start`) and the same pre-flight limits, applied
deterministically to the committed chain, so every honest node reports the same epochs to its
replica and the checker knows the true set of every height without asking any replica.

Rules:

- A change transaction is `b"R" + counter (8) + action (1: a add, r remove, k rotate) + key (32)
  + new key (32, rotate only) + padding` with the workload's MAC; the first occurrence on the
  chain counts, in block and transaction order.
- A change is skipped (the ledger would refuse it) when it would leave fewer than 4 validators,
  change more than max(1, f) validators in the epoch it aims at (f of the set before it), change
  a node a second time before its first change took effect, add a member or remove or rotate a
  non-member, reuse a key, or put more faulty identities (byzantine, twinned, skewed) in the set
  than its f. A rotated faulty key stays faulty.
- The plan (`derive_reconfig`) adds spare nodes (which may start late: a new validator that lags),
  removes validators (a removed byzantine one keeps running and keeps signing with its old key:
  a leaving validator that does not leave), and rotates keys; each step also crashes or
  partitions someone around the time its epoch changes, or crashes the primary.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from consensus.config import EpochInfo
from wire.certificate import ValidatorSet, max_faulty
from wire.epochs import epoch_start

TX_PREFIX = b"R"
ACTION_CODES = {"add": b"a", "remove": b"r", "rotate": b"k"}
ACTION_NAMES = {v: k for k, v in ACTION_CODES.items()}
MIN_VALIDATORS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconfigStep:
    """At `tick`, submit a change: add spare identity `target`, remove identity `target`, or
    rotate identity `target` to key `new_key` (identities: 0..n-1 genesis validators, then spares,
    then fresh rotation keys)."""

    tick: int
    action: str
    target: int
    new_key: int = -1

    def describe(self) -> str:
        extra = f"->{self.new_key}" if self.action == "rotate" else ""
        return f"{self.action}:{self.target}{extra}@{self.tick}"


def change_body(counter: int, action: str, key: bytes, new_key: bytes = b"") -> bytes:
    return TX_PREFIX + counter.to_bytes(8, "big") + ACTION_CODES[action] + key + new_key


def parse_change(tx: bytes, mac_size: int) -> tuple[str, bytes, bytes] | None:
    """(action, key, new key) of a change transaction, or None for any other transaction."""
    if not tx.startswith(TX_PREFIX) or len(tx) < 1 + 8 + 1 + 32 + mac_size:
        return None
    action = ACTION_NAMES.get(tx[9:10])
    if action is None:
        return None
    key = tx[10:42]
    new_key = tx[42:74] if action == "rotate" else b""
    if action == "rotate" and len(new_key) != 32:
        return None
    return action, key, new_key


class SetSchedule:
    """The validator epochs a chain's change transactions make (see the module docstring)."""

    def __init__(
        self,
        genesis: Sequence[bytes],
        checkpoint_interval: int,
        exec_lag: int,
        faulty: Iterable[bytes],
        mac_size: int,
    ) -> None:
        self._k, self._lag, self._mac = checkpoint_interval, exec_lag, mac_size
        self.faulty = set(faulty)
        self.epochs: dict[int, list[bytes]] = {1: list(genesis)}
        self.changed: dict[int, set[bytes]] = {}
        self.touched: dict[int, set[bytes]] = {}  # keys of nodes changed in an epoch (old and new)
        self.used: set[bytes] = set(genesis)
        self.seen: set[bytes] = set()
        self.applied: list[tuple[int, str, bytes, bytes]] = []  # (height, action, key, new key)

    def copy(self) -> SetSchedule:
        other = SetSchedule((), self._k, self._lag, self.faulty, self._mac)
        other.epochs = {s: list(v) for s, v in self.epochs.items()}
        other.changed = {s: set(v) for s, v in self.changed.items()}
        other.touched = {s: set(v) for s, v in self.touched.items()}
        other.used, other.seen, other.applied = set(self.used), set(self.seen), list(self.applied)
        return other

    def set_at(self, height: int) -> ValidatorSet:
        start = max(s for s in self.epochs if s <= height)
        return ValidatorSet(tuple(self.epochs[start]))

    def starts(self) -> list[int]:
        return sorted(self.epochs)

    def infos(self, base_hashes: dict[int, bytes] | None = None) -> tuple[EpochInfo, ...]:
        base = base_hashes or {}
        return tuple(
            EpochInfo(start=s, validators=ValidatorSet(tuple(self.epochs[s])), base_hash=base.get(s - 1, b""))
            for s in self.starts()
            if s > 1
        )

    def apply_block(self, height: int, txs: Sequence[bytes]) -> tuple[EpochInfo, ...]:
        """Apply the change transactions of block `height`; the epochs it changed."""
        touched: set[int] = set()
        for tx in txs:
            change = parse_change(tx, self._mac)
            if change is None or tx in self.seen:
                continue
            self.seen.add(tx)
            start = self._apply(height, *change)
            if start is not None:
                touched.add(start)
        return tuple(
            EpochInfo(start=s, validators=ValidatorSet(tuple(self.epochs[s]))) for s in sorted(touched)
        )

    def _apply(self, height: int, action: str, key: bytes, new_key: bytes) -> int | None:
        start = epoch_start(height, self._k, self._lag)
        latest = max(self.epochs)
        before_start = max(s for s in self.epochs if s < start)
        current = list(self.epochs[latest])
        before = self.epochs[before_start]
        if key in self.touched.get(start, set()):
            return None  # one change per node until it takes effect
        if action == "add":
            if key in current:
                return None
            after = [*current, key]
        elif action == "remove":
            if key not in current:
                return None
            after = [k for k in current if k != key]
        else:
            if key not in current or new_key in self.used:
                return None
            after = [new_key if k == key else k for k in current]
        if len(after) < MIN_VALIDATORS and len(after) < len(current):
            return None
        changed = self.changed.get(start, set()) | {key}
        if len(changed) > max(1, max_faulty(len(before))):
            return None
        faulty = self.faulty | ({new_key} if key in self.faulty and new_key else set())
        if sum(1 for k in after if k in faulty) > max_faulty(len(after)):
            return None
        self.faulty = faulty
        self.epochs[start] = after
        self.changed[start] = changed
        self.touched[start] = self.touched.get(start, set()) | {key} | ({new_key} if new_key else set())
        self.used.update(after)
        self.applied.append((height, action, key, new_key))
        return start


def derive_reconfig(
    rng: random.Random,
    n: int,
    spares: int,
    rotations: int,
    faulty: set[int],
    twins: set[int],
    safety_ticks: int,
) -> tuple[ReconfigStep, ...]:
    """1-4 changes through the safety phase, chosen so each would be valid if applied alone and in
    order (the schedule still refuses those that meet in one epoch)."""
    members = list(range(n))
    spare_ids = list(range(n, n + spares))
    fresh = list(range(n + spares, n + spares + rotations))
    bad = set(faulty)
    steps: list[ReconfigStep] = []
    tick = rng.randint(15, 60)
    for _ in range(rng.randint(1, 4)):
        if tick > safety_ticks - 60:
            break
        choices = []
        if spare_ids and sum(1 for m in members if m in bad) <= max_faulty(len(members) + 1):
            choices.append("add")
        removable = [
            m
            for m in members
            if m not in twins
            and len(members) > MIN_VALIDATORS
            and sum(1 for x in members if x in bad and x != m) <= max_faulty(len(members) - 1)
        ]
        if removable:
            choices.append("remove")
        if fresh and any(m not in twins for m in members):
            choices.append("rotate")
        if not choices:
            break
        action = rng.choice(choices)
        if action == "add":
            target = spare_ids.pop(0)
            members.append(target)
            steps.append(ReconfigStep(tick=tick, action="add", target=target))
        elif action == "remove":
            # a byzantine validator leaves more often: the leaving validator that misbehaves
            pool = [m for m in removable if m in bad] if rng.random() < 0.5 else []
            target = rng.choice(pool or removable)
            members.remove(target)
            steps.append(ReconfigStep(tick=tick, action="remove", target=target))
        else:
            target = rng.choice([m for m in members if m not in twins])
            new = fresh.pop(0)
            members[members.index(target)] = new
            if target in bad:
                bad.add(new)
            steps.append(ReconfigStep(tick=tick, action="rotate", target=target, new_key=new))
        tick += rng.randint(20, 120)
    return tuple(steps)
