"""TLS (issue 18.9): the network CA and node certificates (node/tls.py), `network init --tls` and
`network cert`, node.toml's [p2p] and [api] TLS keys, `node config check`, and the SDK's and
CLI's CA options. Real handshakes over loopback sockets are in test_tls_links.py."""

from __future__ import annotations

import datetime as dt
import ssl
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from client_sdk import LedgerClient
from client_sdk.errors import LedgerError
from client_sdk.tls import tls_context
from node import tls
from node.cli import cli
from node.cli.common import ca_file_for
from node.config import NodeConfig, toml_dumps
from node.dev.netinit import NetInitError, init_network, issue_node_cert
from node.errors import ConfigError


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_network(
        None,
        tmp_path_factory.mktemp("tls") / "net",
        tls=True,
        sans={"city": ["city.example.org", "10.1.2.3"]},
    ).out


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another network's CA directory (ca.crt, ca.key)."""
    directory = tmp_path_factory.mktemp("other-ca")
    tls.write_ca(directory, "other-chain")
    return directory


def _files(net: Path, node: str) -> tls.CertFiles:
    d = net / "nodes" / node / "tls"
    return tls.CertFiles(cert=d / "node.crt", key=d / "node.key", ca=d / "ca.crt")


def _with(net: Path, node: str, tables: dict[str, dict[str, object]], name: str = "t.toml") -> Path:
    """`node`'s node.toml with the keys of `tables` set (None removes a key)."""
    doc = tomllib.loads((net / "nodes" / node / "node.toml").read_text())
    for table, values in tables.items():
        for key, value in values.items():
            if value is None:
                doc[table].pop(key, None)
            else:
                doc[table][key] = value
    path = net / "nodes" / node / name
    path.write_text(toml_dumps(doc))
    return path


# ------------------------------------------------------------------------------ certificates
def test_the_ca_and_a_node_certificate(tmp_path: Path) -> None:
    ca_cert, _ = tls.write_ca(tmp_path / "ca", "chain-x")
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (tmp_path / "ca" / "ca.key").stat().st_mode & 0o777 == 0o600
    files = tls.issue_node_files(tmp_path / "ca", tmp_path / "n1", "n1", ["10.0.0.7", "n1.example.org"])
    cert = tls.check_files(files)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "n1"
    assert tls.cert_hosts(cert) == ["n1.example.org", "localhost", "10.0.0.7", "127.0.0.1"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(ca_cert)
    assert files.key.stat().st_mode & 0o777 == 0o600
    assert files.ca.read_bytes() == (tmp_path / "ca" / "ca.crt").read_bytes()
    assert cert.not_valid_after_utc <= ca_cert.not_valid_after_utc


def test_node_hosts_adds_loopback_once_and_drops_wildcard_listen_addresses() -> None:
    assert tls.node_hosts("127.0.0.1", "0.0.0.0", " ", "h.example") == ["127.0.0.1", "h.example", "localhost"]


def test_check_files_names_each_fault(net: Path, other_ca: Path, tmp_path: Path) -> None:
    good = _files(net, "central")
    tls.check_files(good)
    with pytest.raises(tls.TlsError, match=r"node\.crt does not exist"):
        tls.check_files(tls.CertFiles(cert=tmp_path / "node.crt", key=good.key, ca=good.ca))
    with pytest.raises(tls.TlsError, match="is not signed by the CA"):
        tls.check_files(tls.CertFiles(cert=good.cert, key=good.key, ca=other_ca / "ca.crt"))
    with pytest.raises(tls.TlsError, match="is not the private key of"):
        tls.check_files(tls.CertFiles(cert=good.cert, key=_files(net, "city").key, ca=good.ca))
    (tmp_path / "junk.crt").write_text("not a certificate\n")
    with pytest.raises(tls.TlsError, match="is not a PEM certificate"):
        tls.check_files(tls.CertFiles(cert=tmp_path / "junk.crt", key=good.key, ca=good.ca))
    with pytest.raises(tls.TlsError, match="is not an unencrypted PEM private key"):
        tls.check_files(tls.CertFiles(cert=good.cert, key=good.cert, ca=good.ca))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=tls.NODE_DAYS + 1)
    with pytest.raises(tls.TlsError, match="expired on"):
        tls.check_files(good, now=later)


