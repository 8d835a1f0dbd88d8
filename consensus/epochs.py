"""The validator epochs a replica knows, and when each set may be used (issue 17).

Rules:

- The table starts with the genesis set, in force from height 1, and learns later epochs from the
  driver: `Executed.epochs` (what a block scheduled or changed) and `RecoveredState.epochs`. A
  later report for a start replaces the earlier one (several changes may aim at one boundary);
  an epoch whose set equals the one before it is dropped (an observer-only change).
- The set of height s may be used only once it is fixed: the replica has executed up to
  `wire.epochs.epoch_base(s) - exec_lag` (`known`). A change executed at h takes effect at
  `wire.epochs.epoch_start(h, K, exec_lag)`, so it is reported before it can matter; until then
  messages about s are dropped (senders retransmit) and catch-up stops at the `horizon`.
- Each epoch has its own `Verifier`: indexes in votes and certificates of height s are indexes
  into the set in force at s.
- Two negative-control mutants (the simulator proves its checkers catch them): `epoch_at_commit`
  puts a reported set in force right after the block that reported it, not at its boundary;
  `accept_rotated_key` also accepts, at each index, the previous epoch's key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from consensus.config import EpochInfo
from consensus.quorum import Verifier
from wire.certificate import ValidatorSet
from wire.epochs import known_horizon, set_known

MakeVerifier = Callable[[ValidatorSet, tuple[bytes, ...]], Verifier]


@dataclass(slots=True)
class Epoch:
    start: int
    validators: ValidatorSet
    verifier: Verifier
    base_hash: bytes = b""  # hash of block start - 1, once known


class EpochTable:
    def __init__(
        self,
        genesis: ValidatorSet,
        genesis_hash: bytes,
        checkpoint_interval: int,
        exec_lag: int,
        make_verifier: MakeVerifier,
        mutants: frozenset[str] = frozenset(),
    ) -> None:
        self._k, self._lag = checkpoint_interval, exec_lag
        self._make = make_verifier
        self._mutants = mutants
        self.epochs: list[Epoch] = [Epoch(1, genesis, make_verifier(genesis, ()), genesis_hash)]

    # ------------------------------------------------------------------ learning
    def learn(self, info: EpochInfo, reported_at: int | None = None) -> None:
        """Record (or replace) the epoch starting at `info.start`."""
        start = info.start
        if "epoch_at_commit" in self._mutants and reported_at is not None:
            start = reported_at + 1  # the mutant: in force right after the block that scheduled it
        if start <= 1:
            return
        kept = [e for e in self.epochs if e.start != start]
        before = [e for e in kept if e.start < start]
        prev = before[-1]
        alt = prev.validators.pubkeys if "accept_rotated_key" in self._mutants else ()
        base = info.base_hash or next((e.base_hash for e in self.epochs if e.start == start), b"")
        epoch = Epoch(start, info.validators, self._make(info.validators, alt), base)
        self.epochs = sorted([*kept, epoch], key=lambda e: e.start)
        self._merge()

    def _merge(self) -> None:
        merged: list[Epoch] = []
        for e in self.epochs:
            if merged and merged[-1].validators.pubkeys == e.validators.pubkeys:
                continue
            merged.append(e)
        self.epochs = merged

    def note_base(self, height: int, block_hash: bytes) -> None:
        """Block `height` was committed: it is the base of an epoch starting after it."""
        for e in self.epochs:
            if e.start == height + 1:
                e.base_hash = block_hash

    # ------------------------------------------------------------------ reading
    def known(self, height: int, executed: int) -> bool:
        return height >= 1 and set_known(height, executed, self._k, self._lag)

    def horizon(self, executed: int) -> int:
        return known_horizon(executed, self._k, self._lag)

    def at(self, height: int) -> Epoch:
        """The epoch in force at `height` as far as reported (check `known` first)."""
        chosen = self.epochs[0]
        for e in self.epochs:
            if e.start <= height:
                chosen = e
            else:
                break
        return chosen

    def next_after(self, start: int) -> Epoch | None:
        return next((e for e in self.epochs if e.start > start), None)

    def by_start(self, start: int) -> Epoch | None:
        return next((e for e in self.epochs if e.start == start), None)
