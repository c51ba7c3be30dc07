"""Delivering alert notices: e-mail (stdlib ``smtplib``) and webhooks (``urllib``),
both blocking libraries run in a worker thread, behind a dispatcher that retries
with backoff and never lets a failure reach the poller.

Each destination (channel + target) has its own queue and worker: notices to one
destination keep their order (a recovery never overtakes its alert), and a dead
webhook does not delay the e-mails.

After every attempt ``on_attempt(delivery, outcome, error, attempt)`` is awaited
(outcome ``sent``, ``retrying`` or ``failed``): the monitor stores it, so a notice
that does not get through is visible where the rule is, not only in the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

from wgpilot.services.context import Context
from wgpilot.version import info as version_info

log = logging.getLogger(__name__)

BACKOFF = (5.0, 15.0, 60.0, 180.0, 600.0)  # seconds before each retry
TIMEOUT = 20.0
QUEUE_SIZE = 200
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class DeliveryError(Exception):
    """A notice could not be delivered; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    """What a channel sends: a subject and text for people, a document for machines."""

    subject: str
    text: str
    document: dict[str, Any]


class Channel(Protocol):
    name: str

    async def send(self, target: str, message: Message) -> None:
        """Deliver or raise DeliveryError."""
        ...


# -- e-mail -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # starttls | tls | none
    username: str | None
    password: str | None
    sender: str
    default_to: str | None


async def smtp_config(ctx: Context) -> SmtpConfig:
    """SMTP settings as an administrator stored them (read at send time: changes apply
    without a restart)."""
    s = ctx.settings
    host = await s.get(ctx.db, "smtp_host")
    if not host:
        raise DeliveryError("SMTP is not configured (set smtp_host in the settings)", permanent=True)
    security = await s.get(ctx.db, "smtp_security") or "starttls"
    port = await s.get(ctx.db, "smtp_port")
    sender = await s.get(ctx.db, "smtp_from") or f"wgpilot@{socket.gethostname()}"
    return SmtpConfig(
        host=host,
        port=int(port) if port else DEFAULT_PORTS.get(security, 587),
        security=security,
        username=await s.get(ctx.db, "smtp_username") or None,
        password=await s.get_secret(ctx.db, "smtp_password"),
        sender=sender,
        default_to=await s.get(ctx.db, "alert_email") or None,
    )


def _smtp_send(cfg: SmtpConfig, msg: EmailMessage) -> None:
    tls = ssl.create_default_context()
    server: smtplib.SMTP
    if cfg.security == "tls":
        server = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=TIMEOUT, context=tls)
    else:
        server = smtplib.SMTP(cfg.host, cfg.port, timeout=TIMEOUT)
    with server:
        if cfg.security == "starttls":
            server.starttls(context=tls)
        if cfg.username:
            server.login(cfg.username, cfg.password or "")
        server.send_message(msg)


class EmailChannel:
    name = "email"

    def __init__(
        self, ctx: Context, *, send: Callable[[SmtpConfig, EmailMessage], None] = _smtp_send
    ) -> None:
        self.ctx = ctx
        self._send = send

    async def send(self, target: str, message: Message) -> None:
        cfg = await smtp_config(self.ctx)
        to = target or cfg.default_to
        if not to:
            raise DeliveryError(
                "no recipient: the alert has no target and alert_email is not set", permanent=True
            )
        msg = EmailMessage()
        msg["Subject"] = message.subject
        msg["From"] = cfg.sender
        msg["To"] = to
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain=cfg.sender.rpartition("@")[2] or None)
        msg.set_content(message.text)
        try:
            await asyncio.to_thread(self._send, cfg, msg)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP server answered {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP delivery to {cfg.host}:{cfg.port} failed: {exc}") from exc


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


# -- webhook ------------------------------------------------------------------------------------
def _http_post(url: str, body: bytes) -> int:
    req = urllib.request.Request(  # noqa: S310 - the URL was validated as http(s) when the rule was saved
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"wgpilot/{version_info()['version']}"},
    )
    with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:  # noqa: S310
        return int(resp.status)


