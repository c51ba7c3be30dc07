from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from tests.unit.tls.helpers import DictStore, peer_cert, settings, tls_server
from wgpilot.tls import certs
from wgpilot.tls.acme_client import AcmeConfig, AcmeError, ChallengeStore
from wgpilot.tls.manager import TlsError, TlsManager


def _cn(cert: object) -> str:
    from cryptography.x509.oid import NameOID

    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)  # type: ignore[attr-defined]


async def test_self_signed_made_once_with_sans(tmp_path: Path) -> None:
    s = settings(tmp_path)
    store = DictStore(hostname="vpn.example.org", public_ip="203.0.113.7")
    tm = TlsManager(s, store, machine_hostname=lambda: "box")
    ctx = await tm.prepare()
    pem = tmp_path / "data" / "certs" / "selfsigned.pem"
    assert pem.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "data" / "certs").stat().st_mode & 0o777 == 0o700
    info = certs.describe(pem.read_bytes())
    assert {"vpn.example.org", "203.0.113.7", "localhost", "127.0.0.1", "::1", "box"} <= info.names
    st = tm.status()
    assert st["mode"] == "self-signed" and st["fallback"] is False and st["error"] is None
    assert st["domain"] == "vpn.example.org" and st["not_after"] == info.not_after
    before = pem.read_bytes()
    tm2 = TlsManager(s, store, machine_hostname=lambda: "box")
    await tm2.prepare()
    assert pem.read_bytes() == before  # reused, not regenerated
    async with tls_server(ctx) as port:
        leaf = await peer_cert(port)
    assert _cn(leaf) == "vpn.example.org"
    assert (await tm.test())["ok"] is True


async def test_new_hostname_regenerates_and_swaps_live(tmp_path: Path) -> None:
    store = DictStore()
    tm = TlsManager(settings(tmp_path), store, machine_hostname=lambda: "box")
    ctx = await tm.prepare()
    async with tls_server(ctx) as port:
        first = await peer_cert(port)
        store.values["hostname"] = "new.example.org"
        assert await tm.refresh() is True
        second = await peer_cert(port)  # same server, same context object, new handshake
    assert first.serial_number != second.serial_number
    assert "new.example.org" in certs.describe((tmp_path / "data/certs/selfsigned.pem").read_bytes()).names


def _write_pair(dir: Path, name: str) -> tuple[Path, Path]:
    cert_pem, key_pem = certs.make_self_signed([name])
    c, k = dir / f"{name}.crt", dir / f"{name}.key"
    c.write_bytes(cert_pem)
    k.write_bytes(key_pem)
    return c, k


async def test_manual_mode_errors_name_the_key(tmp_path: Path) -> None:
    c1, k1 = _write_pair(tmp_path, "one.example")
    _c2, k2 = _write_pair(tmp_path, "two.example")
    tm = TlsManager(settings(tmp_path, tls__mode="manual", tls__cert_file=str(c1), tls__key_file=str(k2)))
    with pytest.raises(TlsError, match=r"tls.key_file .* does not belong"):
        await tm.prepare()
    tm = TlsManager(
        settings(tmp_path, tls__mode="manual", tls__cert_file=str(tmp_path / "nope"), tls__key_file=str(k1))
    )
    with pytest.raises(TlsError, match=r"tls.cert_file \(.*nope\): cannot read"):
        await tm.prepare()
    assert (await tm.test())["ok"] is False


async def test_manual_mode_reloads_changed_files(tmp_path: Path) -> None:
    c1, k1 = _write_pair(tmp_path, "one.example")
    tm = TlsManager(settings(tmp_path, tls__mode="manual", tls__cert_file=str(c1), tls__key_file=str(k1)))
    ctx = await tm.prepare()
    async with tls_server(ctx) as port:
        assert _cn(await peer_cert(port)) == "one.example"
        # A broken replacement keeps the old pair in service and says why.
        _c2, k2 = _write_pair(tmp_path, "two.example")
        k1.write_bytes(k2.read_bytes())
        assert await tm.refresh() is False
        assert "does not belong" in str(tm.status()["error"])
        assert _cn(await peer_cert(port)) == "one.example"
        c3, k3 = _write_pair(tmp_path, "three.example")
        c1.write_bytes(c3.read_bytes())
        k1.write_bytes(k3.read_bytes())
        assert await tm.refresh() is True
        assert _cn(await peer_cert(port)) == "three.example"
    assert tm.status()["error"] is None
    assert (await tm.test())["ok"] is True


