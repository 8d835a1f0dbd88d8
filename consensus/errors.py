"""The consensus package's exception tree and the `invariant` helper.

Rules (h11's split): a *remote* fault (a peer's bad message, a lying catch-up answer) is never
raised: the replica drops it and counts it in `Replica.stats`. A *local* contract violation (the
driver feeding an impossible event, a broken internal invariant) raises `ConsensusError`, because
continuing on a broken state could sign something wrong. `invariant` is used instead of `assert`,
which `python -O` strips.
"""

from __future__ import annotations


class ConsensusError(Exception):
    """A local contract violation or a broken invariant inside the replica: stop the process."""


def invariant(cond: bool, msg: str) -> None:
    """Raise ConsensusError(msg) unless `cond` holds."""
    if not cond:
        raise ConsensusError(msg)
