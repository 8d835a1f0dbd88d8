"""node.toml: typed tables validated once, unknown keys refused by name, ORGLEDGER_* overrides,
the old [extra] table refused with where its keys went, and `orgledger node config check`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from node.cli import cli
from node.config import NodeConfig, env_names, toml_dumps
from node.dev.netinit import init_network
from node.errors import ConfigError


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_network(None, tmp_path_factory.mktemp("cfg") / "net").out


def _with(net: Path, text: str, name: str = "node.test.toml") -> Path:
    """central's node.toml with the tables of `text` merged in (a key of `text` wins)."""
    doc = tomllib.loads((net / "nodes" / "central" / "node.toml").read_text())
    for key, value in tomllib.loads(text).items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key].update(value)
        else:
            doc[key] = value
    path = net / "nodes" / "central" / name
    path.write_text(toml_dumps(doc))
    return path


def test_network_init_writes_files_that_validate_with_the_defaults(net: Path) -> None:
    for node_dir in sorted((net / "nodes").iterdir()):
        cfg = NodeConfig.load(node_dir / "node.toml", env={})
        assert cfg.log.format == "text" and cfg.log.level == "INFO"
        assert cfg.api.rate_per_s == 500 and cfg.api.window_ms == 30_000
        assert cfg.privacy.blob_replicas == 2 and cfg.person_key_secret_file is not None
        assert cfg.index.url == "" and cfg.verify_on_start == "recent"
        assert cfg.store.compression == "none" and not cfg.store.compress
        assert cfg.data_dir == (node_dir / "data").resolve()


def test_typed_tables_are_read(net: Path) -> None:
    path = _with(
        net,
        '[log]\nformat = "json"\nlevel = "DEBUG"\n[index]\nurl = "sqlite:///x.db"\nready_max_lag = 7\n'
        "[api]\nrate_per_s = 2.5\nburst = 4\nready_max_behind = 3\n"
        '[store]\ncompression = "snappy"\n',
    )
    cfg = NodeConfig.load(path, env={})
    assert (cfg.log.format, cfg.log.level) == ("json", "DEBUG")
    assert (cfg.index.url, cfg.index.ready_max_lag) == ("sqlite:///x.db", 7)
    assert (cfg.api.rate_per_s, cfg.api.burst, cfg.api.ready_max_behind) == (2.5, 4, 3)
    assert cfg.store.compression == "snappy" and cfg.store.compress


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[log]\nfromat = 'json'\n", "unknown key log.fromat"),
        ("[index]\nurll = 'x'\n", "unknown key index.urll"),
        ("[privacy]\nblob_replicas = 'two'\n", "privacy.blob_replicas"),
        ("[privacy]\nblob_max_bytes = 1\n", "privacy.blob_max_bytes"),
        ("[log]\nlevel = 'LOUD'\n", "log.level"),
        ("[store]\ncompression = 'zstd'\n", "store.compression"),
        ("colour = 'red'\n", "unknown key colour"),
        ("[extra]\napi_rate_per_s = 2\n", "api_rate_per_s -> [api] rate_per_s"),
    ],
)
def test_bad_keys_and_values_are_refused_by_name(net: Path, text: str, message: str) -> None:
    path = _with(net, text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        NodeConfig.load(path, env={})


def test_environment_overrides_win_and_bad_ones_name_the_variable(net: Path) -> None:
    path = net / "nodes" / "central" / "node.toml"
    cfg = NodeConfig.load(
        path,
        env={
            "ORGLEDGER_LOG_FORMAT": "json",
            "ORGLEDGER_API_HOST": "0.0.0.0",
            "ORGLEDGER_API_RATE_PER_S": "7.5",
            "ORGLEDGER_DATA_DIR": "/srv/data",
            "ORGLEDGER_INDEX_URL": "postgresql://u@db/x",
            "ORGLEDGER_FAIL_POINT": "before_persist",  # not configuration: ignored
        },
    )
    assert cfg.log.format == "json" and cfg.api_host == "0.0.0.0" and cfg.api.rate_per_s == 7.5
    assert cfg.data_dir == Path("/srv/data") and cfg.index_url == "postgresql://u@db/x"
    with pytest.raises(ConfigError, match="ORGLEDGER_API_PORT"):
        NodeConfig.load(path, env={"ORGLEDGER_API_PORT": "eighty"})
    with pytest.raises(ConfigError, match="ORGLEDGER_LOG_FORMAT"):
        NodeConfig.load(path, env={"ORGLEDGER_LOG_FORMAT": "xml"})
    assert {"ORGLEDGER_LOG_FORMAT", "ORGLEDGER_INDEX_URL", "ORGLEDGER_DATA_DIR"} <= set(env_names())
    assert NodeConfig.load(path, env={"ORGLEDGER_STORE_COMPRESSION": "snappy"}).store.compression == "snappy"
    with pytest.raises(ConfigError, match="ORGLEDGER_STORE_COMPRESSION"):
        NodeConfig.load(path, env={"ORGLEDGER_STORE_COMPRESSION": "lz4"})


def test_config_check_command(net: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(cli, ["node", "config", "check", str(net / "nodes" / "county" / "node.toml")])
    assert good.exit_code == 0 and ": ok: node county" in good.output, good.output
    bad = _with(net, "[log]\nfromat = 'json'\n[api2]\nx = 1\n", "bad.toml")
    result = runner.invoke(cli, ["node", "config", "check", str(bad)])
    assert result.exit_code == 1
    assert "error:" in result.output and "log.fromat" in result.output and "api2" in result.output
    missing = runner.invoke(cli, ["node", "config", "check", str(net / "nope.toml")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    wrong_key = _with(net, "", "wrongkey.toml")
    wrong_key.write_text(
        wrong_key.read_text().replace('key_file = "node.key"', 'key_file = "../city/node.key"')
    )
    result = runner.invoke(cli, ["node", "config", "check", str(wrong_key)])
    assert result.exit_code == 1 and "is the key genesis lists for node city" in result.output


def test_config_check_after_governance(net: Path, tmp_path: Path) -> None:
    """A rotated key is a note (the ledger decides at start); a node added after genesis needs
    its org and a bootstrap peer (issue 17)."""
    runner = CliRunner()
    fresh = tmp_path / "fresh.key"
    assert runner.invoke(cli, ["keys", "new", "--out", str(fresh)]).exit_code == 0
    rotated = _with(net, f'key_file = "{fresh}"\n', "rotated.toml")
    result = runner.invoke(cli, ["node", "config", "check", str(rotated)])
    assert result.exit_code == 0 and "the ledger rotated its key" in result.output, result.output
    added = _with(net, f'node_id = "cg-validator"\nkey_file = "{fresh}"\n', "added.toml")
    result = runner.invoke(cli, ["node", "config", "check", str(added)])
    assert result.exit_code == 1 and "no node 'cg-validator' in genesis" in result.output, result.output
    text = f'node_id = "cg-validator"\nkey_file = "{fresh}"\norg_id = "cn.gs.lz.cg"\nbootstrap = "http://127.0.0.1:28001"\n'
    result = runner.invoke(cli, ["node", "config", "check", str(_with(net, text, "added.toml"))])
    assert result.exit_code == 0 and ": ok: node cg-validator" in result.output, result.output
