"""Tampering with one node of a local network (`orgledger dev up`) as an attacker with disk access
would, for the SDK's integration tests (tests/integration/test_sdk.py, issue 16 item 7).

The node is the observer (not a validator: the network goes on while it is stopped). Its read
index (SQLite) is edited while it runs; its LevelDB is edited while it is stopped (`tampered`),
after which it is started as it is (the start-up check may refuse), else with
`verify_on_start = "off"` (made to serve what it holds); afterwards its data and config are
restored.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import plyvel

from client_sdk import UnavailableError, VerificationError
from node.dev import devnet
from wire import codec, statemap

OBSERVER = "observer"  # API port 28006 in the default topology
EDITED_DAY = "1900-01-01"


def index(directory: Path) -> sqlite3.Connection:
    """The observer's read index (commits when the `with` block ends)."""
    (path,) = (directory / "nodes" / OBSERVER).rglob("index*.sqlite")  # beside or inside its data dir
    return sqlite3.connect(path, timeout=10)


def stop(directory: Path) -> None:
    proc = next(p for p in devnet._nodes(directory) if p.spec.node_id == OBSERVER)
    pid = devnet.running_pid(proc)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while devnet.running_pid(proc) is not None:
        assert time.monotonic() < deadline, "the observer did not stop"
        time.sleep(0.1)


@contextlib.contextmanager
def tampered(directory: Path, edit: Callable[[Path], object]) -> Iterator[str | None]:
    """Stop the observer, `edit` its data directory, start it: yields None when it started, else
    why it refused to (it then runs with `verify_on_start = "off"`). Restored afterwards."""
    data = directory / "nodes" / OBSERVER / "data"
    config = directory / "nodes" / OBSERVER / "node.toml"
    text = config.read_text()
    stop(directory)
    pristine = directory.parent / "observer-pristine"
    shutil.rmtree(pristine, ignore_errors=True)
    shutil.copytree(data, pristine)
    try:
        edit(data)
        refused: str | None = None
        try:
            devnet.up(directory, echo=False, timeout_s=60)
        except devnet.DevnetError as exc:
            refused = str(exc)
            config.write_text(text + '\n[integrity]\nverify_on_start = "off"\n')
            devnet.up(directory, echo=False, timeout_s=60)
        yield refused
    finally:
        stop(directory)
        config.write_text(text)
        shutil.rmtree(data)
        shutil.copytree(pristine, data)
        devnet.up(directory, echo=False, timeout_s=60)


def edit_state(key: bytes, leaf_only: bool) -> Callable[[Path], None]:
    """An edit of the record at `key` (its birth date): its newest state-map leaf (what the API
    serves) and, unless `leaf_only`, its flat state entry (what the start-up check scans)."""

    def edit(data: Path) -> None:
        db = plyvel.DB(str(data))
        try:
            record = codec.decode(db.get(b"S" + key))
            value = codec.encode({**record, "birth_date": EDITED_DAY})
            if not leaf_only:
                db.put(b"S" + key, value, sync=True)
            leaves = [
                k
                for k, v in db.iterator(prefix=b"N")
                if v[:1] == b"\x00" and statemap.decode_node(v).key == key
            ]
            newest = max(leaves, key=lambda k: k[1:9])  # N + version (8 bytes) + position
            db.put(newest, b"\x00" + len(key).to_bytes(4, "big") + key + value, sync=True)
        finally:
            db.close()

    return edit


def never_edited(read: Callable[[], str | None]) -> str:
    """What `read` gives: the true value, or the refusal (the SDK's VerificationError, the node's
    503 storage_corrupt or index_inconsistent); never the edited value."""
    try:
        value = read()
    except (VerificationError, UnavailableError) as exc:
        code = getattr(exc, "code", "")
        assert isinstance(exc, VerificationError) or code in ("storage_corrupt", "index_inconsistent"), exc
        return f"{type(exc).__name__}:{code}"
    assert value != EDITED_DAY, "the SDK returned the edited data"
    return str(value)


def refusal(read: Callable[[], object]) -> str:
    """How `read` was refused: the SDK's VerificationError or the node's 503 (its code); a read
    that returns anything fails the test."""
    try:
        value = read()
    except (VerificationError, UnavailableError) as exc:
        return f"{type(exc).__name__}:{exc.code}"
    raise AssertionError(f"the SDK returned what an edited store served: {value!r:.200}")


def inconsistent_rows(url: str) -> float:
    """The node's count of index rows it found disagreeing with its state."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    found = re.search(r"^orgledger_index_inconsistent_rows_total (\S+)$", text, re.M)
    return float(found[1]) if found else 0.0