def test_contexts_refuse_what_they_cannot_use(net: Path, other_ca: Path) -> None:
    server, client = tls.p2p_contexts(
        _config_tls(net, "central")  # what the node builds from node.toml
    )
    assert server.verify_mode == ssl.CERT_REQUIRED
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname
    # only the network CA is trusted: not the system's
    assert [c["subject"] for c in client.get_ca_certs()] == [
        ((("organizationName", "orgledger"),), (("commonName", "orgledger-dev network CA"),))
    ]
    assert len(server.get_ca_certs()) == 1
    wrong = tls.CertFiles(
        cert=_files(net, "central").cert, key=_files(net, "central").key, ca=other_ca / "ca.crt"
    )
    with pytest.raises(tls.TlsError, match="is not signed by the CA"):
        tls.server_context(wrong)


def _config_tls(net: Path, node: str) -> tls.TlsFiles:
    cfg = NodeConfig.load(net / "nodes" / node / "node.toml", env={})
    assert cfg.p2p_tls is not None
    return cfg.p2p_tls


# ------------------------------------------------------------------------------ network init
def test_network_init_tls_writes_the_ca_the_certificates_and_node_toml(net: Path) -> None:
    assert (net / "tls" / "ca.crt").is_file() and (net / "tls" / "ca.key").stat().st_mode & 0o777 == 0o600
    for node_dir in sorted((net / "nodes").iterdir()):
        cfg = NodeConfig.load(node_dir / "node.toml", env={})
        assert cfg.p2p_tls is not None and cfg.api_tls is not None
        assert (
            cfg.p2p_tls.cert == node_dir / "tls" / "node.crt"
            and cfg.p2p_tls.ca == node_dir / "tls" / "ca.crt"
        )
        assert cfg.api_tls.client_certs == "none" and cfg.api_tls.key == node_dir / "tls" / "node.key"
        cert = tls.check_files(_files(net, node_dir.name))
        assert {"127.0.0.1", "localhost"} <= set(tls.cert_hosts(cert))
    city = tls.cert_hosts(tls.load_cert(_files(net, "city").cert))
    assert {"city.example.org", "10.1.2.3"} <= set(city)
    assert "city.example.org" not in tls.cert_hosts(tls.load_cert(_files(net, "county").cert))


def test_network_init_without_tls_writes_no_tls(tmp_path: Path) -> None:
    out = init_network(None, tmp_path / "plain").out
    assert not (out / "tls").exists()
    cfg = NodeConfig.load(out / "nodes" / "central" / "node.toml", env={})
    assert cfg.p2p_tls is None and cfg.api_tls is None


def test_network_init_refuses_sans_without_tls_or_for_unknown_nodes(tmp_path: Path) -> None:
    with pytest.raises(NetInitError, match="needs --tls"):
        init_network(None, tmp_path / "a", sans={"city": ["x.example"]})
    with pytest.raises(NetInitError, match="does not have: nobody"):
        init_network(None, tmp_path / "b", tls=True, sans={"nobody": ["x.example"]})
    result = CliRunner().invoke(
        cli, ["network", "init", "--out", str(tmp_path / "c"), "--tls", "--san", "city"]
    )
    assert result.exit_code == 2 and "expected NODE=HOST" in result.output


