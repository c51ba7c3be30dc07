from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509

from wgpilot.tls import certs


def test_self_signed_names_and_validity() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert_pem, key_pem = certs.make_self_signed(
        ["vpn.example.org", "203.0.113.7", "::1", "VPN.example.org."], now
    )
    info = certs.describe(cert_pem)
    assert info.names == {"vpn.example.org", "203.0.113.7", "::1"}
    assert info.not_after - info.not_before > 800 * 86400
    cert = x509.load_pem_x509_certificate(cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("203.0.113.7") in san.get_values_for_type(x509.IPAddress)
    assert b"PRIVATE KEY" in key_pem


def test_atomic_write_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "k.pem"
    certs.atomic_write(path, b"secret")
    assert path.read_bytes() == b"secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["k.pem"]


def test_check_pair_names_the_setting(tmp_path: Path) -> None:
    c1, k1 = certs.make_self_signed(["a.example"])
    _c2, k2 = certs.make_self_signed(["b.example"])
    (tmp_path / "c.pem").write_bytes(c1)
    (tmp_path / "k1.pem").write_bytes(k1)
    (tmp_path / "k2.pem").write_bytes(k2)
    assert "a.example" in certs.check_pair(tmp_path / "c.pem", tmp_path / "k1.pem").names
    with pytest.raises(
        certs.CertError, match=r"tls.key_file .* does not belong to the certificate in tls.cert_file"
    ):
        certs.check_pair(
            tmp_path / "c.pem", tmp_path / "k2.pem", cert_key="tls.cert_file", key_key="tls.key_file"
        )
    with pytest.raises(certs.CertError, match=r"tls.cert_file \(.*missing.pem\): cannot read"):
        certs.check_pair(tmp_path / "missing.pem", tmp_path / "k1.pem", cert_key="tls.cert_file")
    (tmp_path / "junk.pem").write_bytes(b"hello")
    with pytest.raises(certs.CertError, match="not a PEM certificate"):
        certs.check_pair(tmp_path / "junk.pem", tmp_path / "k1.pem")
