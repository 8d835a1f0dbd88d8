"""The client workload and its deterministic transaction checker.

A transaction is `b"T" + counter (8 bytes) + padding + mac (8 bytes)` where the mac is a keyed
hash under a client secret that no replica (and so no byzantine replica) knows: the injected tx
checker accepts only transactions a client really made, and the "no fabrication" checker can
tell a made-up transaction from a submitted one. Validator-set changes
(`consensus/sim/reconfig.py`) are transactions of the same client, `b"R" + ...` with the same mac.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from consensus.sim.reconfig import change_body
from wire.crypto import sha256

MAC_SIZE = 8


class Workload:
    def __init__(self, seed: int) -> None:
        self._secret = sha256(b"sim-client-secret/%d" % seed)
        self.counter = 0
        self.submitted: dict[bytes, int] = {}  # tx -> tick first submitted

    def make_tx(self, rng: random.Random, tick: int) -> bytes:
        self.counter += 1
        body = b"T" + self.counter.to_bytes(8, "big") + bytes(rng.randrange(40))
        tx = body + sha256(self._secret + body)[:MAC_SIZE]
        self.submitted[tx] = tick
        return tx

    def make_change(self, tick: int, action: str, key: bytes, new_key: bytes = b"") -> bytes:
        """A validator-set change (add, remove or rotate) signed by the client's MAC."""
        self.counter += 1
        body = change_body(self.counter, action, key, new_key)
        tx = body + sha256(self._secret + body)[:MAC_SIZE]
        self.submitted[tx] = tick
        return tx

    def tx_ok(self, tx: bytes) -> bool:
        if len(tx) < 9 + MAC_SIZE or tx[:1] not in (b"T", b"R"):
            return False
        body, mac = tx[:-MAC_SIZE], tx[-MAC_SIZE:]
        return sha256(self._secret + body)[:MAC_SIZE] == mac

    def checker(self, txs: Sequence[bytes]) -> bool:
        return all(self.tx_ok(t) for t in txs)
