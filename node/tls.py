"""TLS for a network: its CA, the nodes' certificates, and the SSL contexts the node serves with.

Rules:

- One network CA (ECDSA P-256, self-signed, `basicConstraints CA:TRUE, pathlen 0`) signs every
  node's certificate; nothing else is trusted on the p2p port, and clients (SDK, CLI) verify the
  API's certificate against the same CA (`ca.crt` is public; `ca.key` is the network's secret).
- A node certificate (ECDSA P-256) names the node (`CN=<node_id>`), is good for both TLS server
  and client authentication (one certificate for the p2p listener, the p2p dialer and the API),
  and its subject alternative names are the host addresses it is reached by: IP addresses as
  IP SANs, anything else as DNS names (`node_hosts` adds 127.0.0.1 and localhost).
- Private keys are written 0600 (PEM, unencrypted: the node must start unattended).
- The node accepts any key type OpenSSL serves with (a certificate of the operator's own PKI may
  be RSA); what this module makes is ECDSA P-256.
- Loading checks what an operator gets wrong, each a `TlsError` naming the file: a missing or
  unreadable file, a file that is not a PEM certificate or key, a key that is not the
  certificate's, a certificate the CA did not sign, and one outside its validity period.
- `server_context` / `client_context` build the contexts: TLS 1.2 at least; p2p is mutual (the
  listener requires a client certificate signed by the CA, the dialer presents its own and
  verifies the listener's certificate and host name).

Layout written by `orgledger network init --tls` (node/dev/netinit.py):

    OUT/tls/ca.crt, OUT/tls/ca.key (0600)               the network CA
    OUT/nodes/<id>/tls/node.crt, node.key (0600), ca.crt the node's certificate, key and the CA
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node.config import TlsFiles
from node.errors import ConfigError

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
NODE_CERT = "node.crt"
NODE_KEY = "node.key"
TLS_DIR = "tls"
CA_DAYS = 3650
NODE_DAYS = 825
#: what every dev certificate names besides the node's own host
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")

ClientCerts = Literal["none", "optional", "required"]


class TlsError(ConfigError):
    """A certificate, key or CA that cannot be used; the message names the file and the fault."""


@dataclass(frozen=True, slots=True)
class CertFiles:
    """A node's certificate, its key and the CA that signed it (paths)."""

    cert: Path
    key: Path
    ca: Path


# ------------------------------------------------------------------------------ making certificates
def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(name: str, *, days: int = CA_DAYS) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new network CA named `name` (the chain id, typically)."""
    key = _new_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "orgledger"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} network CA"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def node_hosts(*hosts: str) -> list[str]:
    """The hosts a node certificate names: `hosts`, then loopback, without repeats or blanks."""
    out: list[str] = []
    for host in (*hosts, *LOOPBACK_HOSTS):
        host = host.strip()
        if host and host not in out and host not in ("0.0.0.0", "::"):
            out.append(host)
    return out


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return x509.DNSName(host.encode("idna").decode("ascii"))
    except UnicodeError as exc:
        raise TlsError(f"{host!r} is neither an IP address nor a host name") from exc


def make_node_cert(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    node_id: str,
    hosts: Sequence[str],
    *,
    days: int = NODE_DAYS,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate for node `node_id`, reached at `hosts`, signed by the network CA."""
    if not hosts:
        raise TlsError(f"node {node_id}: a certificate needs at least one host name or address")
    key = _new_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "orgledger"),
                    x509.NameAttribute(NameOID.COMMON_NAME, node_id),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def cert_hosts(cert: x509.Certificate) -> list[str]:
    """The host names and addresses a certificate's SAN extension names."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [
        *san.get_values_for_type(x509.DNSName),
        *(str(a) for a in san.get_values_for_type(x509.IPAddress)),
    ]


# ------------------------------------------------------------------------------------ files
def write_cert(path: Path, cert: x509.Certificate) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """The key in PEM (PKCS#8, unencrypted), mode 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise TlsError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_cert(path: Path, what: str = "certificate") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path, what))
    except ValueError:
        raise TlsError(f"{what} {path} is not a PEM certificate") from None


def load_key(path: Path, what: str = "private key") -> PrivateKeyTypes:
    """Any unencrypted PEM private key (a certificate from the operator's own PKI may be RSA)."""
    try:
        return serialization.load_pem_private_key(_read(path, what), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise TlsError(f"{what} {path} is not an unencrypted PEM private key") from None


def _same_key(key: PrivateKeyTypes, cert: x509.Certificate) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki))


