"""HTTPS for the clients: trust only the network's CA, and say plainly when a certificate fails.

Rules:

- `ca_file` (the network CA's certificate, `tls/ca.crt` of the network directory) makes the
  client trust that CA and nothing else (not the system's CAs), with host-name checking; the
  node's URL must then be `https://` (a `ca_file` with an `http://` URL is refused, so a
  typo never sends requests in clear). `client_cert=(cert, key)` presents a client
  certificate, for a node whose `[api] tls_client_certs` asks for one.
- Without `ca_file` an `https://` URL is checked against the system's CAs (a node behind a
  public certificate).
- A certificate that does not verify is not retried: it is a `CertificateError` (a
  `TransportError`) at once, naming the URL and what failed.
- Standard library only (`ssl`): the SDK does not need `cryptography`.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlsplit

from client_sdk.errors import CertificateError, LedgerError

PathLike = str | Path


def tls_context(
    url: str, ca_file: PathLike | None, client_cert: tuple[PathLike, PathLike] | None = None
) -> ssl.SSLContext | None:
    """The SSL context for talking to `url` (None: the HTTP library's default)."""
    scheme = urlsplit(url).scheme
    if ca_file is None and client_cert is None:
        return None
    if scheme != "https":
        raise LedgerError(
            f"{url}: ca_file / client_cert need an https:// URL (the node would be read in clear)"
        )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file is None:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        try:
            ctx.load_verify_locations(cafile=str(ca_file))
        except FileNotFoundError:
            raise LedgerError(f"CA file {ca_file} does not exist") from None
        except (OSError, ssl.SSLError) as exc:
            raise LedgerError(f"CA file {ca_file} is not a PEM certificate: {exc}") from None
    if client_cert is not None:
        cert, key = client_cert
        try:
            ctx.load_cert_chain(str(cert), str(key))
        except FileNotFoundError as exc:
            raise LedgerError(f"client certificate or key not found: {exc.filename}") from None
        except (OSError, ssl.SSLError) as exc:
            raise LedgerError(f"client certificate {cert} with key {key}: {exc}") from None
    return ctx


def certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error behind `exc` (through its causes), if that is what it is."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        # aiohttp keeps the ssl error as an attribute (ClientConnectorCertificateError)
        # (it is itself an ssl.CertificateError, but without the ssl error's details: look inside first)
        for found in (getattr(cur, "certificate_error", None), cur, *getattr(cur, "args", ())):
            if isinstance(found, ssl.SSLCertVerificationError):
                return found
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def certificate_error(
    url: str, failure: ssl.SSLCertVerificationError, ca_option: str = "ca_file"
) -> CertificateError:
    reason = getattr(failure, "verify_message", None) or getattr(failure, "reason", None) or str(failure)
    return CertificateError(
        f"{url}: the node's TLS certificate does not verify ({reason}); "
        f"is {ca_option} the CA of this node's network, and the URL's host one the certificate names?"
    )
