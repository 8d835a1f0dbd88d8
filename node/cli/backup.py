"""`orgledger node backup` and `orgledger node restore`: an online backup of a running node, and
a restore into an empty data directory.

Rules:

- `backup` asks the running node for `GET /v1/admin/backup` (signed with the node's own key, or
  a root-org admin's) and unpacks the tar into a new directory: `store.kv`, `blobs/`,
  `accesslog/`, `manifest.json`. Every member is checked against the manifest's size and
  SHA-256; the directory appears (renamed from a temporary sibling) only when all of it checks.
- `restore` refuses a data directory that holds anything, a backup of another chain, and a
  backup of another node (unless `--from-other-node`, which restores the chain and the blobs but
  not the other node's access log). It checks every member again, writes the store, copies the
  files and leaves the marker that makes the node's first start check the whole store.
- Exit codes: 0 done, 1 failed (one `error:` line). Heavy imports happen inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from node.cli.common import CA_OPTION, ca_file_for, fail


def _api_url(host: str, port: int, https: bool = False) -> str:
    return f"{'https' if https else 'http'}://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"


@click.command("backup")
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="New directory for the backup."
)
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    default=None,
    help="The node's node.toml: its API address, node key and genesis are used (on the node's host).",
)
@click.option("--node", "node_url", default=None, help="The node's API URL (default: from --config).")
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The node's key or a root-org admin key (default: the node key of --config).",
)
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(path_type=Path),
    default=None,
    help="genesis.json of the chain (default: from --config).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds to wait for each piece of the stream.",
)
@CA_OPTION
def backup(
    out: Path,
    config: Path | None,
    node_url: str | None,
    key_file: Path | None,
    genesis_file: Path | None,
    timeout_s: float,
    ca_file: Path | None,
) -> None:
    """Take an online backup of a running node into OUT (the node keeps committing)."""
    import os
    import shutil

    import httpx

    from client_sdk.auth import LedgerAuth, RequestSigner
    from client_sdk.errors import LedgerError
    from client_sdk.tls import certificate_error, certificate_failure, tls_context
    from node.config import NodeConfig
    from node.errors import NodeError
    from wire.errors import WireError
    from wire.files import load_genesis, load_signing_key

    try:
        if config is not None:
            cfg = NodeConfig.load(config)
            node_url = node_url or _api_url(cfg.api_host, cfg.api_port, cfg.api_tls is not None)
            if ca_file is None and cfg.api_tls is not None and cfg.api_tls.ca is not None:
                ca_file = cfg.api_tls.ca  # the node's own copy of the network CA
            key_file = key_file or cfg.key_file
            genesis_file = genesis_file or cfg.genesis_file
        if node_url is None or key_file is None or genesis_file is None:
            fail("give --config (on the node's host), or --node, --key and --genesis")
        genesis = load_genesis(genesis_file)
        signer = RequestSigner(load_signing_key(key_file), genesis.chain_id)
        tls = tls_context(node_url, ca_file_for(node_url, ca_file, genesis_file))
    except (NodeError, WireError, LedgerError) as exc:
        fail(str(exc))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        fail(f"{out} exists and is not an empty directory")
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with (
            httpx.Client(
                base_url=node_url.rstrip("/"),
                timeout=timeout_s,
                auth=LedgerAuth(signer),
                verify=tls if tls is not None else True,
            ) as http,
            http.stream("GET", "/v1/admin/backup") as resp,
        ):
            if resp.status_code != 200:
                resp.read()
                fail(f"{node_url} refused the backup ({resp.status_code}): {_error_text(resp)}")
            man = _unpack(resp.iter_bytes(), partial)
        if out.exists():
            out.rmdir()
        partial.rename(out)
    except httpx.HTTPError as exc:
        failure = certificate_failure(exc)
        fail(str(certificate_error(node_url, failure, "--ca")) if failure else f"{node_url}: {exc}")
    except BackupReadError as exc:
        fail(str(exc))
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    click.echo(
        f"backup of {man['node_id']} at height {man['height']} (block {man['block_hash'][:16]}…, "
        f"state root {man['state_root'][:16]}…) in {out}: {len(man['files'])} files, "
        f"{sum(f['bytes'] for f in man['files'].values())} bytes, all checked"
    )


class BackupReadError(Exception):
    pass


def _error_text(resp: Any) -> str:
    try:
        return str(resp.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return str(resp.text[:200])


class _Stream:
    """A readable file over an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks: Any, progress: Any) -> None:
        self.chunks, self.buf, self.progress = iter(chunks), b"", progress

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buf) < n:
            nxt = next(self.chunks, None)
            if nxt is None:
                break
            self.buf += nxt
            self.progress.update(len(nxt))
        out, self.buf = (self.buf, b"") if n < 0 else (self.buf[:n], self.buf[n:])
        return out


