"""The one token bucket: per-name rate limits, bounded in the number of names; and the admission
budget built from it.

Rules: `take(name, now, n)` spends `n` tokens of `name`'s bucket (refilled at `rate_per_s` up to
`burst`) and answers 0.0, or the seconds until `n` tokens would be there (nothing spent). A
request for more than `burst` tokens can never pass: it answers `NEVER_S`. At most `max_names`
buckets are kept; the least recently used is forgotten (it comes back full). Time is passed in,
so tests need no clock.

`AdmissionBudget` bounds what any one client, and all clients together, can make the network do
through this node's `POST /v1/tx` and `/v1/txs` (issue 18.2): a bucket per client address (429
`client_rate_limited`) and one for the node (503 `admission_busy`), both with `Retry-After`.
A client whose budget is spent is refused before its transaction is read or checked. The
per-client bucket is spent first, so one client cannot drain the node's bucket alone.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from node.config import AdmissionTable

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


@dataclass(frozen=True, slots=True)
class AdmissionSettings:
    """What one client address, and everyone together, may submit to this node per second."""

    per_client_rate_s: float = 1000.0
    per_client_burst: float = 4000.0
    rate_s: float = 4000.0
    burst: float = 16000.0

    @classmethod
    def from_config(cls, admission: AdmissionTable) -> AdmissionSettings:
        """The budget node.toml's `[admission]` sets."""
        return cls(
            per_client_rate_s=admission.client_rate_s,
            per_client_burst=admission.client_burst,
            rate_s=admission.rate_s,
            burst=admission.burst,
        )


class AdmissionBudget:
    """The admission budget of `POST /v1/tx` and `/v1/txs`: one bucket per client address and one
    for the node; a transaction costs one token of each (a batch, one per transaction)."""

    def __init__(self, settings: AdmissionSettings = AdmissionSettings()) -> None:
        self.settings = settings
        self.clients = TokenBucket(settings.per_client_rate_s, settings.per_client_burst, max_names=10_000)
        self.node = TokenBucket(settings.rate_s, settings.burst, max_names=1)

    def take(self, client: str, now: float, n: int = 1) -> tuple[str, float] | None:
        """None when `n` transactions may be admitted now, else (reason code, seconds to wait)."""
        wait = self.clients.take(client, now, n)
        if wait > 0:
            return "client_rate_limited", wait
        wait = self.node.take("", now, n)
        if wait > 0:
            return "admission_busy", wait
        return None
