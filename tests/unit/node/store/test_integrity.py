"""Tamper detection at node start (RELIABILITY A2): every offline edit is caught and named."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import plyvel
import pytest

from node.app import NodeApp
from node.config import NodeConfig
from node.errors import ConfigError, StorageCorruptError
from node.store import integrity, open_store
from node.store.integrity import IntegrityError, verify_store
from node.store.storage import BlockStore
from tests.support.auditchain import BuiltChain
from tests.support.tamper import tamper_block, tamper_receipt, tamper_state


def check(chain: BuiltChain, data: Path, mode: str = "full") -> integrity.IntegrityReport:
    with BlockStore.open(data, chain.genesis.hash) as store:
        return verify_store(store, chain.genesis, mode)


def test_an_untouched_store_passes_in_every_mode(chain: BuiltChain, data_copy: Path) -> None:
    full = check(chain, data_copy, "full")
    assert (full.height, full.blocks_checked) == (chain.height, chain.height) and full.state_entries > 0
    assert check(chain, data_copy, "recent").blocks_checked == chain.height
    assert check(chain, data_copy, "off").blocks_checked == 0
    with pytest.raises(ValueError):
        check(chain, data_copy, "sometimes")


def _raw(data: Path, edit: Callable[[plyvel.DB], None]) -> None:
    db = plyvel.DB(str(data))
    try:
        edit(db)
    finally:
        db.close()


def _h(height: int) -> bytes:
    return height.to_bytes(8, "big")


CASES: dict[str, tuple[Callable[[Path], object], int, str]] = {
    "block, still decodable": (lambda d: tamper_block(d, 3, decodable=True), 3, "tx_root"),
    "block, undecodable": (lambda d: tamper_block(d, 3, decodable=False), 3, "does not decode"),
    "receipt, still decodable": (lambda d: tamper_receipt(d, 4, 2, decodable=True), 4, "receipt 2"),
    "receipt, undecodable": (lambda d: tamper_receipt(d, 4, 2, decodable=False), 4, "receipt"),
    "certificate": (
        lambda d: _raw(d, lambda db: db.put(b"C" + _h(5), db.get(b"C" + _h(5))[:-3] + b"\x00\x00\x00")),
        5,
        "certificate",
    ),
    "hash index": (lambda d: _raw(d, lambda db: db.put(b"H" + b"\x00" * 32, _h(2))), -1, ""),
    "roots of a block": (
        lambda d: _raw(d, lambda db: db.put(b"E" + _h(3), db.get(b"E" + _h(4)))),
        3,
        "root",
    ),
    "a state entry changed": (lambda d: tamper_state(d), 8, "state entries"),
    "a state entry removed": (
        lambda d: _raw(d, lambda db: db.delete(next(db.iterator(prefix=b"Sorg/", include_value=False)))),
        8,
        "state entries",
    ),
    "a state entry added": (lambda d: _raw(d, lambda db: db.put(b"Sorg/zz", b"\x80")), 8, "state entries"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_offline_edit_is_caught_and_named(case: str, chain: BuiltChain, data_copy: Path) -> None:
    edit, height, text = CASES[case]
    edit(data_copy)
    if height == -1:  # an extra hash-index entry changes no checked record: nothing to find
        check(chain, data_copy)
        return
    with pytest.raises(IntegrityError) as info:
        check(chain, data_copy)
    err = info.value
    assert isinstance(err, StorageCorruptError) and err.code == "storage_corrupt"
    assert err.height == height, str(err)
    assert str(err).startswith(f"storage_corrupt at height {height}: ") and text in str(err), str(err)


def test_recent_mode_checks_the_last_blocks_and_the_whole_state(
    chain: BuiltChain, data_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrity, "RECENT_BLOCKS", 3)
    tamper_block(data_copy, 2, decodable=True)
    assert check(chain, data_copy, "recent").blocks_checked == 3  # block 2 is older than the window
    with pytest.raises(IntegrityError, match="at height 2"):
        check(chain, data_copy, "full")
    key = tamper_state(data_copy)
    assert key.startswith(b"org/")
    with pytest.raises(IntegrityError, match="state entries"):
        check(chain, data_copy, "recent")


def _config(chain: BuiltChain, data: Path, mode: str) -> NodeConfig:
    validator = chain.genesis.validator_nodes[0].node_id
    cfg = NodeConfig.load(chain.net / "nodes" / validator / "node.toml")
    return dataclasses.replace(cfg, data_dir=data, verify_on_start=mode)


def test_the_node_refuses_to_start_on_a_tampered_store(chain: BuiltChain, data_copy: Path) -> None:
    tamper_receipt(data_copy, 6, 0, decodable=True)
    with pytest.raises(IntegrityError, match="storage_corrupt at height 6"):
        NodeApp.build(_config(chain, data_copy, "recent"))
    node = NodeApp.build(_config(chain, data_copy, "off"))  # the operator's choice: serve it anyway
    try:
        assert node.runtime.height() == chain.height
    finally:
        node.close()


def test_the_integrity_setting_in_node_toml(chain: BuiltChain, tmp_path: Path) -> None:
    validator = chain.genesis.validator_nodes[0].node_id
    base = (chain.net / "nodes" / validator / "node.toml").read_text()
    path = chain.net / "nodes" / validator / "node.test.toml"
    try:
        assert NodeConfig.load(chain.net / "nodes" / validator / "node.toml").verify_on_start == "recent"
        for mode in ("full", "recent", "off"):
            path.write_text(base + f'\n[integrity]\nverify_on_start = "{mode}"\n')
            assert NodeConfig.load(path).verify_on_start == mode
        for bad in ('verify_on_start = "sometimes"', "verify_on_start = 1", 'check = "full"'):
            path.write_text(base + f"\n[integrity]\n{bad}\n")
            with pytest.raises(ConfigError, match="integrity"):
                NodeConfig.load(path)
    finally:
        path.unlink(missing_ok=True)


def _mapped_table_kb(data: Path) -> int:
    """kB of this process's memory that are pages of `data`'s LevelDB table files (/proc/self/smaps)."""
    total, current = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            current = len(head) >= 6 and head[5].startswith(str(data)) and head[5].endswith(".ldb")
        elif current and head and head[0] == "Rss:":
            total += int(head[1])
    return total


def test_the_store_the_check_read_is_reopened_so_the_node_maps_none_of_it(
    chain: BuiltChain, data_copy: Path
) -> None:
    db = plyvel.DB(str(data_copy))
    db.compact_range()  # everything into table files (a small chain lives in LevelDB's log)
    db.close()
    with BlockStore.open(data_copy, chain.genesis.hash):
        opened = _mapped_table_kb(data_copy)  # what opening a store reads (its meta, its chain)
    with BlockStore.open(data_copy, chain.genesis.hash) as store:
        verify_store(store, chain.genesis, "recent")
        checked = _mapped_table_kb(data_copy)
    assert checked > opened  # what the check read stays mapped in the handle that read it
    with open_store(data_copy, chain.genesis, "recent") as store:
        assert _mapped_table_kb(data_copy) <= opened
        assert store.meta() is not None and store.meta().height == chain.height  # type: ignore[union-attr]
