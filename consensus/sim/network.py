"""SimNetwork: per directed link delay, loss, duplication and reordering, plus partitions.

Delays are `delay_min_ms + Exp(delay_mean_ms)`, so messages on one link overtake each other
(reordering); a duplicated message is delivered twice with independent delays. Partitions block
directed links between *instances* (twins are separate instances of one validator identity):

- isolate_one: one instance cut off both ways;
- halves: a random split into two halves (2|2 at n=4);
- minority: 1..f validators on one side (3|1 at n=4);
- asymmetric: one instance's outgoing (or incoming) links dropped;
- ring: Jepsen's majorities ring, each validator sees a different majority;
- bridge: two halves and one instance that sees both;
- twins_split: each twin pair split across two sides (the Twins partition).

Two modes are only built by hand (`consensus.sim.scenarios.fault_row`), never drawn from a seed
(that would change every pinned seed's scenario):

- swizzle: FDB's swizzle-clog: instances in a random order are clogged (all links, both ways)
  one by one every `SWIZZLE_STEP` ticks, then unclogged in the reverse order;
- slow: no link is cut, but every delay is `SLOW_FACTOR` times longer (delay above the
  view-change timeout: RELIABILITY N8).
"""

from __future__ import annotations

import random

from consensus.errors import invariant
from consensus.sim.options import Episode, SimOptions

SWIZZLE_STEP = 8
SLOW_FACTOR = 40


class SimNetwork:
    def __init__(self, rng: random.Random, opts: SimOptions, index_of: dict[int, int | None]) -> None:
        self.rng = rng
        self.opts = opts
        self.index_of = index_of  # instance -> validator index (None for observers)
        self.blocked: set[tuple[int, int]] = set()
        self.loss = opts.loss
        self.duplicate = opts.duplicate
        self.messages = 0
        self.bytes = 0
        self.slow = 1
        self.swizzle: Episode | None = None

    def heal(self) -> None:
        self.blocked = set()
        self.loss = 0.0
        self.duplicate = 0.0
        self.slow = 1
        self.swizzle = None

    def set_episode(self, ep: Episode | None) -> None:
        self.slow = SLOW_FACTOR if ep is not None and ep.mode == "slow" else 1
        self.swizzle = ep if ep is not None and ep.mode == "swizzle" else None
        self.blocked = set() if ep is None or ep.mode in ("slow", "swizzle") else self._partition(ep)

    def advance(self, tick: int) -> None:
        """Swizzle-clog: recompute the clogged instances for this tick of the episode."""
        ep = self.swizzle
        if ep is None:
            return
        order = sorted(self.index_of)
        random.Random(ep.salt).shuffle(order)
        span = ep.end_tick - ep.start_tick
        elapsed = tick - ep.start_tick
        # clog one more instance every step up to half the episode, then unclog in reverse order
        count = min(elapsed, span - elapsed) // SWIZZLE_STEP + 1
        clogged = order[: max(0, min(count, len(order)))]
        others = [i for i in order if i not in clogged]
        self.blocked = self._cut(clogged, others) | {(a, b) for a in clogged for b in clogged if a != b}

    def delays(self, src: int, dst: int, size: int) -> list[float]:
        self.messages += 1
        self.bytes += size
        if (src, dst) in self.blocked or self.rng.random() < self.loss:
            return []
        first = self.opts.delay_min_ms + self.rng.expovariate(1.0 / self.opts.delay_mean_ms)
        if self.duplicate and self.rng.random() < self.duplicate:
            second = self.opts.delay_min_ms + self.rng.expovariate(1.0 / self.opts.delay_mean_ms)
            return [first * self.slow, second * self.slow]
        return [first * self.slow]

    def connected(self, src: int, dst: int) -> bool:
        return (src, dst) not in self.blocked

    # ------------------------------------------------------------------ partitions
    def _partition(self, ep: Episode) -> set[tuple[int, int]]:
        rng = random.Random(ep.salt)
        instances = sorted(self.index_of)
        validators = [i for i in instances if self.index_of[i] is not None]
        observers = [i for i in instances if self.index_of[i] is None]
        mode = ep.mode
        if mode == "isolate_one":
            x = rng.choice(instances)
            return self._cut([x], [i for i in instances if i != x])
        if mode == "asymmetric":
            x = rng.choice(instances)
            others = [i for i in instances if i != x]
            if rng.random() < 0.5:
                return {(x, o) for o in others}
            return {(o, x) for o in others}
        if mode == "ring":
            return self._ring(rng, validators)
        if mode == "twins_split":
            side_a, side_b = self.twins_sides(rng, validators)
        else:
            shuffled = validators[:]
            rng.shuffle(shuffled)
            if mode == "minority":
                size = rng.randint(1, max(1, self.opts.f))
            else:
                size = len(shuffled) // 2
            side_a, side_b = shuffled[:size], shuffled[size:]
        for o in observers:
            (side_a if rng.random() < 0.5 else side_b).append(o)
        blocked = self._cut(side_a, side_b)
        if mode == "bridge" and side_a and side_b:
            bridge = side_b[0]
            blocked = {(s, d) for s, d in blocked if bridge not in (s, d)}
        return blocked

    def twins_sides(self, rng: random.Random, validators: list[int]) -> tuple[list[int], list[int]]:
        """Each identity with two instances gets one on each side; the rest alternate sides."""
        by_index: dict[int, list[int]] = {}
        for inst in validators:
            idx = self.index_of[inst]
            invariant(idx is not None, "a validator instance has an index")
            by_index.setdefault(idx or 0, []).append(inst)
        side_a: list[int] = []
        side_b: list[int] = []
        singles = []
        for idx in sorted(by_index):
            insts = by_index[idx]
            if len(insts) >= 2:
                side_a.append(insts[0])
                side_b.append(insts[1])
            else:
                singles.append(insts[0])
        rng.shuffle(singles)
        for k, inst in enumerate(singles):
            (side_a if k % 2 == 0 else side_b).append(inst)
        return side_a, side_b

    @staticmethod
    def _cut(side_a: list[int], side_b: list[int]) -> set[tuple[int, int]]:
        return {(a, b) for a in side_a for b in side_b} | {(b, a) for a in side_a for b in side_b}

    @staticmethod
    def _ring(rng: random.Random, validators: list[int]) -> set[tuple[int, int]]:
        order = validators[:]
        rng.shuffle(order)
        n = len(order)
        reach = ((n // 2 + 1) + 1) // 2  # ring distance so that each sees a majority
        blocked = set()
        for i, a in enumerate(order):
            for j, b in enumerate(order):
                d = min((i - j) % n, (j - i) % n)
                if a != b and d > reach:
                    blocked.add((a, b))
        return blocked
