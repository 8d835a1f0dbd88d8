"""The test-only FaultyTransport: drop, duplicate and reorder, deterministic for a seed."""

from __future__ import annotations

import asyncio

import pytest

from network import ConfigError, FaultConfig, FaultRule, FaultyTransport, PeerId
from tests.support.netkit import Cluster, only_lower_dials, run

N1 = PeerId("n1")


def fates(config: FaultConfig, frames: list[bytes], peer: str = "n1") -> list[bytes]:
    ft = FaultyTransport(config, "n0")
    out = [f for frame in frames for f in ft.plan(peer, frame)]
    held = ft.release(peer)
    return out + ([held] if held is not None else [])


def test_plan_is_deterministic_for_a_seed_and_differs_across_seeds() -> None:
    frames = [str(i).encode() for i in range(300)]
    rule = FaultRule(drop=0.2, duplicate=0.2, reorder=0.2)
    a = fates(FaultConfig(seed=1, default=rule), frames)
    assert a == fates(FaultConfig(seed=1, default=rule), frames)
    assert a != fates(FaultConfig(seed=2, default=rule), frames)
    counts = {f: a.count(f) for f in frames}
    assert 30 < sum(1 for n in counts.values() if n == 0) < 90  # about 20 % dropped
    assert 30 < sum(1 for n in counts.values() if n == 2) < 90  # about 20 % duplicated
    assert a != sorted(set(a), key=frames.index)  # some reordered


def test_each_peer_has_its_own_sequence() -> None:
    config = FaultConfig(seed=9, default=FaultRule(drop=0.5))
    frames = [bytes([i]) for i in range(100)]
    alone = fates(config, frames, "n1")
    ft = FaultyTransport(config, "n0")
    interleaved: list[bytes] = []
    for f in frames:  # sending to n2 in between must not change n1's fates
        interleaved += ft.plan("n1", f)
        ft.plan("n2", f)
    assert interleaved == alone


def test_rules_per_peer_and_at_run_time() -> None:
    config = FaultConfig(seed=0, per_peer={"n2": FaultRule(drop=1.0)})
    ft = FaultyTransport(config, "n0")
    assert ft.plan("n1", b"x") == [b"x"]
    assert ft.plan("n2", b"x") == []
    ft.set_rule("n1", FaultRule(duplicate=1.0))
    assert ft.plan("n1", b"y") == [b"y", b"y"]
    assert (ft.dropped, ft.duplicated) == (1, 1)


@pytest.mark.parametrize(
    "kwargs", [{"drop": -0.1}, {"duplicate": 1.5}, {"drop": 0.6, "duplicate": 0.3, "reorder": 0.2}]
)
def test_bad_fault_rules_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        FaultRule(**kwargs)


def test_faults_apply_end_to_end_exactly_as_planned() -> None:
    config = FaultConfig(seed=42, default=FaultRule(drop=0.25, duplicate=0.15, reorder=0.15))
    frames = [f"m{i}".encode() for i in range(200)]
    expected = fates(config, frames)

    async def body() -> list[bytes]:
        c = Cluster(2, recv_queue_frames_max=4096)
        a = c.make(0, dial=only_lower_dials, faults=config)
        c.make(1, dial=only_lower_dials)
        await c.start(0)
        await c.start(1)
        try:
            assert await a.wait_connected(timeout_s=5)
            for f in frames:  # one burst: the held frame of a reorder goes out after the next
                a.send(N1, f)
            await c[1].recorder.wait_for(len(expected))
            await asyncio.sleep(0.1)  # nothing more arrives
            stats = a.stats()
            assert stats["faults.dropped"] > 0 and stats["faults.duplicated"] > 0
            assert stats["faults.reordered"] > 0
            return c[1].recorder.payloads()
        finally:
            await c.stop_all()

    assert run(body()) == expected
