"""Certificate files: make a self-signed pair, read and describe a PEM chain, check that a
key belongs to a certificate, write key material 0600 atomically. Synchronous and free of
policy; ``manager.py`` decides which pair is served."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SELF_SIGNED_DAYS = 825


class CertError(Exception):
    """A certificate or key that cannot be used; the message names the file."""


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    not_before: int
    not_after: int
    names: frozenset[str]  # DNS names and IP addresses from subjectAltName

    def as_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before,
            "not_after": self.not_after,
        }


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory (created with
    ``mode`` before any byte is written), fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _san(names: Iterable[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    seen: set[str] = set()
    for name in names:
        name = name.strip().lower().rstrip(".")
        if not name or name in seen:
            continue
        seen.add(name)
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def make_self_signed(
    names: Iterable[str], now: dt.datetime | None = None, days: int = SELF_SIGNED_DAYS
) -> tuple[bytes, bytes]:
    """A fresh P-256 key and a self-signed certificate for ``names`` (DNS names and IPs):
    (certificate PEM, key PEM)."""
    now = now or dt.datetime.now(dt.UTC)
    key = new_key()
    san = _san(names)
    first = next((str(g.value) for g in san), "wgpilot")
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wgpilot"),
            x509.NameAttribute(NameOID.COMMON_NAME, first[:64]),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem(key)


def describe(cert_pem: bytes) -> CertInfo:
    """Subject, issuer, validity and names of the first (leaf) certificate in a PEM chain."""
    try:
        cert = x509.load_pem_x509_certificates(cert_pem)[0]
    except (ValueError, IndexError) as exc:
        raise CertError(f"not a PEM certificate: {exc}") from None
    names: set[str] = set()
    with contextlib.suppress(x509.ExtensionNotFound):
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names.update(san.get_values_for_type(x509.DNSName))
        names.update(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=int(cert.not_valid_before_utc.timestamp()),
        not_after=int(cert.not_valid_after_utc.timestamp()),
        names=frozenset(n.lower() for n in names),
    )


def check_pair(cert_file: Path, key_file: Path, *, cert_key: str = "", key_key: str = "") -> CertInfo:
    """Load ``cert_file``/``key_file`` into a scratch SSL context (so a bad pair never
    touches the live one) and describe the certificate. Errors name the file and, when
    given, the config key it came from."""

    def label(path: Path, key: str) -> str:
        return f"{key} ({path})" if key else str(path)

    for path, key in ((cert_file, cert_key), (key_file, key_key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise CertError(f"{label(path, key)}: cannot read: {exc.strerror}") from None
    try:
        info = describe(cert_file.read_bytes())
    except CertError as exc:
        raise CertError(f"{label(cert_file, cert_key)}: {exc}") from None
    scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        scratch.load_cert_chain(str(cert_file), str(key_file))
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if "KEY_VALUES_MISMATCH" in str(exc).upper():
            raise CertError(
                f"{label(key_file, key_key)} does not belong to the certificate in {label(cert_file, cert_key)}"
            ) from None
        raise CertError(
            f"{label(cert_file, cert_key)} / {label(key_file, key_key)}: cannot be loaded: {reason}"
        ) from None
    return info