def write_ca(directory: Path, name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new CA as `directory`/ca.crt and ca.key (0600)."""
    cert, key = make_ca(name)
    write_cert(directory / CA_CERT, cert)
    write_key(directory / CA_KEY, key)
    return cert, key


def issue_node_files(ca_dir: Path, out_dir: Path, node_id: str, hosts: Iterable[str]) -> CertFiles:
    """Sign a new certificate for `node_id` with the CA in `ca_dir` and write node.crt, node.key
    (0600) and a copy of ca.crt to `out_dir` (replacing what was there: a rotation)."""
    ca_cert = load_cert(ca_dir / CA_CERT, "CA certificate")
    ca_key = load_key(ca_dir / CA_KEY, "CA key")
    if not _same_key(ca_key, ca_cert):
        raise TlsError(f"{ca_dir / CA_KEY} is not the key of {ca_dir / CA_CERT}")
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TlsError(f"{ca_dir / CA_KEY}: network cert signs only with an ECDSA CA (as network init makes)")
    cert, key = make_node_cert(ca_cert, ca_key, node_id, node_hosts(*hosts))
    files = CertFiles(cert=out_dir / NODE_CERT, key=out_dir / NODE_KEY, ca=out_dir / CA_CERT)
    write_key(files.key, key)
    write_cert(files.cert, cert)
    write_cert(files.ca, ca_cert)
    return files


# ------------------------------------------------------------------------------------ checking
def check_files(files: CertFiles, *, now: dt.datetime | None = None) -> x509.Certificate:
    """The node certificate of `files` after checking it against its key and the CA (TlsError)."""
    ca = load_cert(files.ca, "CA certificate")
    cert = load_cert(files.cert)
    key = load_key(files.key)
    if not _same_key(key, cert):
        raise TlsError(f"{files.key} is not the private key of {files.cert}")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise TlsError(
            f"{files.cert} is not signed by the CA {files.ca} (issued by {cert.issuer.rfc4514_string()!r}, "
            f"the CA is {ca.subject.rfc4514_string()!r})"
        ) from None
    _check_valid("certificate", cert, files.cert, now)
    _check_valid("CA certificate", ca, files.ca, now)
    return cert


def _check_valid(what: str, cert: x509.Certificate, path: Path, now: dt.datetime | None) -> None:
    at = now or _now()
    if at < cert.not_valid_before_utc:
        raise TlsError(f"{what} {path} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    if at > cert.not_valid_after_utc:
        raise TlsError(f"{what} {path} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")


# ------------------------------------------------------------------------------------ contexts
def _base(protocol: int) -> ssl.SSLContext:
    # not ssl.create_default_context: that also trusts the system's CAs, and only ours may sign
    ctx = ssl.SSLContext(protocol)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def server_context(files: CertFiles, client_certs: ClientCerts = "required") -> ssl.SSLContext:
    """A listener's context: our certificate, and client certificates per `client_certs`,
    verified against the CA of `files`."""
    check_files(files)
    ctx = _base(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files.cert, files.key)
    ctx.load_verify_locations(cafile=str(files.ca))
    ctx.verify_mode = {
        "none": ssl.CERT_NONE,
        "optional": ssl.CERT_OPTIONAL,
        "required": ssl.CERT_REQUIRED,
    }[client_certs]
    return ctx


def client_context(ca: Path, files: CertFiles | None = None) -> ssl.SSLContext:
    """A dialer's context: trusts only the CA at `ca`, checks host names, and presents the
    certificate of `files` when given (mutual TLS)."""
    load_cert(ca, "CA certificate")  # a clear error for a missing or wrong file
    ctx = _base(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
    ctx.load_verify_locations(cafile=str(ca))
    if files is not None:
        check_files(files)
        ctx.load_cert_chain(files.cert, files.key)
    return ctx


def _cert_files(files: TlsFiles) -> CertFiles:
    if files.ca is None:
        raise TlsError(f"{files.cert}: no CA file to check it against")
    return CertFiles(cert=files.cert, key=files.key, ca=files.ca)


def p2p_contexts(files: TlsFiles) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """The p2p listener's and dialer's contexts for node.toml's [p2p] TLS (mutual TLS)."""
    cert_files = _cert_files(files)
    return server_context(cert_files, "required"), client_context(cert_files.ca, cert_files)


def check_tls_files(files: TlsFiles) -> x509.Certificate:
    """Check the TLS files of [p2p] or [api] (against the CA when one is given); the certificate."""
    if files.ca is not None:
        return check_files(_cert_files(files))
    cert, key = load_cert(files.cert), load_key(files.key)
    if not _same_key(key, cert):
        raise TlsError(f"{files.key} is not the private key of {files.cert}")
    _check_valid("certificate", cert, files.cert, None)
    return cert
