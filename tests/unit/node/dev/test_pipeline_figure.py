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


def test_a_compressed_scale_run_builds_and_runs_every_store_with_snappy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`orgledger bench --figure scale --store-compression snappy`: the chain is written with
    snappy and every node's node.toml says so (a 1M chain fits the disk six times over)."""
    from node.config import NodeConfig
    from node.dev import chaingen

    net, genesis = benchfigures._network(tmp_path)
    benchfigures._set_all(net, genesis, "store", {"compression": "snappy"})  # a table node.toml lacks
    benchfigures._set_all(net, genesis, "api", {"rate_per_s": 1e6, "burst": 1e6})  # one it has
    for spec in genesis.nodes:
        config = NodeConfig.load(net / "nodes" / spec.node_id / "node.toml", env={})
        assert config.store.compression == "snappy" and config.store.compress
        assert config.api.rate_per_s == 1e6 and config.api.burst == 1e6
    opened: list[bool] = []
    real_open = BlockStore.open

    def recording_open(path: Path, genesis_hash: bytes, **kw: bool) -> BlockStore:
        opened.append(kw.get("compress", False))
        return real_open(path, genesis_hash, **kw)

    monkeypatch.setattr(chaingen.BlockStore, "open", recording_open)
    benchfigures._build(net, tmp_path / "chain", 20, compress=True)
    benchfigures._build(net, tmp_path / "plain", 20)
    assert opened == [True, False]
    with real_open(tmp_path / "chain", genesis.hash) as store:  # either way opens it
        assert sum(len(store.receipts(h)) for h in range(1, store.height + 1)) == 20


def test_the_loaded_readapi_figure_reads_an_archive_of_the_built_chain(tmp_path: Path) -> None:
    """`--figure readapi --txs N` reads a record that the built chain holds (no consensus needed)."""
    net, genesis = benchfigures._network(tmp_path)
    benchfigures._build(net, tmp_path / "chain", 60)
    person = benchfigures._stored_archive(tmp_path / "chain", genesis)
    assert len(person) == 64
    (tmp_path / "index.sqlite").write_bytes(b"index")
    benchfigures._install(net, genesis, tmp_path / "chain", tmp_path / "index.sqlite")
    for spec in genesis.nodes:  # every node starts on the chain and its index
        data = net / "nodes" / spec.node_id / "data"
        assert (data / "index.sqlite").read_bytes() == b"index"
        with BlockStore.open(data, genesis.hash, create=False) as copy:
            assert copy.height >= 1
    with BlockStore.open(tmp_path / "chain", genesis.hash) as store:
        assert store.state_get(f"archive/{person}".encode()) is not None
    benchfigures._build(net, tmp_path / "genesis-only", 0)  # the genesis state: no archive
    with pytest.raises(RuntimeError, match="no archive"):
        benchfigures._stored_archive(tmp_path / "genesis-only", genesis)
