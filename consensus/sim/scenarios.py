"""Hand-built scenarios: the negative controls (mutants the checkers must catch) and their
controls (the same scenario with correct code, which must stay clean).

Each builder returns `SimOptions` for one seed; the tests run a few seeds and require that the
checkers report a violation in at least one (mutant) or in none (control).
"""

from __future__ import annotations

import random
from dataclasses import replace

from consensus.sim.options import Episode, SimOptions, derive_options
from consensus.sim.reconfig import ReconfigStep

MUTANTS = (
    "quorum_f_plus_1",
    "quorum_2f_plus_1",
    "persist_after_send",
    "nv_no_recompute",
    "f_plus_1_twins",
    "epoch_at_commit",
    "accept_rotated_key",
)


def _base(seed: int, n: int, ticks: int = 300) -> SimOptions:
    opts = derive_options(seed, validators=n, observers=1, faults="none", ticks=ticks)
    return replace(opts, real_crypto=False, liveness_ticks=400)


def _split(seed: int, mode: str, start: int, end: int) -> tuple[Episode, ...]:
    return (Episode(start_tick=start, end_tick=end, mode=mode, salt=seed),)


def scenario(name: str, seed: int, *, mutant: bool = True) -> SimOptions:
    """The options for negative control `name`; with `mutant=False`, the correct-code control."""
    rng = random.Random(seed)
    if name == "quorum_f_plus_1":
        # 2|2 at n=4: with q = f+1 = 2 each half commits on its own.
        opts = replace(_base(seed, 4), episodes=_split(seed, "halves", 5, 290))
    elif name == "quorum_2f_plus_1":
        # n=5, one twinned identity split across two sides of three: 2f+1 = 3 on each side.
        opts = replace(_base(seed, 5), twins=(0,), episodes=_split(seed, "twins_split", 5, 290))
    elif name == "f_plus_1_twins":
        # n=4 with f+1 = 2 twinned identities split so that each side holds q = 3 identities.
        opts = replace(_base(seed, 4), twins=(0, 1), episodes=_split(seed, "twins_split", 5, 290))
    elif name == "persist_after_send":
        # Frequent crashes at write points: a vote sent but not persisted is forgotten on restart.
        crashes = tuple(sorted((t, rng.randrange(4), False, rng.randint(2, 10)) for t in range(10, 280, 7)))
        opts = replace(_base(seed, 4), crashes=crashes)
    elif name == "epoch_at_commit":
        # A spare is added early (and another validator rotated): the mutant puts each new set in
        # force right after the block that scheduled it, not at the boundary.
        plan: tuple[ReconfigStep, ...] = (
            ReconfigStep(tick=10, action="add", target=4),
            ReconfigStep(tick=90, action="rotate", target=2, new_key=5),
        )
        opts = replace(_base(seed, 4), spare_starts=(0,), rotation_keys=1, reconfig=plan)
    elif name == "accept_rotated_key":
        # Byzantine validator 1 is rotated out and keeps signing COMMITs with its old key (it never
        # takes up the new one): the mutant accepts the old key at its old index.
        plan = (ReconfigStep(tick=10, action="rotate", target=1, new_key=4),)
        # Validator 3 crashes for a while, so during it a certificate needs the zombie's vote
        # (correct code stalls instead, then drains the backlog: a longer liveness phase).
        opts = replace(
            _base(seed, 4),
            byzantine=((1, ()),),
            rotation_keys=1,
            reconfig=plan,
            crashes=((40, 3, False, 150),),
            liveness_ticks=1500,
        )
    elif name == "nv_no_recompute":
        # Validator 1 forges its NEW-VIEW; crashing primary 0 early makes 1 the next primary.
        crashes = ((20, 0, False, 200),)
        opts = replace(_base(seed, 4), byzantine=((1, ("forge_new_view",)),), crashes=crashes)
    else:
        raise ValueError(f"unknown negative control {name!r}")
    if mutant and name != "f_plus_1_twins":
        opts = replace(opts, mutants=frozenset({name}))
    if not mutant and name == "f_plus_1_twins":
        opts = replace(opts, twins=(0,))
    return opts


FAULT_ROWS = ("N8", "N10", "K2")


def fault_row(row: str, seed: int, n: int = 4) -> SimOptions:
    """A hand-built scenario for one RELIABILITY row the seed sweep does not draw:

    - N8: every delay 40x longer (2-3 s, above the 0.4-1 s view-change timeout) for most of the
      safety phase, then healed;
    - N10: two swizzle-clog episodes (instances clogged one by one, unclogged in reverse);
    - K2: one validator's clock strobing between +A and -A (A up to 2.5 s, within the drift bound
      of 3 s) every 1 to 20 ticks (50 ms to 1 s), Jepsen's strobe nemesis.
    """
    rng = random.Random(f"{row}/{seed}")
    opts = replace(
        derive_options(seed, validators=n, observers=1, faults="none", ticks=400), real_crypto=False
    )
    if row == "N8":
        return replace(opts, episodes=(Episode(start_tick=20, end_tick=320, mode="slow", salt=seed),))
    if row == "N10":
        episodes = (
            Episode(start_tick=20, end_tick=180, mode="swizzle", salt=seed),
            Episode(start_tick=220, end_tick=380, mode="swizzle", salt=seed + 1),
        )
        return replace(opts, episodes=episodes)
    if row == "K2":
        strobe = ((rng.randrange(n), rng.choice((200, 1_000, 2_500)), rng.choice((1, 2, 5, 20))),)
        return replace(opts, strobe=strobe)
    raise ValueError(f"unknown fault row {row!r}")
