"""The consensus driver against a scripted replica and a fake store and executor: actions carried
out in list order (a Persist durable before the Send after it), a Commit executed and stored
before its event goes out with the executor's receipts, Executed fed back, dropped requests
reported, catch-up answers fed back, and a storage failure stopping everything after it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from consensus import (
    BlocksFetched,
    Broadcast,
    Commit,
    Event,
    Executed,
    Persist,
    RequestsAvailable,
    RequestsDropped,
    RequestTransfer,
    Send,
)
from node.errors import StorageError
from node.failpoints import FailPoints
from node.runtime.driver import KIND_CONSENSUS, Driver
from node.runtime.events import CommitEvent
from node.runtime.executor import AppliedBlock
from node.store.storage import Meta
from wire.types import RECEIPT_ACCEPTED, Block, BlockHeader, CommitCertificate, Receipt


def block(height: int) -> Block:
    header = BlockHeader(
        chain_id="c",
        height=height,
        view=0,
        timestamp_ms=1000 + height,
        prev_block_hash=bytes(32),
        tx_root=bytes(32),
        prev_state_root=bytes(32),
        prev_results_root=bytes(32),
        validators_hash=bytes(32),
        proposer=0,
    )
    return Block(header=header, txs=(b"tx%d" % height,))


def cert(b: Block) -> CommitCertificate:
    return CommitCertificate(height=b.header.height, view=0, block_hash=b.hash, signatures=())


class ScriptedReplica:
    """Answers each event with the next scripted action list; records what it was fed."""

    def __init__(self, script: list[list[object]]) -> None:
        self.script, self.fed = script, []  # type: ignore[var-annotated]

    def step(self, event: Event) -> list[object]:
        self.fed.append(event)
        return self.script.pop(0) if self.script else []


class FakeStore:
    def __init__(self, log: list[str], fail: bool = False) -> None:
        self.log, self.fail = log, fail

    def persist_consensus(self, entries: Sequence[tuple[bytes, bytes | None]]) -> None:
        if self.fail:
            self.log.append("persist failed")
            raise StorageError("disk gone")
        self.log.append(f"persist {len(entries)}")


class FakeExecutor:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def apply(self, b: Block, c: CommitCertificate) -> AppliedBlock:
        self.log.append(f"apply {b.header.height}")
        h = b.header.height
        meta = Meta(height=h, block_hash=b.hash, state_root=bytes([h]) * 32, results_root=bytes([h + 1]) * 32)
        receipt = Receipt(tx_id=bytes([h]) * 32, status=RECEIPT_ACCEPTED)
        return AppliedBlock(meta=meta, receipts=(receipt,))


async def fetch_two(peer: int, lo: int, hi: int) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"block", b"cert"),)


def run(script: list[list[object]], *, fail_persist: bool = False) -> dict[str, Any]:
    log: list[str] = []
    commits: list[CommitEvent] = []
    dropped: list[tuple[tuple[bytes, ...], str]] = []
    fatal: list[BaseException] = []
    replica = ScriptedReplica(script)

    def on_commit(ev: CommitEvent) -> None:
        log.append(f"commit event {ev.height}")
        commits.append(ev)

    def send(to: int, data: bytes) -> bool:
        log.append(f"send {to} {data!r}")
        return True

    def broadcast(data: bytes) -> int:
        log.append(f"broadcast {data!r}")
        return 1

    async def main() -> None:
        driver = Driver(
            replica=replica,  # type: ignore[arg-type]
            store=FakeStore(log, fail_persist),  # type: ignore[arg-type]
            executor=FakeExecutor(log),  # type: ignore[arg-type]
            tick_ms=60_000,
            send=send,
            broadcast=broadcast,
            fetch=fetch_two,
            on_commit=on_commit,
            on_dropped=lambda txs, reason: dropped.append((txs, reason)),
            on_fatal=fatal.append,
            failpoints=FailPoints(""),
        )
        driver.start()
        await driver.put(RequestsAvailable(txs=(b"t",)))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not replica.script and (fatal or len(replica.fed) > 1 or fail_persist):
                await asyncio.sleep(0.05)
                break
        await driver.stop()

    asyncio.run(main())
    return {"log": log, "commits": commits, "dropped": dropped, "fatal": fatal, "fed": replica.fed}


def test_a_persist_is_durable_before_the_send_after_it() -> None:
    out = run([[Persist(entries=((b"cs/a", b"1"),)), Send(to=2, data=b"vote"), Broadcast(data=b"all")]])
    assert out["log"] == [
        "persist 1",
        f"send 2 {KIND_CONSENSUS + b'vote'!r}",
        f"broadcast {KIND_CONSENSUS + b'all'!r}",
    ]


def test_a_commit_is_stored_before_its_event_and_executed_is_fed_back() -> None:
    b = block(1)
    out = run([[Commit(block=b, certificate=cert(b)), Send(to=0, data=b"after")], []])
    assert out["log"][:3] == ["apply 1", "commit event 1", f"send 0 {KIND_CONSENSUS + b'after'!r}"]
    (event,) = out["commits"]
    assert event.block is b and event.meta.height == 1 and event.apply_seconds >= 0
    assert event.receipts == (Receipt(tx_id=bytes([1]) * 32, status=RECEIPT_ACCEPTED),)  # the executor's own
    executed = [e for e in out["fed"] if isinstance(e, Executed)]
    assert executed == [Executed(height=1, state_root=bytes([1]) * 32, results_root=bytes([2]) * 32)]


def test_dropped_requests_are_reported_with_their_reason() -> None:
    out = run([[RequestsDropped(txs=(b"x", b"y"), reason="refused")]])
    assert out["dropped"] == [((b"x", b"y"), "refused")]


def test_a_transfer_answer_is_fed_back_to_the_replica() -> None:
    out = run([[RequestTransfer(peer=1, from_height=3, to_height=4)], []])
    fetched = [e for e in out["fed"] if isinstance(e, BlocksFetched)]
    assert fetched == [BlocksFetched(sender=1, items=((b"block", b"cert"),))]


def test_a_storage_failure_stops_the_node_before_anything_after_it() -> None:
    out = run([[Persist(entries=((b"cs/a", b"1"),)), Send(to=2, data=b"vote")]], fail_persist=True)
    assert out["log"] == ["persist failed"]
    assert len(out["fatal"]) == 1 and isinstance(out["fatal"][0], StorageError)