class WebhookChannel:
    name = "webhook"

    def __init__(self, *, post: Callable[[str, bytes], int] = _http_post) -> None:
        self._post = post

    async def send(self, target: str, message: Message) -> None:
        if urllib.parse.urlsplit(target).scheme not in ("http", "https"):
            raise DeliveryError(f"not an http(s) URL: {target!r}", permanent=True)
        body = json.dumps(message.document, separators=(",", ":"), default=str).encode()
        try:
            status = await asyncio.to_thread(self._post, target, body)
        except urllib.error.HTTPError as exc:
            # 4xx other than timeout/rate limit: the receiver will not accept this retried either.
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise DeliveryError(f"webhook answered HTTP {exc.code}", permanent=permanent) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"webhook unreachable: {getattr(exc, 'reason', exc)}") from exc
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook answered HTTP {status}")


# -- dispatcher ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    channel: str
    target: str
    message: Message
    context: dict[str, Any]  # for log lines: alert id, type, status


class Dispatcher:
    def __init__(
        self,
        channels: dict[str, Channel],
        *,
        backoff: tuple[float, ...] = BACKOFF,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        on_result: Callable[[str, str], None] | None = None,
        on_attempt: Callable[[Delivery, str, str | None, int], Awaitable[None]] | None = None,
    ) -> None:
        self.channels = channels
        self.backoff = backoff
        self._sleep = sleep
        self._on_result = on_result  # (channel, "sent" | "retry" | "failed")
        self._on_attempt = on_attempt
        self._queues: dict[tuple[str, str], asyncio.Queue[Delivery]] = {}
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.sent = 0
        self.failed = 0

    def submit(self, delivery: Delivery) -> None:
        """Queue a notice; never blocks and never raises."""
        key = (delivery.channel, delivery.target)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue(maxsize=QUEUE_SIZE)
        try:
            queue.put_nowait(delivery)
        except asyncio.QueueFull:
            log.error(
                "alert notice dropped: delivery queue full", extra={**delivery.context, "channel": key[0]}
            )
            self._count(delivery.channel, "failed")
            return
        worker = self._workers.get(key)
        if worker is None or worker.done():
            self._workers[key] = asyncio.get_running_loop().create_task(
                self._work(key, queue), name=f"alert-delivery-{key[0]}"
            )

    async def _work(self, key: tuple[str, str], queue: asyncio.Queue[Delivery]) -> None:
        while not queue.empty():
            delivery = queue.get_nowait()
            await self._deliver(delivery)

    async def _deliver(self, d: Delivery) -> bool:
        channel = self.channels.get(d.channel)
        if channel is None:
            log.error("alert notice dropped: unknown channel", extra={**d.context, "channel": d.channel})
            return False
        attempt = 0
        while True:
            try:
                await channel.send(d.target, d.message)
            except DeliveryError as exc:
                last = exc.permanent or attempt >= len(self.backoff)
                log.log(
                    logging.ERROR if last else logging.WARNING,
                    "alert delivery failed" + ("; giving up" if last else "; will retry"),
                    extra={**d.context, "channel": d.channel, "attempt": attempt + 1, "error": str(exc)},
                )
                if last:
                    self.failed += 1
                    self._count(d.channel, "failed")
                    await self._attempted(d, "failed", str(exc), attempt + 1)
                    return False
                self._count(d.channel, "retry")
                await self._attempted(d, "retrying", str(exc), attempt + 1)
                await self._sleep(self.backoff[attempt])
                attempt += 1
            except Exception as exc:  # a bug in a channel must not kill the worker
                log.exception("alert delivery crashed", extra={**d.context, "channel": d.channel})
                self.failed += 1
                self._count(d.channel, "failed")
                await self._attempted(d, "failed", f"internal error: {type(exc).__name__}", attempt + 1)
                return False
            else:
                self.sent += 1
                self._count(d.channel, "sent")
                log.info("alert delivered", extra={**d.context, "channel": d.channel, "attempt": attempt + 1})
                await self._attempted(d, "sent", None, attempt + 1)
                return True

    async def _attempted(self, d: Delivery, outcome: str, error: str | None, attempt: int) -> None:
        if self._on_attempt is None:
            return
        try:
            await self._on_attempt(d, outcome, error, attempt)
        except Exception:  # recording the outcome must not stop the deliveries
            log.exception("recording an alert delivery failed", extra={**d.context, "channel": d.channel})

    def _count(self, channel: str, result: str) -> None:
        if self._on_result is not None:
            self._on_result(channel, result)

    async def drain(self) -> None:
        """Wait until every queued notice was delivered or given up (tests, shutdown)."""
        while any(not w.done() for w in self._workers.values()):
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def close(self) -> None:
        for worker in self._workers.values():
            worker.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        self._workers.clear()
