"""Every option of one simulation run, derived from a single seed and printable.

`derive_options(seed, ...)` draws everything from `random.Random(seed)`: the consensus parameters,
network delay/loss/duplication, the partition schedule, crashes and power losses, clock skew, the
byzantine replicas with their behaviours, twins, and the workload. A failing seed plus the same
command line replays exactly. Faulty identities (byzantine, twinned or skewed) never exceed f,
except when a negative control asks for more.

With `reconfig=True` a seed also changes its validator set (`consensus/sim/reconfig.py`): spare
nodes (which may start late), adds, removes and rotations, with a crash or partition near each
change (or of the primary). These draws come from their own stream, so every other option of a
seed is the same with or without reconfiguration.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field, fields

from consensus.sim.reconfig import ReconfigStep, derive_reconfig
from wire.genesis import ConsensusParams

FAULT_MODES = ("none", "crash", "network", "byzantine", "all")
PARTITION_MODES = ("isolate_one", "halves", "minority", "asymmetric", "ring", "bridge", "twins_split")
BYZANTINE_BEHAVIOURS = (
    "equivocate",
    "double_vote",
    "forge_view_change",
    "forge_new_view",
    "huge_view",
    "out_of_window",
    "bad_signature",
    "withhold",
    "stale_replay",
    "lie_catchup",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """A network fault from `start_tick` to `end_tick` (exclusive)."""

    start_tick: int
    end_tick: int
    mode: str
    salt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SimOptions:
    seed: int
    validators: int
    observers: int
    faults: str
    params: ConsensusParams
    real_crypto: bool = False
    # network
    delay_min_ms: int = 2
    delay_mean_ms: int = 20
    loss: float = 0.0
    duplicate: float = 0.0
    episodes: tuple[Episode, ...] = ()
    # crashes: (tick, instance, power_loss, down_ticks)
    crashes: tuple[tuple[int, int, bool, int], ...] = ()
    # faulty identities
    skew_ms: tuple[tuple[int, int], ...] = ()  # (validator index, offset)
    # clock strobing (RELIABILITY K2): (validator index, amplitude ms, period ticks); the clock
    # jumps between +amplitude and -amplitude every period
    strobe: tuple[tuple[int, int, int], ...] = ()
    byzantine: tuple[tuple[int, tuple[str, ...]], ...] = ()
    twins: tuple[int, ...] = ()
    # reconfiguration: spare nodes (identities n.., their start ticks), rotation keys, the plan
    spare_starts: tuple[int, ...] = ()
    rotation_keys: int = 0
    reconfig: tuple[ReconfigStep, ...] = ()
    # workload
    tx_every_ticks: int = 4
    txs_per_burst: int = 3
    retry_ticks: int = 60
    # phases
    safety_ticks: int = 400
    liveness_ticks: int = 2500
    mutants: frozenset[str] = field(default_factory=frozenset)
    skip_checks: frozenset[str] = field(default_factory=frozenset)  # negative controls only

    @property
    def f(self) -> int:
        return (self.validators - 1) // 3

    @property
    def faulty(self) -> set[int]:
        skewed = {i for i, _ in self.skew_ms} | {i for i, _, _ in self.strobe}
        return skewed | {i for i, _ in self.byzantine} | set(self.twins)

    def describe(self) -> str:
        parts = []
        for fl in fields(self):
            value = getattr(self, fl.name)
            if fl.name == "params":
                value = " ".join(f"{k}={v}" for k, v in value.to_json().items())
            elif fl.name == "episodes":
                value = ",".join(f"{e.mode}@{e.start_tick}-{e.end_tick}" for e in value) or "-"
            elif fl.name == "reconfig":
                value = ",".join(step.describe() for step in value) or "-"
            elif isinstance(value, float):
                value = f"{value:.3f}"
            parts.append(f"{fl.name}={value}")
        return " ".join(parts)


def derive_options(
    seed: int,
    *,
    validators: int = 4,
    observers: int = 1,
    faults: str = "all",
    ticks: int | None = None,
    reconfig: bool = False,
) -> SimOptions:
    if faults not in FAULT_MODES:
        raise ValueError(f"faults must be one of {FAULT_MODES}")
    # The order of the draws below is part of every seed's identity: keep it.
    rng = random.Random(seed * 1_000_003 + validators * 101 + observers)
    n = validators
    params = _params(rng)
    network = faults in ("network", "all")
    safety_ticks = ticks if ticks is not None else rng.randint(300, 500)
    delay_min_ms = rng.randint(1, 5)
    delay_mean_ms = rng.choice((5, 10, 20, 40, 80))
    loss = rng.choice((0.0, 0.01, 0.05, 0.1, 0.2)) if network else 0.0
    duplicate = rng.choice((0.0, 0.02, 0.1)) if network else 0.0
    tx_every_ticks = rng.randint(3, 8)
    txs_per_burst = rng.randint(1, 4)
    episodes = _episodes(rng, safety_ticks) if network else ()
    crashes = _crashes(rng, n + observers, n, safety_ticks) if faults in ("crash", "all") else ()
    skew, byzantine, twins = _faulty(rng, n, faults)
    # Empty blocks (sealing and heartbeats) come from a separate stream, so the draws above, and
    # with them every pinned seed's scenario, are unchanged; a quarter of the seeds run with them.
    if random.Random(f"empty-blocks/{seed}").random() < 0.25:
        params = dataclasses.replace(params, seal_results=1, empty_block_interval_ms=2_000)
    # Batching delays (the network's default is 1 tick) likewise: half the seeds run with 1 or 2.
    batching = random.Random(f"batching/{seed}")
    if batching.random() < 0.5:
        params = dataclasses.replace(params, batch_delay_ticks=batching.choice((1, 2)))
    opts = SimOptions(
        seed=seed,
        validators=n,
        observers=observers,
        faults=faults,
        params=params,
        real_crypto=seed % 16 == 0,
        delay_min_ms=delay_min_ms,
        delay_mean_ms=delay_mean_ms,
        loss=loss,
        duplicate=duplicate,
        tx_every_ticks=tx_every_ticks,
        txs_per_burst=txs_per_burst,
        safety_ticks=safety_ticks,
        episodes=episodes,
        crashes=crashes,
        skew_ms=skew,
        byzantine=byzantine,
        twins=twins,
    )
    return _with_reconfig(opts) if reconfig else opts


def _with_reconfig(opts: SimOptions) -> SimOptions:
    """Spares, rotation keys, a plan, and faults aimed at the changes (their own random stream)."""
    rng = random.Random(f"reconfig/{opts.seed}/{opts.validators}")
    n = opts.validators
    spares = rng.randint(1, 2)
    # a spare starts at once (a synced observer) or late: a new validator that has to catch up
    starts = tuple(rng.choice((0, 0, rng.randint(50, opts.safety_ticks))) for _ in range(spares))
    faulty = {i for i, _ in opts.skew_ms} | {i for i, _ in opts.byzantine} | set(opts.twins)
    plan = derive_reconfig(rng, n, spares, 3, faulty, set(opts.twins), opts.safety_ticks)
    crashes = list(opts.crashes)
    episodes = list(opts.episodes)
    instances = n + opts.observers + spares
    for step in plan:
        kind = rng.random()
        at = step.tick + rng.randint(0, 80)
        if at >= opts.safety_ticks - 10:
            continue
        if kind < 0.35:  # a crash while the epoch changes (-1: whoever is primary then)
            who = -1 if rng.random() < 0.4 else rng.randrange(instances)
            crashes.append((at, who, rng.random() < 0.3, rng.randint(5, 80)))
        elif kind < 0.6 and opts.faults in ("network", "all"):
            end = min(at + rng.randint(20, 90), opts.safety_ticks)
            mode = rng.choice(("isolate_one", "minority", "halves", "bridge"))
            clash = any(e.start_tick < end and at < e.end_tick for e in episodes)
            if not clash:
                episodes.append(Episode(start_tick=at, end_tick=end, mode=mode, salt=rng.getrandbits(32)))
    return dataclasses.replace(
        opts,
        spare_starts=starts,
        rotation_keys=3,
        reconfig=plan,
        crashes=tuple(sorted(crashes)),
        episodes=tuple(sorted(episodes, key=lambda e: e.start_tick)),
    )


def _params(rng: random.Random) -> ConsensusParams:
    k = rng.choice((2, 4, 8))
    return ConsensusParams(
        checkpoint_interval=k,
        watermark_window=k * rng.choice((2, 3, 4)),
        exec_lag=rng.randint(1, min(3, k)),
        max_block_txs=rng.choice((4, 8, 16, 32)),
        timestamp_drift_ms=3_000,
        tick_ms=50,
        view_change_timeout_ticks=rng.randint(8, 20),
        request_timeout_ticks=rng.randint(20, 40),
        empty_block_interval_ms=0,
        seal_results=0,
        batch_delay_ticks=0,
    )


def _episodes(rng: random.Random, safety_ticks: int) -> tuple[Episode, ...]:
    episodes: list[Episode] = []
    t = rng.randint(10, 80)
    while t < safety_ticks - 20:
        length = rng.randint(20, 150)
        mode = rng.choice(PARTITION_MODES)
        episodes.append(
            Episode(start_tick=t, end_tick=min(t + length, safety_ticks), mode=mode, salt=rng.getrandbits(32))
        )
        t += length + rng.randint(10, 120)
    return tuple(episodes)


def _crashes(
    rng: random.Random, instances: int, n: int, safety_ticks: int
) -> tuple[tuple[int, int, bool, int], ...]:
    crashes = []
    for _ in range(rng.randint(1, 2 + n // 2)):
        tick = rng.randint(5, safety_ticks - 10)
        instance = rng.randrange(instances)
        crashes.append((tick, instance, rng.random() < 0.3, rng.randint(5, 120)))
    return tuple(sorted(crashes))


def _faulty(
    rng: random.Random, n: int, faults: str
) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, tuple[str, ...]], ...], tuple[int, ...]]:
    """At most f faulty identities: skewed clocks, twins or byzantine replicas."""
    skew: list[tuple[int, int]] = []
    byzantine: list[tuple[int, tuple[str, ...]]] = []
    twins: list[int] = []
    if faults in ("byzantine", "all"):
        f = (n - 1) // 3
        budget = rng.randint(0, f) if faults == "all" else f
        for idx in rng.sample(range(n), budget):
            kind = rng.random()
            if kind < 0.2 and faults == "all":
                skew.append((idx, rng.choice((-1, 1)) * rng.randint(1_000, 9_000)))
            elif kind < 0.45:
                twins.append(idx)
            else:
                count = rng.randint(1, 4)
                byzantine.append((idx, tuple(sorted(rng.sample(BYZANTINE_BEHAVIOURS, count)))))
    return tuple(skew), tuple(byzantine), tuple(sorted(twins))