def _unpack(chunks: Any, into: Path) -> dict[str, Any]:
    """Write the tar stream's members under `into`, hashing each; check them against the manifest."""
    import hashlib
    import json
    import tarfile

    from tqdm import tqdm

    from node.store.backup import MANIFEST_NAME

    seen: dict[str, tuple[int, str]] = {}
    man: dict[str, Any] | None = None
    with tqdm(unit="B", unit_scale=True, desc="backup", disable=None, leave=False) as bar:
        try:
            with tarfile.open(fileobj=_Stream(chunks, bar), mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    name = member.name
                    if not member.isfile() or name.startswith("/") or ".." in Path(name).parts:
                        raise BackupReadError(f"the archive holds an unexpected member {name!r}")
                    src = tar.extractfile(member)
                    assert src is not None
                    data_hash, size = hashlib.sha256(), 0
                    target = into / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with open(target, "wb") as f:
                        while block := src.read(1 << 20):
                            data_hash.update(block)
                            size += len(block)
                            f.write(block)
                    if name == MANIFEST_NAME:
                        man = json.loads(target.read_text(encoding="utf-8"))
                    else:
                        seen[name] = (size, data_hash.hexdigest())
        except tarfile.TarError as exc:
            raise BackupReadError(f"the backup stream is torn or malformed: {exc}") from exc
    if man is None:
        raise BackupReadError(
            "the backup stream ended without its manifest (the node failed it; see its log)"
        )
    check_members(man, seen)
    return man


def check_members(man: dict[str, Any], seen: dict[str, tuple[int, str]]) -> None:
    want = {name: (int(f["bytes"]), str(f["sha256"])) for name, f in man["files"].items()}
    if want != seen:
        bad = sorted(set(want) ^ set(seen) | {n for n in set(want) & set(seen) if want[n] != seen[n]})
        raise BackupReadError(f"the backup does not match its manifest: {', '.join(bad[:5])}")


@click.command("restore")
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path),
    required=True,
    help="A directory made by `node backup`.",
)
@click.option("--config", type=click.Path(path_type=Path), required=True, help="The node's node.toml.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Restore into this (empty) directory instead of node.toml's data directory.",
)
@click.option(
    "--from-other-node",
    is_flag=True,
    help="The backup is another node's: restore its chain and blobs, not its access log.",
)
def restore(source: Path, config: Path, data_dir: Path | None, from_other_node: bool) -> None:
    """Restore a backup into an empty data directory; the node checks it in full at its first start."""
    import hashlib
    import json
    import shutil

    from node.config import NodeConfig
    from node.errors import NodeError
    from node.store.backup import FORMAT, KV_NAME, MANIFEST_NAME, restore_store
    from wire.errors import WireError
    from wire.files import load_genesis

    try:
        cfg = NodeConfig.load(config)
        genesis = load_genesis(cfg.genesis_file)
        man = json.loads((source / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (NodeError, WireError) as exc:
        fail(str(exc))
    except (OSError, ValueError) as exc:
        fail(f"{source} is not a backup made by `orgledger node backup`: {exc}")
    target = (data_dir or cfg.data_dir).resolve()
    if man.get("format") != FORMAT:
        fail(f"{source}: backup format {man.get('format')!r} is not {FORMAT}")
    if man["genesis_hash"] != genesis.hash.hex():
        fail(f"{source} is a backup of another chain (genesis {man['genesis_hash'][:16]}…)")
    if man["node_id"] != cfg.node_id and not from_other_node:
        fail(f"{source} is node {man['node_id']}'s backup, not {cfg.node_id}'s; pass --from-other-node")
    if target.exists() and any(target.iterdir()):
        fail(f"{target} is not empty; restore only into an empty data directory (move the old one aside)")
    seen: dict[str, tuple[int, str]] = {}
    for name in man["files"]:
        path = source / name
        digest, size = hashlib.sha256(), 0
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
                    size += len(block)
        except OSError as exc:
            fail(f"{path}: {exc.strerror}")
        seen[name] = (size, digest.hexdigest())
    try:
        check_members(man, seen)
        records = restore_store(target, source / KV_NAME, man, compress=cfg.store.compress)
    except BackupReadError as exc:
        fail(str(exc))
    except NodeError as exc:
        fail(str(exc))
    copied = 0
    for name in man["files"]:
        if name == KV_NAME or (from_other_node and name.startswith("accesslog/")):
            continue
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, dest)
        copied += 1
    click.echo(
        f"restored {records} records at height {man['height']} and {copied} files into {target}; "
        f"start the node: it checks the whole store first, then catches up from its peers"
    )
    sys.exit(0)
