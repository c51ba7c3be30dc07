"""Which certificate the HTTPS server presents, and keeping it fresh.

``TlsManager.prepare()`` returns ONE ``ssl.SSLContext`` for the lifetime of the process;
a new certificate is put in place by calling ``load_cert_chain`` on that same context,
so new handshakes get it without a restart (OpenSSL copies the certificate into each
connection when it is created). A pair is always tried on a scratch context first, so a
bad file never leaves the live context half-loaded.

Modes (``tls.mode``):
- ``self-signed``: ``<data_dir>/certs/selfsigned.pem`` (key + certificate, 0600),
  made on first start and re-made when a wanted name is missing or expiry is near;
- ``manual``: ``tls.cert_file`` + ``tls.key_file``, re-read when they change on disk;
- ``acme``: ``<data_dir>/certs/acme.pem`` from the ACME server; until there is one, or
  when it has expired and renewal fails, the self-signed pair is served and
  ``status()`` says ``fallback: true`` with the error.

``run()`` is the one background task: the port-80 listener (HTTP-01 + redirect) and the
renewal loop (ACME: 30 days before expiry).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import http.client
import logging
import os
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wgpilot.config import Settings
from wgpilot.domain.validate import ascii_int
from wgpilot.tls import acme_client, certs
from wgpilot.tls.acme_client import AcmeConfig, AcmeError, ChallengeStore
from wgpilot.tls.http01 import CHALLENGE_PREFIX, HttpServer

log = logging.getLogger(__name__)

SELF_SIGNED = "selfsigned.pem"
ACME_CERT = "acme.pem"
RENEW_BEFORE = dt.timedelta(days=30)
Issuer = Callable[[AcmeConfig, str, bytes, ChallengeStore], bytes]


class TlsError(Exception):
    """The configured certificate cannot be used; the message names the setting."""


class SettingsStore(Protocol):
    """Read access to the ``settings`` table (``hostname``, ``public_ip``)."""

    async def get(self, key: str) -> str | None: ...


class NoSettings:
    async def get(self, key: str) -> str | None:
        return None


class DbSettingsStore:
    """``SettingsStore`` over the database: ``DbSettingsStore(ctx.db, ctx.settings)``."""

    def __init__(self, conn: object, repo: object) -> None:
        self._conn = conn
        self._repo = repo

    async def get(self, key: str) -> str | None:
        value: str | None = await self._repo.get(self._conn, key)  # type: ignore[attr-defined]
        return value


def server_context() -> ssl.SSLContext:
    """A server context: TLS 1.2+ with forward-secret AEAD suites only, HTTP/1.1 ALPN."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")  # TLS 1.2 list; 1.3 suites are all AEAD
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _listen_parts(listen: str) -> tuple[str | None, int]:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    return (host or None), (ascii_int(port, max_digits=5) or 443)


@dataclass(frozen=True)
class Active:
    source: str  # "self-signed" | "acme" | "manual"
    cert_file: Path
    key_file: Path
    info: certs.CertInfo
    mtimes: tuple[float, float]