def test_network_cert_rotates_one_node_certificate(net: Path, tmp_path: Path) -> None:
    before = tls.load_cert(_files(net, "county").cert)
    result = CliRunner().invoke(
        cli, ["network", "cert", "--dir", str(net), "--node", "county", "--san", "county.example.org"]
    )
    assert result.exit_code == 0, result.output
    assert "county.example.org" in result.output and "restart the node" in result.output
    after = tls.check_files(_files(net, "county"))
    assert after.serial_number != before.serial_number and "county.example.org" in tls.cert_hosts(after)
    with pytest.raises(NetInitError, match="no node 'nobody'"):
        issue_node_cert(net, "nobody")
    plain = init_network(None, tmp_path / "plain").out
    result = CliRunner().invoke(cli, ["network", "cert", "--dir", str(plain), "--node", "city"])
    assert result.exit_code == 1 and "holds no network CA" in result.output


# ------------------------------------------------------------------------------ node.toml
@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"p2p": {"tls_ca_file": None}}, r"\[p2p\]: TLS on the p2p port is mutual"),
        ({"api": {"tls_key_file": None}}, r"\[api\]: HTTPS needs both tls_cert_file and tls_key_file"),
        (
            {"api": {"tls_ca_file": None, "tls_client_certs": "required"}},
            r'tls_client_certs = "required" needs',
        ),
        ({"api": {"tls_client_certs": "sometimes"}}, r"api\.tls_client_certs"),
        ({"p2p": {"tls_cert": "tls/node.crt"}}, r"unknown key p2p\.tls_cert"),
        ({"p2p": {"tls_cert_file": "tls/nope.crt"}}, r"p2p\.tls_cert_file: .*nope\.crt does not exist"),
        ({"api": {"tls_ca_file": "../../tls/nope.crt"}}, r"api\.tls_ca_file: .*nope\.crt does not exist"),
    ],
)
def test_bad_tls_settings_are_refused_by_name(
    net: Path, tables: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        NodeConfig.load(_with(net, "central", tables), env={})


def test_tls_settings_can_come_from_the_environment(net: Path) -> None:
    path = _with(net, "central", {"api": {"tls_cert_file": None, "tls_key_file": None}}, "env.toml")
    assert NodeConfig.load(path, env={}).api_tls is None
    cfg = NodeConfig.load(
        path,
        env={
            "ORGLEDGER_API_TLS_CERT_FILE": "tls/node.crt",
            "ORGLEDGER_API_TLS_KEY_FILE": "tls/node.key",
            "ORGLEDGER_API_TLS_CLIENT_CERTS": "optional",
        },
    )
    assert cfg.api_tls is not None and cfg.api_tls.client_certs == "optional"
    with pytest.raises(
        ConfigError, match=r"ORGLEDGER_P2P_TLS_KEY_FILE \(p2p\.tls_key_file\): .*missing\.key does not exist"
    ):
        NodeConfig.load(path, env={"ORGLEDGER_P2P_TLS_KEY_FILE": "tls/missing.key"})


def test_config_check_checks_the_certificates(net: Path, other_ca: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(cli, ["node", "config", "check", str(net / "nodes" / "branch" / "node.toml")])
    assert good.exit_code == 0, good.output
    assert "p2p mutual TLS; api HTTPS (client certificates none)" in good.output
    wrong = _with(net, "branch", {"p2p": {"tls_ca_file": str(other_ca / "ca.crt")}}, "wrongca.toml")
    result = runner.invoke(cli, ["node", "config", "check", str(wrong)])
    assert result.exit_code == 1 and "is not signed by the CA" in result.output, result.output


def test_a_node_with_a_certificate_of_another_ca_does_not_start(net: Path, other_ca: Path) -> None:
    wrong = _with(net, "observer", {"api": {"tls_ca_file": str(other_ca / "ca.crt")}}, "wrongca.toml")
    result = CliRunner().invoke(cli, ["node", "run", "--config", str(wrong)])
    assert result.exit_code == 1
    assert "is not signed by the CA" in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------------------ SDK and CLI
def test_sdk_ca_file_needs_https_and_an_existing_pem(net: Path, tmp_path: Path) -> None:
    ca = net / "tls" / "ca.crt"
    assert tls_context("http://127.0.0.1:1", None) is None
    assert tls_context("https://127.0.0.1:1", ca) is not None
    with pytest.raises(LedgerError, match="need an https:// URL"):
        tls_context("http://127.0.0.1:1", ca)
    with pytest.raises(LedgerError, match="does not exist"):
        tls_context("https://127.0.0.1:1", tmp_path / "nope.crt")
    (tmp_path / "junk.crt").write_text("junk")
    with pytest.raises(LedgerError, match="is not a PEM certificate"):
        tls_context("https://127.0.0.1:1", tmp_path / "junk.crt")
    with pytest.raises(LedgerError, match="need an https:// URL"):
        LedgerClient("http://127.0.0.1:1", net / "genesis.json", ca_file=ca)
    ctx = tls_context("https://127.0.0.1:1", ca, (_files(net, "city").cert, _files(net, "city").key))
    assert ctx is not None and ctx.verify_mode == ssl.CERT_REQUIRED


def test_the_cli_finds_the_ca_beside_the_genesis_file(net: Path, tmp_path: Path) -> None:
    genesis = net / "genesis.json"
    assert ca_file_for("https://127.0.0.1:1", None, genesis) == net / "tls" / "ca.crt"
    assert ca_file_for("http://127.0.0.1:1", None, genesis) is None
    assert ca_file_for("https://127.0.0.1:1", None, tmp_path / "genesis.json") is None
    result = CliRunner().invoke(
        cli,
        ["api", "get", "/v1/status", "--node", "http://127.0.0.1:1", "--key", str(net / "keys" / "admins" / "cn.key"),
         "--genesis", str(genesis), "--ca", str(net / "tls" / "ca.crt")],
    )  # fmt: skip
    assert result.exit_code == 2 and "--ca is for an https:// node" in result.output
    result = CliRunner().invoke(
        cli,
        ["api", "get", "/v1/status", "--node", "https://127.0.0.1:1", "--key", str(net / "keys" / "admins" / "cn.key"),
         "--genesis", str(genesis), "--ca", str(tmp_path / "nope.crt")],
    )  # fmt: skip
    assert result.exit_code == 1 and "no such file" in result.output


def test_dev_up_tls_refuses_a_network_made_without_tls(tmp_path: Path) -> None:
    out = init_network(None, tmp_path / "plain").out
    result = CliRunner().invoke(cli, ["dev", "up", "--tls", "--dir", str(out)])
    assert result.exit_code == 1 and "made without TLS" in result.output


def test_certificates_of_an_operators_own_rsa_pki_are_accepted(tmp_path: Path) -> None:
    """The node takes any key type; only `network init` / `network cert` make ECDSA ones."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    def pem_key(key: rsa.RSAPrivateKey, path: Path) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    now = dt.datetime.now(dt.UTC)
    ca_key, node_key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corp CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "n1")]))
        .issuer_name(ca_name).public_key(node_key.public_key()).serial_number(2)
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    tls.write_cert(tmp_path / "ca.crt", ca)
    tls.write_cert(tmp_path / "node.crt", cert)
    pem_key(node_key, tmp_path / "node.key")
    pem_key(ca_key, tmp_path / "ca.key")
    files = tls.TlsFiles(cert=tmp_path / "node.crt", key=tmp_path / "node.key", ca=tmp_path / "ca.crt")
    assert tls.check_tls_files(files).serial_number == 2
    server, client = tls.p2p_contexts(files)
    assert server.verify_mode == ssl.CERT_REQUIRED and client.check_hostname
    with pytest.raises(tls.TlsError, match="is not the private key of"):
        tls.check_tls_files(
            tls.TlsFiles(cert=tmp_path / "node.crt", key=tmp_path / "ca.key", ca=tmp_path / "ca.crt")
        )
    with pytest.raises(tls.TlsError, match="signs only with an ECDSA CA"):
        tls.issue_node_files(tmp_path, tmp_path / "out", "n2", ["127.0.0.1"])
