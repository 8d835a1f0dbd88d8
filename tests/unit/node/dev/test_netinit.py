"""`orgledger network init`: the default network, invalid topologies, overwrite protection."""

from __future__ import annotations

import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from node.cli import cli
from node.config import NodeConfig
from node.dev.netinit import set_toml_keys
from node.dev.topology import DEFAULT_TOPOLOGY
from wire.files import load_encryption_key, load_genesis, load_signing_key

ROOT = Path(__file__).resolve().parents[4]


def test_default_network(tmp_path: Path) -> None:
    out = tmp_path / "net"
    result = CliRunner().invoke(cli, ["network", "init", "--out", str(out)])
    assert result.exit_code == 0, result.output
    genesis = load_genesis(out / "genesis.json")
    assert f"genesis hash:  {genesis.hash.hex()}" in result.output
    node_dirs = sorted(p.name for p in (out / "nodes").iterdir())
    assert node_dirs == ["branch", "central", "city", "county", "observer", "province"]
    assert [n.org_id for n in genesis.validator_nodes] == [
        "cn",
        "cn.gs",
        "cn.gs.lz",
        "cn.gs.lz.cg",
        "cn.gs.lz.cg.b001",
    ]
    assert [n.role for n in genesis.nodes].count("observer") == 1
    assert genesis.validators.n == 5 and genesis.validators.quorum == 4
    levels = {o.org_id: o.level for o in genesis.orgs}
    assert levels["cn"] == "CENTRAL" and levels["cn.gs.lz.cg.b001"] == "BRANCH"
    for name in node_dirs:
        config = NodeConfig.load(out / "nodes" / name / "node.toml")
        key = load_signing_key(config.key_file)
        assert genesis.node(name).pubkey == key.public
        assert stat.S_IMODE(config.key_file.stat().st_mode) == 0o600
    for org in genesis.orgs:
        admin = load_signing_key(out / "keys" / "admins" / f"{org.org_id}.key")
        assert any(u.pubkey == admin.public and "admin" in u.roles for u in genesis.users)
        assert (
            load_encryption_key(out / "keys" / "orgs" / f"{org.org_id}.x25519.key").public == org.enc_pubkey
        )
    assert genesis.rule_config["large_funds_threshold_fen"] > 0


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "net"
    runner = CliRunner()
    assert runner.invoke(cli, ["network", "init", "--out", str(out)]).exit_code == 0
    first = load_genesis(out / "genesis.json").hash
    again = runner.invoke(cli, ["network", "init", "--out", str(out)])
    assert again.exit_code != 0 and "--force" in again.output
    assert load_genesis(out / "genesis.json").hash == first
    forced = runner.invoke(cli, ["network", "init", "--out", str(out), "--force"])
    assert forced.exit_code == 0
    assert load_genesis(out / "genesis.json").hash != first


BASE = DEFAULT_TOPOLOGY.read_text()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace('id = "cn.gs.lz"\n', 'id = "cn.gs"\n', 1), "duplicate org id cn.gs"),
        (lambda t: t.replace('id = "branch"', 'id = "city"'), "duplicate node id city"),
        (
            lambda t: t.replace('id = "cn.sn.xa"\nlevel = "CITY"', 'id = "cn.sx.xa"\nlevel = "CITY"'),
            "unknown parent cn.sx",
        ),
        (
            lambda t: t.replace('id = "cn.gs.lz"\nlevel = "CITY"', 'id = "cn.gs.lz"\nlevel = "COUNTY"'),
            "skips or repeats a level",
        ),
        (lambda t: t.replace("p2p_port = 27003", "p2p_port = 27002"), "collides with province.p2p_port"),
        (lambda t: t.replace("api_port = 28004", "api_port = 27001"), "collides with central.p2p_port"),
        (lambda t: t.replace('org = "cn.gs.lz.cg.b001"', 'org = "cn.gs.lz.cg.b999"'), "unknown org"),
        (lambda t: t.replace('role = "validator"', 'role = "observer"', 2), "cannot tolerate a single fault"),
        (
            lambda t: t.replace('chain_id = "orgledger-dev"', 'chain_id = "orgledger-dev"\nchian = 1'),
            "unknown key(s) in the topology: chian",
        ),
        (lambda t: t + '\n[[org]]\nid = "xx"\nlevel = "CENTRAL"\n', "exactly one CENTRAL root"),
        (lambda t: t.replace("[[org]]", "[org", 1), "not valid TOML"),
        (lambda t: t.replace('id = "cn.gs"', 'id = "CN.GS"', 1), "must be a dot path"),
    ],
)
def test_invalid_topologies_are_named(tmp_path: Path, mutate: object, message: str) -> None:
    topo = tmp_path / "topo.toml"
    topo.write_text(mutate(BASE))  # type: ignore[operator]
    result = CliRunner().invoke(
        cli, ["network", "init", "--topology", str(topo), "--out", str(tmp_path / "net")]
    )
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "net").exists()


def test_small_network_allowed_only_when_explicit(tmp_path: Path) -> None:
    small = BASE.replace('role = "validator"', 'role = "observer"', 2)
    topo = tmp_path / "topo.toml"
    topo.write_text("allow_unsafe_small = true\n" + small)
    result = CliRunner().invoke(
        cli, ["network", "init", "--topology", str(topo), "--out", str(tmp_path / "net")]
    )
    assert result.exit_code == 0, result.output


def test_console_entry_point_and_unbuilt_commands() -> None:
    exe = Path(sys.executable).with_name("orgledger")
    out = subprocess.run([str(exe), "version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("orgledger ")
    help_out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert help_out.returncode == 0 and "network" in help_out.stdout
    missing = subprocess.run(
        [str(exe), "network", "init", "--topology", "/nonexistent.toml", "--out", "/tmp/x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "cannot read topology" in missing.stderr


def test_set_toml_keys_replaces_a_key_the_table_has_and_adds_new_tables(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text('node_id = "x"\n\n[log]\nlevel = "INFO"\nformat = "text"\n\n[api]\nport = 1\n')
    set_toml_keys(path, "log", {"level": "DEBUG"})  # was appended beside the old one: invalid TOML
    set_toml_keys(path, "integrity", {"verify_on_start": "off"})
    set_toml_keys(path, "integrity", {"verify_on_start": "full"})
    set_toml_keys(path, "api", {"rate_per_s": 5.0, "port": 2})
    doc = tomllib.loads(path.read_text())
    assert doc == {
        "node_id": "x",
        "log": {"level": "DEBUG", "format": "text"},
        "api": {"port": 2, "rate_per_s": 5.0},
        "integrity": {"verify_on_start": "full"},
    }
