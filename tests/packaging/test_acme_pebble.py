"""ACME end to end against Debian's pebble: a throw-away CA for pebble's own HTTPS,
pebble-challtestsrv answering every name with 127.0.0.1, wgpilot's HTTP-01 listener on
a loopback port that pebble's validator is told to use. Obtain, serve, renew, fall back."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.unit.tls.helpers import peer_cert, settings, tls_server
from wgpilot.tls.manager import TlsManager

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(
        not (shutil.which("pebble") and shutil.which("pebble-challtestsrv")),
        reason="needs Debian's pebble package (apt-get install pebble)",
    ),
]

DOMAIN = "wgpilot-test.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_ca(dir: Path) -> tuple[Path, Path, Path]:
    """A throw-away root and a leaf for 127.0.0.1/localhost: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wgpilot test root")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = dir / "ca.pem", dir / "cert.pem", dir / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class Pebble:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ca, cert, key = make_ca(tmp)
        self.port, self.mgmt, self.http01 = free_port(), free_port(), free_port()
        self.dns, self.dns_mgmt = free_port(), free_port()
        self.config = tmp / "pebble.json"
        self.config.write_text(
            json.dumps(
                {
                    "pebble": {
                        "listenAddress": f"127.0.0.1:{self.port}",
                        "managementListenAddress": f"127.0.0.1:{self.mgmt}",
                        "certificate": str(cert),
                        "privateKey": str(key),
                        "httpPort": self.http01,
                        "tlsPort": free_port(),
                        "ocspResponderURL": "",
                        "externalAccountBindingRequired": False,
                    }
                }
            )
        )
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def start(self) -> None:
        log = self.log = open(self.tmp / "pebble.log", "ab")
        self.procs.append(
            subprocess.Popen(
                [
                    "pebble-challtestsrv",
                    "-defaultIPv4",
                    "127.0.0.1",
                    "-defaultIPv6",
                    "",
                    "-dns01",
                    f"127.0.0.1:{self.dns}",
                    "-http01",
                    "",
                    "-https01",
                    "",
                    "-tlsalpn01",
                    "",
                    "-management",
                    f"127.0.0.1:{self.dns_mgmt}",
                ],
                stdout=log,
                stderr=log,
            )
        )
        self.procs.append(
            subprocess.Popen(
                ["pebble", "-config", str(self.config), "-dnsserver", f"127.0.0.1:{self.dns}"],
                stdout=log,
                stderr=log,
                env={
                    "PEBBLE_VA_NOSLEEP": "1",
                    "PEBBLE_WFE_NONCEREJECT": "0",
                    "PEBBLE_AUTHZREUSE": "0",
                    "PATH": "/usr/bin:/bin",
                },
            )
        )
        ctx = ssl.create_default_context(cafile=str(self.ca))
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(self.directory, context=ctx, timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "pebble did not start: " + (self.tmp / "pebble.log").read_text()
                    ) from None
                time.sleep(0.1)

    def roots(self) -> Path:
        """Pebble's issuing root (made fresh at every pebble start)."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        with urllib.request.urlopen(f"https://127.0.0.1:{self.mgmt}/roots/0", context=ctx, timeout=5) as r:
            path = self.tmp / "pebble-root.pem"
            path.write_bytes(r.read())
        return path

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()
        self.log.close()


@contextlib.contextmanager
def running_pebble(tmp: Path) -> Iterator[Pebble]:
    pebble = Pebble(tmp)
    try:
        pebble.start()
        yield pebble
    finally:
        pebble.stop()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_acme_against_pebble(tmp_path: Path) -> None:
    with running_pebble(tmp_path) as pebble:
        s = settings(
            tmp_path,
            listen="127.0.0.1:8443",
            tls__mode="acme",
            tls__domain=DOMAIN,
            tls__acme_directory=pebble.directory,
            tls__acme_ca_bundle=str(pebble.ca),
            tls__http_port=pebble.http01,
        )
        clock = Clock()
        tm = TlsManager(s, clock=clock)
        tm.resolve = lambda name: "127.0.0.1"  # our resolver does not know the test name; pebble's does
        ctx = await tm.prepare()
        await tm.start_http()
        try:
            assert tm.status()["fallback"] is True
            dry = await tm.test()
            assert dry["ok"] is True, dry
            started = time.monotonic()
            assert await tm.refresh() is True, tm.status()
            print(f"\nACME issuance against pebble: {time.monotonic() - started:.2f} s")
            st = tm.status()
            assert st["fallback"] is False and st["error"] is None
            assert "Pebble Intermediate" in str(st["issuer"])
            assert (tmp_path / "data/certs/acme-account.key").stat().st_mode & 0o777 == 0o600
            root = pebble.roots()
            async with tls_server(ctx) as port:
                # full verification of the served chain against pebble's root, by name
                leaf = await peer_cert(port, cafile=str(root), server_name=DOMAIN)
                assert "Pebble Intermediate" in leaf.issuer.rfc4514_string()

                # renewal: told that expiry is 29 days away, a new certificate is obtained
                clock.now = float(st["not_after"]) - 29 * 86400  # type: ignore[arg-type]
                assert await tm.refresh() is True, tm.status()["error"]
                renewed = await peer_cert(port, cafile=str(root), server_name=DOMAIN)
                assert renewed.serial_number != leaf.serial_number
        finally:
            await tm.stop_http()

    # pebble stopped: a fresh install cannot get a certificate and serves self-signed, visibly
    s2 = settings(
        tmp_path / "second",
        tls__mode="acme",
        tls__domain=DOMAIN,
        tls__acme_directory=pebble.directory,
        tls__acme_ca_bundle=str(pebble.ca),
        tls__http_port=free_port(),
    )
    down = TlsManager(s2)
    ctx2 = await down.prepare()
    await down.start_http()
    try:
        assert await down.refresh() is False
        st = down.status()
        assert st["fallback"] is True
        assert "reading the directory" in str(st["error"]) and pebble.directory in str(st["error"])
        async with tls_server(ctx2) as port:
            leaf = await peer_cert(port)
        assert leaf.issuer == leaf.subject  # self-signed
        assert (await down.test())["ok"] is False
    finally:
        await down.stop_http()
    # ...and the first install, whose certificate is still valid, keeps serving it
    tm.clock = time.time
    assert await tm.refresh(force=True) is False
    assert tm.status()["fallback"] is False and "Pebble Intermediate" in str(tm.status()["issuer"])
