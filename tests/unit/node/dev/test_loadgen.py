"""`orgledger dev load`'s verdict (issue 18.11): a run is good when its own transactions all
committed and the nodes agree, whatever else the chain holds (an earlier seed, the nodes' access
anchors); when it is not, `why` says so in words. The fault tests keep the stricter `ok`."""

from __future__ import annotations

from client_sdk.client import build_tx
from node.dev.loadgen import Chain, Op, check, why
from wire.crypto import SigningKey
from wire.types import SignedTransaction

KEY = SigningKey(b"\x07" * 32)


def _tx(i: int) -> SignedTransaction:
    return build_tx(
        chain_id="c", tx_type="alert.ack", org_id="cn", payload={"alert_id": f"{i:032x}"}, key=KEY, nonce=i
    )


def _chains(rows: list[tuple[SignedTransaction, str, str]], copies: int = 2) -> list[Chain]:
    ids = [t.tx_id for t, _, _ in rows]
    return [
        Chain(
            url=f"http://n{i}",
            hashes=[b"block-1"],
            tx_ids=[ids],
            statuses=[[s for _, s, _ in rows]],
            reasons=[[r for _, _, r in rows]],
        )
        for i in range(copies)
    ]


def test_foreign_transactions_do_not_fail_a_load_run() -> None:
    mine = [_tx(i) for i in range(3)]
    ops = [Op(tx=t, outcome="ok") for t in mine]
    foreign = _tx(99)  # an access anchor, a seeded transaction: not this run's
    report = check(ops, _chains([(t, "ACCEPTED", "") for t in [*mine, foreign]]))
    assert report.committed == 3 and report.unexpected == 1
    assert report.own_ok and not report.ok  # the fault tests' verdict stays strict
    assert why(report, ops) == []


def test_why_names_what_went_wrong() -> None:
    mine = [_tx(i) for i in range(5)]
    ops = [Op(tx=t, outcome="ok") for t in mine[:3]]
    ops.append(Op(tx=mine[3], outcome="fail", error="unknown_signer"))
    ops.append(Op(tx=mine[4], outcome="info", error="TimeoutError"))
    rows = [(mine[0], "ACCEPTED", ""), (mine[1], "REJECTED", "DEC-06")]  # mine[2] acknowledged, lost
    report = check(ops, _chains(rows))
    assert not report.own_ok
    reasons = why(report, ops)
    assert any("lost" in r for r in reasons)
    assert any("REJECTED (DEC-06 1)" in r for r in reasons)
    assert any("refused at submission (unknown_signer 1)" in r for r in reasons)
    assert any("no answer" in r for r in reasons)


def test_disagreeing_nodes_are_named() -> None:
    mine = [_tx(1)]
    ops = [Op(tx=t, outcome="ok") for t in mine]
    a, b = _chains([(mine[0], "ACCEPTED", "")])
    b.hashes = [b"another block"]
    report = check(ops, [a, b])
    assert not report.agree and "the nodes disagree on the chain" in why(report, ops)
