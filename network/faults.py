"""Frame-level fault injection for tests (RELIABILITY 3.4, N9): drop, duplicate or reorder frames.

A TCP proxy cannot drop one msgpack frame inside a TLS stream, so this wrapper sits inside the
transport, on the sending side, and is enabled only when `NetworkConfig.faults` is set.

Rules:

- Only one-way messages (`PeerNetwork.send` / `broadcast`) are faulted; requests and responses
  are not (a lost response is just a timeout, which tests can cause with the proxy).
- Each peer has its own `random.Random`, seeded from `(seed, own node id, peer id)`, and each frame
  draws exactly one number from it, so the fate of the k-th frame to a peer depends only on the
  seed and k, never on the interleaving with other peers or on timing.
- The draw `r` picks: `r < drop` drop; `< drop + duplicate` send twice; `< drop + duplicate +
  reorder` hold the frame back and send it after the next frame to that peer (or after
  `reorder_hold_s` if none comes); otherwise pass.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from network.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultRule:
    """Probabilities per frame; their sum must not exceed 1."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"fault probability {name}={p} must be within [0, 1]")
        if self.drop + self.duplicate + self.reorder > 1.0 + 1e-9:
            raise ConfigError("fault probabilities drop + duplicate + reorder must not exceed 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultConfig:
    """Test-only: `default` applies to every peer without an entry in `per_peer`."""

    seed: int
    default: FaultRule = field(default_factory=FaultRule)
    per_peer: Mapping[str, FaultRule] = field(default_factory=dict)
    reorder_hold_s: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 < self.reorder_hold_s <= 10.0:
            raise ConfigError("reorder_hold_s must be within (0, 10] seconds")

    def rule(self, peer_id: str) -> FaultRule:
        return self.per_peer.get(peer_id, self.default)


class FaultyTransport:
    """Decides, deterministically for a seed, what happens to each outgoing frame."""

    def __init__(self, config: FaultConfig, own_id: str) -> None:
        self._config = config
        self._own_id = own_id
        self._rules: dict[str, FaultRule] = dict(config.per_peer)
        self._rngs: dict[str, random.Random] = {}
        self._held: dict[str, bytes] = {}
        self.dropped = 0
        self.duplicated = 0
        self.reordered = 0

    @property
    def reorder_hold_s(self) -> float:
        return self._config.reorder_hold_s

    def set_rule(self, peer_id: str, rule: FaultRule) -> None:
        """Change the rule for one peer at run time (the random sequence continues)."""
        self._rules[peer_id] = rule

    def _rng(self, peer_id: str) -> random.Random:
        rng = self._rngs.get(peer_id)
        if rng is None:
            # str seeds are hashed with SHA-512 by random.Random: stable across runs and processes.
            rng = random.Random(f"{self._config.seed}/{self._own_id}/{peer_id}")
            self._rngs[peer_id] = rng
        return rng

    def plan(self, peer_id: str, frame: bytes) -> list[bytes]:
        """The frames to send now, in order, in place of `frame` (zero, one, two or three)."""
        rule = self._rules.get(peer_id, self._config.default)
        r = self._rng(peer_id).random()
        held = self._held.pop(peer_id, None)
        out: list[bytes]
        if r < rule.drop:
            self.dropped += 1
            out = []
        elif r < rule.drop + rule.duplicate:
            self.duplicated += 1
            out = [frame, frame]
        elif r < rule.drop + rule.duplicate + rule.reorder and held is None:
            self.reordered += 1
            self._held[peer_id] = frame
            return []
        else:
            out = [frame]
        if held is not None:
            out.append(held)
        return out

    def has_held(self, peer_id: str) -> bool:
        return peer_id in self._held

    def release(self, peer_id: str) -> bytes | None:
        """The frame held back for `peer_id`, if any (called when the hold time has passed)."""
        return self._held.pop(peer_id, None)