class FakeIssuer:
    """Stands in for the ACME server: issues a certificate valid for ``days``, or fails."""

    def __init__(self) -> None:
        self.fail: str | None = None
        self.days = 90
        self.calls = 0

    def __call__(self, cfg: AcmeConfig, domain: str, key_pem: bytes, store: ChallengeStore) -> bytes:
        self.calls += 1
        if self.fail:
            raise AcmeError(self.fail)
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import NameOID

        key = serialization.load_pem_private_key(key_pem, None)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake CA")])
        ca_pem, ca_key_pem = certs.make_self_signed(["fake-ca"])
        ca_key = serialization.load_pem_private_key(ca_key_pem, None)
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer)
            .public_key(key.public_key())  # type: ignore[union-attr,arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=self.days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        return cert.public_bytes(serialization.Encoding.PEM) + ca_pem


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_acme_issue_renew_and_fallback(tmp_path: Path) -> None:
    issuer, clock = FakeIssuer(), Clock()
    s = settings(tmp_path, tls__mode="acme", tls__domain="vpn.example.org")
    tm = TlsManager(s, issuer=issuer, clock=clock)
    ctx = await tm.prepare()
    assert tm.status()["fallback"] is True  # nothing issued yet: self-signed meanwhile
    tm.http = object()  # type: ignore[assignment]  # port 80 "listening" (not needed by the fake)
    async with tls_server(ctx) as port:
        assert await tm.refresh() is True
        assert issuer.calls == 1
        leaf = await peer_cert(port)
        assert leaf.issuer.rfc4514_string() == "CN=Fake CA"
        st = tm.status()
        assert st["fallback"] is False and st["error"] is None and st["issuer"] == "CN=Fake CA"
        # not due yet: no new order
        assert await tm.refresh() is True and issuer.calls == 1
        # 31 days before expiry: not due; 29 days: renewed
        clock.now = float(st["not_after"]) - 31 * 86400  # type: ignore[arg-type]
        assert await tm.refresh() is True and issuer.calls == 1
        clock.now = float(st["not_after"]) - 29 * 86400  # type: ignore[arg-type]
        assert await tm.refresh() is True and issuer.calls == 2
        assert (await peer_cert(port)).serial_number != leaf.serial_number
        # a failed renewal while the certificate is still valid keeps serving it
        issuer.fail = "ACME server down"
        clock.now = float(tm.status()["not_after"]) - 10 * 86400  # type: ignore[arg-type]
        assert await tm.refresh() is False
        assert tm.status()["fallback"] is False and tm.status()["error"] == "ACME server down"
        assert (await peer_cert(port)).issuer.rfc4514_string() == "CN=Fake CA"
        # ...and once it has expired, self-signed takes over, visibly
        clock.now = float(tm.status()["not_after"]) + 1  # type: ignore[arg-type]
        assert await tm.refresh() is False
        assert tm.status()["fallback"] is True and tm.status()["error"] == "ACME server down"
        assert (await peer_cert(port)).issuer.rfc4514_string() != "CN=Fake CA"


async def test_acme_restart_reuses_stored_certificate(tmp_path: Path) -> None:
    issuer = FakeIssuer()
    s = settings(tmp_path, tls__mode="acme", tls__domain="vpn.example.org")
    tm = TlsManager(s, issuer=issuer)
    await tm.prepare()
    tm.http = object()  # type: ignore[assignment]
    await tm.refresh()
    again = TlsManager(s, issuer=issuer)
    await again.prepare()
    assert again.status()["fallback"] is False and again.status()["issuer"] == "CN=Fake CA"
    other = TlsManager(settings(tmp_path, tls__mode="acme", tls__domain="other.example.org"), issuer=issuer)
    await other.prepare()
    assert other.status()["fallback"] is True  # stored certificate is for another name


async def test_acme_without_port80_falls_back_with_reason(tmp_path: Path) -> None:
    tm = TlsManager(settings(tmp_path, tls__mode="acme", tls__domain="vpn.example.org"), issuer=FakeIssuer())
    await tm.prepare()
    assert await tm.refresh() is False
    st = tm.status()
    assert st["fallback"] is True and "port-80 listener is not running" in str(st["error"])


async def test_acme_dry_run_reports_unreachable_directory(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        tls__mode="acme",
        tls__domain="vpn.example.org",
        tls__acme_directory="https://127.0.0.1:9/dir",
    )
    tm = TlsManager(s)
    await tm.prepare()
    result = await tm.test()
    assert result["ok"] is False and "cannot reach the ACME directory https://127.0.0.1:9/dir" in str(
        result["message"]
    )
