"""Crash points for fault tests (CometBFT's FAIL_TEST_INDEX): kill -9 ourselves at a named place.

`ORGLEDGER_FAIL_POINT=<name>[:n]` makes the n-th (default first) arrival at point `name` send
SIGKILL to this process: no cleanup, no flush, exactly like a power cut of the process. Points:

- `before_persist`      consensus records about to be written (own votes not yet durable)
- `after_persist`       records durable, nothing sent yet
- `before_block_write`  a committed block executed, its batch not yet written
- `after_block_write`   the block batch durable, the replica not yet told
- `after_send`          a consensus message handed to the network

Unset (production), `hit` is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal

POINTS = frozenset(
    {"before_persist", "after_persist", "before_block_write", "after_block_write", "after_send"}
)


class FailPoints:
    def __init__(self, spec: str | None = None) -> None:
        spec = spec if spec is not None else os.environ.get("ORGLEDGER_FAIL_POINT", "")
        self._name, self._left = "", 0
        if spec:
            name, _, count = spec.partition(":")
            if name not in POINTS:
                raise ValueError(f"unknown fail point {name!r}; known: {', '.join(sorted(POINTS))}")
            self._name, self._left = name, int(count or "1")

    def hit(self, name: str) -> None:
        if name != self._name:
            return
        self._left -= 1
        if self._left <= 0:
            os.kill(os.getpid(), signal.SIGKILL)
