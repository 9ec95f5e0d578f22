"""The agent's OPC-UA certificates: its own, made on first run, and the list of servers it trusts.

Layout of the PKI folder (``<data_dir>/pki`` unless a source sets ``pki_dir``)::

    own/cert.der  own/key.pem      the agent's application instance certificate and key
    trusted/<sha256>.der          server certificates the operator accepted
    rejected/<sha256>.der         certificates presented by servers and refused, kept for review

A server whose certificate is not in ``trusted/`` is refused with an error naming the fingerprint; the
operator inspects it with ``factory-twin edge certs list`` and accepts it with ``factory-twin edge certs
trust FINGERPRINT``. The agent keeps retrying, so trusting a server needs no restart.
"""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class UntrustedCertificate(Exception):
    """The server presented a certificate that is not on the trust list."""

    def __init__(self, message: str, fingerprint: str) -> None:
        super().__init__(message)
        self.fingerprint = fingerprint  # SHA-256, hex


@dataclass(frozen=True)
class CertInfo:
    status: str  # trusted | rejected
    fingerprint: str  # SHA-256, hex
    subject: str
    application_uri: str
    not_after: datetime
    path: Path


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def first_certificate(der: bytes) -> x509.Certificate:
    """Servers may send their certificate followed by its chain: take the leading DER SEQUENCE."""
    length = int.from_bytes(der[2:4], "big") + 4 if len(der) > 4 and der[1] == 0x82 else len(der)
    return x509.load_der_x509_certificate(der[:length])


def _info(status: str, path: Path) -> CertInfo:
    cert = x509.load_der_x509_certificate(path.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    return CertInfo(status, fingerprint(cert), cert.subject.rfc4514_string(), uris[0] if uris else "",
                    cert.not_valid_after_utc, path)


class TrustList:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.own, self.trusted, self.rejected = (self.root / d for d in ("own", "trusted", "rejected"))

    async def own_certificate(self, application_uri: str, name: str) -> tuple[Path, Path]:
        """The agent's certificate and key, generated on first use (RSA 2048, one year, SAN = URI + host)."""
        self.own.mkdir(parents=True, exist_ok=True)
        key, cert = self.own / "key.pem", self.own / "cert.der"
        await setup_self_signed_certificate(
            key, cert, application_uri, socket.gethostname(), [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": name, "organizationName": "factory-twin"})
        os.chmod(key, 0o600)
        return cert, key

    def check(self, der: bytes, endpoint: str) -> x509.Certificate:
        """The server certificate if trusted; otherwise it is kept in rejected/ and UntrustedCertificate raised."""
        cert = first_certificate(der)
        fp = fingerprint(cert)
        if (self.trusted / f"{fp}.der").exists():
            return cert
        self.rejected.mkdir(parents=True, exist_ok=True)
        (self.rejected / f"{fp}.der").write_bytes(cert.public_bytes(Encoding.DER))
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        raise UntrustedCertificate(
            f"server certificate of {endpoint} is not trusted: "
            f"{str(cn[0].value) if cn else cert.subject.rfc4514_string()}"
            f", SHA-256 {fp}; it was kept in {self.rejected}; inspect it with `factory-twin edge certs list` and "
            f"accept it with `factory-twin edge certs trust {fp[:16]}`", fp)

    async def validate(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        """asyncua's certificate_validator hook: also refuses a server that changed its certificate."""
        self.check(cert.public_bytes(Encoding.DER), app.ApplicationUri or "the server")

    def entries(self) -> list[CertInfo]:
        found = [_info(status, p) for status, folder in (("trusted", self.trusted), ("rejected", self.rejected))
                 if folder.is_dir() for p in sorted(folder.glob("*.der"))]
        return found

    def trust(self, prefix: str) -> CertInfo:
        """Move the one rejected certificate whose fingerprint starts with `prefix` to the trust list."""
        prefix = prefix.lower().replace(":", "")
        matches = [e for e in self.entries() if e.fingerprint.startswith(prefix)]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} certificates in {self.root} match {prefix!r}; give more digits"
                              if matches else f"no certificate in {self.root} matches {prefix!r}")
        entry = matches[0]
        if entry.status == "trusted":
            return entry
        self.trusted.mkdir(parents=True, exist_ok=True)
        target = self.trusted / entry.path.name
        shutil.move(entry.path, target)
        return _info("trusted", target)

    def add(self, der: bytes) -> CertInfo:
        """Trust a certificate file handed over out of band (e.g. exported from the PLC's web page)."""
        cert = first_certificate(der)
        self.trusted.mkdir(parents=True, exist_ok=True)
        target = self.trusted / f"{fingerprint(cert)}.der"
        target.write_bytes(cert.public_bytes(Encoding.DER))
        (self.rejected / target.name).unlink(missing_ok=True)
        return _info("trusted", target)
