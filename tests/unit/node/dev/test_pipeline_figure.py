"""`orgledger bench --figure pipeline`: a validator's per-transaction stages measured in one
process, over a chain built the way a validator would admit and execute it."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.dev import benchfigures
from node.store.storage import BlockStore
from wire.files import load_genesis


def test_the_pipeline_figure_prints_every_stage_and_builds_a_chain_of_admitted_transactions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = benchfigures.pipeline(txs=30, repeat=1, directory=tmp_path)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("figure=pipeline txs=30 ")
    for stage in ("admission", "execution", "state_map", "storage", "total"):
        assert f" {stage}=" in line and out[stage] > 0
    genesis = load_genesis(tmp_path / "net" / "genesis.json")
    with BlockStore.open(tmp_path / "chain0", genesis.hash) as store:
        receipts = [r for h in range(1, store.height + 1) for r in store.receipts(h)]
    assert len(receipts) == 30 and all(r.accepted for r in receipts)