class TlsManager:
    def __init__(
        self,
        settings: Settings,
        store: SettingsStore | None = None,
        *,
        clock: Callable[[], float] = time.time,
        machine_hostname: Callable[[], str] = socket.gethostname,
        issuer: Issuer = acme_client.issue,
    ) -> None:
        self.settings = settings
        self.store: SettingsStore = store or NoSettings()
        self.mode: str = settings["tls.mode"]
        self.certs_dir = settings.data_dir / "certs"
        self.clock = clock
        self.machine_hostname = machine_hostname
        self.issuer = issuer
        self.renew_before = RENEW_BEFORE
        self.check_interval = 3600.0  # seconds between renewal checks when all is well
        self.retry_min, self.retry_max = 300.0, 6 * 3600.0
        self.http_host, self.https_port = _listen_parts(settings["listen"])
        self.http_port: int = settings["tls.http_port"]
        self.acme = AcmeConfig(
            directory=settings["tls.acme_directory"],
            ca_bundle=settings["tls.acme_ca_bundle"],
            email=settings["tls.acme_email"],
            certs_dir=self.certs_dir,
        )
        self.challenges = ChallengeStore()
        self.http: HttpServer | None = None
        self.http_error: str | None = None
        self.context: ssl.SSLContext | None = None
        self.active: Active | None = None
        self.fallback = False
        self.error: str | None = None
        self.hostname = ""  # the settings table's hostname, cached for status()
        self._public_ip = ""
        self._lock = asyncio.Lock()
        self.resolve: Callable[[str], str] = lambda name: str(socket.getaddrinfo(name, None)[0][4][0])

    # -- public API ----------------------------------------------------------------
    @property
    def domain(self) -> str:
        return str(self.settings["tls.domain"] or self.hostname)

    async def prepare(self) -> ssl.SSLContext:
        """The server context, loaded with the best certificate available now (no network)."""
        if self.context is None:
            self.context = server_context()
        self.certs_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.certs_dir, 0o700)
        async with self._lock:
            await self._read_settings()
            if self.mode == "manual":
                self._load_manual(initial=True)
            elif self.mode == "acme":
                if not self._load_stored_acme():
                    await self._load_self_signed()
                    self.fallback = True
                    self.error = self.error or f"no ACME certificate for {self.domain} yet; requesting one"
            else:
                await self._load_self_signed()
        return self.context

    def status(self) -> dict[str, object]:
        """For ``GET /api/settings/tls``."""
        info = self.active.info if self.active else None
        error = self.error
        if self.http_error and self.mode == "acme":
            error = f"{error}; {self.http_error}" if error else self.http_error
        return {
            "mode": self.mode,
            "domain": self.domain,
            "issuer": info.issuer if info else None,
            "subject": info.subject if info else None,
            "not_before": info.not_before if info else None,
            "not_after": info.not_after if info else None,
            "fallback": self.fallback,
            "error": error,
        }

    async def test(self) -> dict[str, object]:
        """Dry run for ``POST /api/settings/tls/test``: changes nothing that is served."""
        try:
            if self.mode == "manual":
                info = self._check_manual()
                return {
                    "ok": True,
                    "message": f"{self.settings['tls.cert_file']} is usable{self._expiry(info)}",
                }
            if self.mode == "self-signed":
                info = certs.describe((self.certs_dir / SELF_SIGNED).read_bytes())
                return {"ok": True, "message": f"self-signed certificate for {', '.join(sorted(info.names))}"}
            return {"ok": True, "message": await self._test_acme()}
        except (TlsError, AcmeError, certs.CertError, OSError) as exc:
            return {"ok": False, "message": str(exc)}

    async def refresh(self, *, force: bool = False) -> bool:
        """One renewal pass; True when the served certificate is what the mode wants."""
        async with self._lock:
            await self._read_settings()
            if self.mode == "manual":
                return self._load_manual(initial=False)
            if self.mode == "self-signed":
                await self._load_self_signed()
                return True
            return await self._renew_acme(force=force)

    async def run(self) -> None:
        """Background task: the port-80 listener plus the renewal loop. Never returns
        until cancelled (the daemon treats a finished task as a failure)."""
        await self.start_http()
        delay = self.retry_min
        try:
            while True:
                try:
                    ok = await self.refresh()
                except Exception:
                    log.exception("certificate refresh failed")
                    ok = False
                if ok:
                    delay = self.retry_min
                    await asyncio.sleep(self.check_interval)
                else:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max)
        finally:
            await self.stop_http()

    async def start_http(self) -> None:
        """Bind the port-80 listener (HTTP-01 + redirect). A failure is logged and shown in
        ``status()``; HTTPS keeps working."""
        if self.http_port == 0 or self.http is not None:
            return
        server = HttpServer(self.challenges, lambda: self.https_port, lambda: self.domain or "localhost")
        try:
            await server.start(self.http_host, self.http_port)
        except OSError as exc:
            self.http_error = f"cannot listen on port {self.http_port} for ACME HTTP-01: {exc.strerror}"
            log.error("port-80 listener failed", extra={"port": self.http_port, "error": exc.strerror})
            return
        self.http, self.http_error = server, None

    async def stop_http(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    # -- internals -----------------------------------------------------------------
    async def _read_settings(self) -> None:
        self.hostname = (await self.store.get("hostname")) or ""
        self._public_ip = (await self.store.get("public_ip")) or ""

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def _expiry(self, info: certs.CertInfo) -> str:
        left = info.not_after - self.clock()
        if left <= 0:
            return ", but it has EXPIRED"
        return f", valid for {int(left // 86400)} more days"

    def _install(self, source: str, cert_file: Path, key_file: Path, info: certs.CertInfo) -> None:
        assert self.context is not None
        self.context.load_cert_chain(str(cert_file), str(key_file))
        mtimes = (cert_file.stat().st_mtime, key_file.stat().st_mtime)
        self.active = Active(source, cert_file, key_file, info, mtimes)
        log.info(
            "certificate loaded",
            extra={
                "source": source,
                "subject": info.subject,
                "issuer": info.issuer,
                "not_after": info.not_after,
            },
        )

    def _wanted_names(self) -> list[str]:
        names = [self.settings["tls.domain"], self.hostname, self._public_ip]
        names += ["localhost", "127.0.0.1", "::1", self.machine_hostname()]
        return [n for n in names if n]

    async def _load_self_signed(self) -> None:
        path = self.certs_dir / SELF_SIGNED
        wanted = {n.lower() for n in self._wanted_names()}
        info: certs.CertInfo | None = None
        if path.exists():
            try:
                info = certs.check_pair(path, path)
            except certs.CertError as exc:
                log.warning("self-signed certificate unusable; making a new one", extra={"error": str(exc)})
        if (
            info is None
            or not wanted <= info.names
            or info.not_after - self.clock() < RENEW_BEFORE.total_seconds()
        ):
            cert_pem, key_pem = await asyncio.to_thread(
                certs.make_self_signed, self._wanted_names(), self._now()
            )
            certs.atomic_write(path, key_pem + cert_pem)
            info = certs.describe(cert_pem)
        if self.active is None or self.active.cert_file != path or self.active.info != info:
            self._install("self-signed", path, path, info)

    def _check_manual(self) -> certs.CertInfo:
        try:
            return certs.check_pair(
                Path(self.settings["tls.cert_file"]),
                Path(self.settings["tls.key_file"]),
                cert_key="tls.cert_file",
                key_key="tls.key_file",
            )
        except certs.CertError as exc:
            raise TlsError(str(exc)) from None

    def _load_manual(self, *, initial: bool) -> bool:
        cert_file, key_file = Path(self.settings["tls.cert_file"]), Path(self.settings["tls.key_file"])
        if not initial and self.active is not None:
            with contextlib.suppress(OSError):
                if (cert_file.stat().st_mtime, key_file.stat().st_mtime) == self.active.mtimes:
                    return True
        try:
            info = self._check_manual()
        except TlsError as exc:
            if initial:
                raise
            self.error = f"{exc}; still serving the certificate loaded before"
            log.error("manual certificate reload failed", extra={"error": str(exc)})
            return False
        self._install("manual", cert_file, key_file, info)
        self.error = None
        if info.not_after <= self.clock():
            self.error = f"tls.cert_file ({cert_file}) has expired"
        return True

    def _stored_acme(self) -> certs.CertInfo | None:
        path = self.certs_dir / ACME_CERT
        if not path.exists():
            return None
        try:
            info = certs.check_pair(path, path)
        except certs.CertError as exc:
            log.warning("stored ACME certificate unusable", extra={"error": str(exc)})
            return None
        return info if self.domain.lower() in info.names else None

    def _load_stored_acme(self) -> bool:
        info = self._stored_acme()
        if info is None or info.not_after <= self.clock():
            return False
        path = self.certs_dir / ACME_CERT
        if self.active is None or self.active.cert_file != path or self.active.info != info:
            self._install("acme", path, path, info)
        self.fallback = False
        return True

    async def _renew_acme(self, *, force: bool) -> bool:
        info = self._stored_acme()
        due = force or info is None or info.not_after - self.clock() <= self.renew_before.total_seconds()
        if not due:
            self._load_stored_acme()
            self.error = None
            return True
        if not self.domain:
            self.error = "tls.mode is acme but no domain is set (tls.domain)"
            return False
        key_pem = certs.key_pem(certs.new_key())
        try:
            if self.http is None:
                raise AcmeError(self.http_error or "the port-80 listener is not running (tls.http_port = 0)")
            chain = await asyncio.to_thread(self.issuer, self.acme, self.domain, key_pem, self.challenges)
            new = certs.describe(chain)
        except (AcmeError, certs.CertError) as exc:
            self.error = str(exc)
            log.error("ACME certificate request failed", extra={"domain": self.domain, "error": str(exc)})
            if not self._load_stored_acme():  # nothing valid from ACME left: serve self-signed
                await self._load_self_signed()
                self.fallback = True
            return False
        certs.atomic_write(self.certs_dir / ACME_CERT, key_pem + chain)
        path = self.certs_dir / ACME_CERT
        self._install("acme", path, path, new)
        self.fallback, self.error = False, None
        return True

    async def _test_acme(self) -> str:
        if not self.domain:
            raise TlsError("tls.mode is acme but no domain is set (tls.domain)")
        await asyncio.to_thread(acme_client.probe_directory, self.acme)
        if self.http is None:
            raise TlsError(self.http_error or "the port-80 listener is not running (tls.http_port = 0)")
        token = secrets.token_urlsafe(24)
        expected = secrets.token_urlsafe(24)
        self.challenges.put(token, expected)
        try:
            body = await asyncio.to_thread(self._fetch_challenge, token)
        finally:
            self.challenges.remove(token)
        if body != expected:
            raise TlsError(
                f"http://{self.domain}{CHALLENGE_PREFIX}… is answered by something other than this "
                "server: point the name's DNS at this host and forward port 80 here"
            )
        return (
            f"ACME directory {self.acme.directory} reachable; http://{self.domain}:{self.http_port}"
            f"{CHALLENGE_PREFIX} is answered by this server"
        )

    def _fetch_challenge(self, token: str) -> str:
        try:
            address = self.resolve(self.domain)
        except OSError as exc:
            raise TlsError(f"{self.domain} does not resolve: {exc}") from None
        conn = http.client.HTTPConnection(address, self.http_port, timeout=10)
        try:
            conn.request("GET", CHALLENGE_PREFIX + token, headers={"Host": self.domain})
            resp = conn.getresponse()
            return resp.read(4096).decode("latin-1") if resp.status == 200 else ""
        except OSError as exc:
            raise TlsError(f"cannot reach http://{self.domain}:{self.http_port} ({address}): {exc}") from None
        finally:
            conn.close()
