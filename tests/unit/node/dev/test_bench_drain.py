"""The bench's drain between its phases (node/dev/bench.py `_drain`), with the network replaced by
fakes: a commit counter and processes whose CPU clock the test drives. The happy path runs in the
bench smoke test (tests/integration/test_node_process.py); here the paths a busy machine takes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from node.dev import bench


@dataclass
class Counter:
    """`committed.value`, moving by `step` at each read."""

    step: int = 0
    n: int = 0

    @property
    def value(self) -> int:
        self.n += self.step
        return self.n


@dataclass
class Proc:
    """A process whose CPU seconds grow by `per_read` at each `cpu_times()`."""

    per_read: float
    clock: Iterator[float] = field(default_factory=lambda: itertools.count(0.0, 1.0))

    def cpu_times(self) -> tuple[float, float]:
        return (next(self.clock) * self.per_read, 0.0)


@pytest.fixture(autouse=True)
def settled(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    monkeypatch.setattr(bench, "settled", lambda urls, timeout_s: calls.append(urls) or 7)
    return calls


def test_an_idle_network_drains_once_its_commits_stop(settled: list[Any]) -> None:
    took = bench._drain(["u"], Counter(), {"a": Proc(0.0)}, quiet_s=0.3, sample_s=0.05)  # type: ignore[dict-item]
    assert settled == [["u"]] and took >= 0.3  # it waited out the quiet period


def test_commits_that_never_stop_end_in_a_timeout(settled: list[Any]) -> None:
    with pytest.raises(TimeoutError, match="did not finish committing"):
        bench._drain(["u"], Counter(step=1), {}, quiet_s=0.3, timeout_s=1.0)
    assert settled == []


def test_nodes_that_never_go_idle_are_waited_for_a_bounded_time(settled: list[Any]) -> None:
    busy = {"a": Proc(0.0), "b": Proc(1.0)}  # b burns a whole core at every sample
    took = bench._drain(["u"], Counter(), busy, quiet_s=0.1, idle_wait_s=0.5, sample_s=0.05)  # type: ignore[arg-type]
    assert settled == [["u"]] and took >= 0.5  # it returned (pytest-timeout guards a hang) after the bound
