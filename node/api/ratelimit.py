"""The one token bucket: per-name rate limits, bounded in the number of names.

Rules: `take(name, now, n)` spends `n` tokens of `name`'s bucket (refilled at `rate_per_s` up to
`burst`) and answers 0.0, or the seconds until `n` tokens would be there (nothing spent). A
request for more than `burst` tokens can never pass: it answers `NEVER_S`. At most `max_names`
buckets are kept; the least recently used is forgotten (it comes back full). Time is passed in,
so tests need no clock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

NEVER_S = 3600.0


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: float, max_names: int = 100_000) -> None:
        self.rate, self.burst, self.max_names = rate_per_s, burst, max_names
        self._b: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._b)

    def take(self, name: Hashable, now: float, n: float = 1.0) -> float:
        """0.0 when `n` tokens were taken, else the seconds until they would be there."""
        tokens, last = self._b.pop(name, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        if n <= tokens:
            self._b[name] = (tokens - n, now)
            wait = 0.0
        else:
            self._b[name] = (tokens, now)
            if n > self.burst or self.rate <= 0:
                wait = NEVER_S
            else:
                wait = (n - tokens) / self.rate
        while len(self._b) > self.max_names:
            self._b.popitem(last=False)
        return wait
