"""Alerts end to end: rules through the service, evaluation by the monitor's own
ticks, delivery to a real SMTP server (aiosmtpd) and a real HTTP server, both on
127.0.0.1 and started by the tests."""

from __future__ import annotations

import email
import json
import logging
import socket
import threading
from collections.abc import Iterator
from email.message import Message as MailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.unit.monitor.conftest import ACTOR, Lab, settings
from wgpilot.monitor import Monitor
from wgpilot.monitor.notify import DeliveryError, Message
from wgpilot.services.alerts import AlertService
from wgpilot.services.context import Context
from wgpilot.services.peers import PeerService

FAST = (0.01, 0.01, 0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    """aiosmtpd handler keeping every message it accepted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[MailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    s.start()
    try:
        yield s
    finally:
        s.stop()


async def use_smtp(ctx: Context, port: int) -> None:
    async with ctx.db.transaction() as tx:
        for key, value in {
            "smtp_host": "127.0.0.1",
            "smtp_port": str(port),
            "smtp_security": "none",
            "smtp_from": "wgpilot@example.org",
            "alert_email": "fallback@example.org",
        }.items():
            await ctx.settings.set(tx, key, value)


def body(msg: MailMessage) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


class Recorder:
    """A channel that keeps what it was asked to send (for rules where the transport
    is not the point)."""

    name = "email"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []

    async def send(self, target: str, message: Message) -> None:
        self.sent.append((target, message))


async def tick(monitor: Monitor) -> None:
    await monitor.tick()
    await monitor.dispatcher.drain()


async def test_peer_offline_fires_once_and_recovers_once_by_smtp(lab: Lab, sink: Sink) -> None:
    await use_smtp(lab.ctx, sink.port)
    monitor = Monitor(lab.ctx, settings(), backoff=FAST)
    monitor.attach()
    svc = AlertService(lab.ctx)
    rule = await svc.create(
        ACTOR, type="peer_offline", threshold=60, notify="email", target="ops@example.org"
    )
    a, _ = lab.peers  # the second peer never connects: never "offline" in the alert's sense
    lab.stats(a, rx=10, tx=10, handshake=10)
    await tick(monitor)
    lab.clock.advance(210)  # offline since handshake + 180 s, i.e. for 40 s: not yet
    await tick(monitor)
    assert sink.messages == []
    lab.clock.advance(30)  # 70 s offline
    await tick(monitor)
    for _ in range(3):
        lab.clock.advance(5)
        await tick(monitor)
    assert len(sink.messages) == 1
    fired = sink.messages[0]
    assert fired["Subject"] == "[wgpilot] FIRING peer offline: peer0 (office)"
    assert fired["To"] == "ops@example.org" and fired["From"] == "wgpilot@example.org"
    assert "peer peer0 of network office" in body(fired) and a.public_key in body(fired)
    assert (await svc.get(rule["id"]))["state"] == "firing"

    lab.stats(a, rx=20, tx=20, handshake=0)  # handshake just now
    await tick(monitor)
    for _ in range(3):
        lab.clock.advance(5)
        await tick(monitor)
    assert len(sink.messages) == 2
    recovered = sink.messages[1]
    assert recovered["Subject"] == "[wgpilot] RESOLVED peer offline: peer0 (office)"
    assert "peer peer0 of network office" in body(recovered) and "back online" in body(recovered)
    assert (await svc.get(rule["id"]))["state"] == "ok"


async def test_a_restart_does_not_fire_an_open_incident_again(lab: Lab) -> None:
    await AlertService(lab.ctx).create(ACTOR, type="peer_offline", threshold=0, notify="email", target="")
    a, _ = lab.peers
    lab.stats(a, handshake=500)
    first = Recorder()
    monitor = Monitor(lab.ctx, settings(), channels={"email": first})
    await tick(monitor)
    assert [m.subject for _, m in first.sent] == ["[wgpilot] FIRING peer offline: peer0 (office)"]
    again = Recorder()
    restarted = Monitor(lab.ctx, settings(), channels={"email": again})
    await tick(restarted)
    assert again.sent == []
    lab.stats(a, handshake=0)
    await tick(restarted)
    assert [m.subject for _, m in again.sent] == ["[wgpilot] RESOLVED peer offline: peer0 (office)"]


async def test_smtp_down_is_retried_with_backoff_and_logged(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink()  # not listening yet
    await use_smtp(lab.ctx, sink.port)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            sink.start()  # the mail server comes back during the second wait

    monitor = Monitor(lab.ctx, settings(), backoff=(1.0, 2.0, 4.0), sleep=sleep)
    await AlertService(lab.ctx).create(ACTOR, type="peer_offline", threshold=0, notify="email", target="")
    lab.stats(lab.peers[0], handshake=500)
    caplog.set_level(logging.INFO, logger="wgpilot.monitor")
    try:
        await tick(monitor)
        assert slept == [1.0, 2.0]
        assert len(sink.messages) == 1 and sink.envelopes[0][1] == ["fallback@example.org"]
    finally:
        sink.stop()
    retries = [r for r in caplog.records if r.msg == "alert delivery failed; will retry"]
    assert len(retries) == 2 and retries[0].channel == "email"  # type: ignore[attr-defined]
    assert [r.msg for r in caplog.records if r.msg == "alert delivered"] == ["alert delivered"]


class FailingChannel:
    name = "email"

    def __init__(self, permanent: bool) -> None:
        self.permanent = permanent
        self.calls = 0

    async def send(self, target: str, message: Message) -> None:
        self.calls += 1
        raise DeliveryError("mail server says no", permanent=self.permanent)


async def test_delivery_that_keeps_failing_gives_up_and_the_poller_goes_on(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    channel = FailingChannel(permanent=False)
    monitor = Monitor(lab.ctx, settings(), channels={"email": channel}, backoff=FAST)
    await AlertService(lab.ctx).create(ACTOR, type="peer_offline", threshold=0, notify="email", target="")
    lab.stats(lab.peers[0], handshake=500)
    await tick(monitor)
    assert channel.calls == 1 + len(FAST) and monitor.dispatcher.failed == 1
    assert any(r.msg == "alert delivery failed; giving up" for r in caplog.records)
    polls = monitor.poller.polls
    await tick(monitor)
    assert monitor.poller.polls == polls + 1

    permanent = FailingChannel(permanent=True)
    monitor.dispatcher.channels["email"] = permanent
    lab.stats(lab.peers[0], handshake=0)
    await tick(monitor)
    assert permanent.calls == 1  # not retried


class FlakyChannel:
    """Fails the first ``failures`` sends, then delivers."""

    name = "email"

    def __init__(self, failures: int) -> None:
        self.failures = failures

    async def send(self, target: str, message: Message) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("mail server busy")


async def test_the_alerts_page_learns_how_each_rules_latest_notice_fared(lab: Lab) -> None:
    """Every attempt's outcome is stored with the rule: a notice that did not get
    through (and why) shows where the rule is, not only in the server log."""
    flaky = FlakyChannel(failures=1)
    monitor = Monitor(lab.ctx, settings(), channels={"email": flaky}, backoff=FAST)
    alerts = AlertService(lab.ctx)
    rule = await alerts.create(ACTOR, type="peer_offline", threshold=0, notify="email", target="")
    assert rule["last_delivery"] is None
    lab.stats(lab.peers[0], handshake=500)
    await tick(monitor)
    sent = (await alerts.get(rule["id"]))["last_delivery"]
    assert sent == {
        "status": "sent",
        "attempts": 2,
        "error": None,
        "attempted_at": lab.ctx.now(),
        "sent_at": lab.ctx.now(),
    }

    monitor.dispatcher.channels["email"] = FailingChannel(permanent=True)
    lab.clock.advance(60)
    lab.stats(lab.peers[0], handshake=0)  # back online: the recovery notice fails
    await tick(monitor)
    (listed,) = await alerts.list()
    assert listed["last_delivery"] == {
        "status": "failed",
        "attempts": 1,
        "error": "mail server says no",
        "attempted_at": lab.ctx.now(),
        "sent_at": sent["sent_at"],  # the last notice that did get through
    }
    # A deleted rule takes its record along; an outcome arriving after is dropped.
    await alerts.delete(ACTOR, rule["id"])
    assert await lab.ctx.db.fetchval("SELECT COUNT(*) FROM alert_deliveries") == 0


class Hook(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []
    statuses: list[int] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        doc = json.loads(self.rfile.read(length))
        code = self.statuses.pop(0) if self.statuses else 200
        if code == 200:
            self.bodies.append(doc)
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("RecordingHook", (Hook,), {"bodies": [], "statuses": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_interface_down_by_webhook_with_retry_and_recovery(
    lab: Lab, webhook: tuple[str, type[Hook]]
) -> None:
    url, hook = webhook
    hook.statuses.append(503)  # the receiver hiccups once
    monitor = Monitor(lab.ctx, settings(), backoff=FAST)
    await AlertService(lab.ctx).create(
        ACTOR, type="interface_down", threshold=10, notify="webhook", target=url
    )
    await tick(monitor)
    dev = lab.driver.devs.pop(lab.net.interface)
    await tick(monitor)
    lab.clock.advance(11)
    await tick(monitor)
    lab.clock.advance(5)
    await tick(monitor)
    assert len(hook.bodies) == 1
    doc = hook.bodies[0]
    assert doc["status"] == "firing" and doc["alert"]["type"] == "interface_down"
    assert doc["summary"] == "interface down: office"
    (incident,) = doc["incidents"]
    assert (
        incident["network"] == "office"
        and incident["interface"] == "wg0"
        and incident["subject"] == "network:1"
    )
    lab.driver.devs[lab.net.interface] = dev
    await tick(monitor)
    await tick(monitor)
    assert [b["status"] for b in hook.bodies] == ["firing", "resolved"]
    assert monitor.dispatcher.sent == 2


async def test_peers_of_a_down_interface_are_left_to_interface_down(lab: Lab) -> None:
    rec = Recorder()
    monitor = Monitor(lab.ctx, settings(), channels={"email": rec})
    await AlertService(lab.ctx).create(ACTOR, type="peer_offline", threshold=0, notify="email", target="")
    lab.stats(lab.peers[0], handshake=1)
    await tick(monitor)
    lab.driver.devs[lab.net.interface].up = False
    lab.clock.advance(3600)
    await tick(monitor)
    assert rec.sent == []


async def test_many_peers_going_offline_at_once_make_one_message(lab: Lab) -> None:
    rec = Recorder()
    svc = PeerService(lab.ctx)
    extra = [await svc.create(ACTOR, lab.net.id, name=f"x{i}") for i in range(3)]
    monitor = Monitor(lab.ctx, settings(), channels={"email": rec})
    for p in [*lab.peers, *extra]:
        lab.stats(p, handshake=10)
    await AlertService(lab.ctx).create(ACTOR, type="peer_offline", threshold=30, notify="email", target="")
    await tick(monitor)
    lab.clock.advance(300)
    await tick(monitor)
    ((target, message),) = rec.sent
    assert target == "" and message.subject == "[wgpilot] FIRING peer offline: 5 peers"
    assert sorted(i["peer"] for i in message.document["incidents"]) == ["peer0", "peer1", "x0", "x1", "x2"]


async def test_a_deleted_peer_or_disabled_rule_closes_incidents_quietly(lab: Lab) -> None:
    rec = Recorder()
    monitor = Monitor(lab.ctx, settings(), channels={"email": rec})
    monitor.attach()
    alerts = AlertService(lab.ctx)
    rule = await alerts.create(ACTOR, type="peer_offline", threshold=0, notify="email", target="")
    a, b = lab.peers
    lab.stats(a, handshake=1000)
    lab.stats(b, handshake=1000)
    await tick(monitor)
    assert len(rec.sent) == 1 and len(monitor.alerts.open) == 2
    await PeerService(lab.ctx).delete(ACTOR, lab.net.id, a.id)
    await tick(monitor)
    assert len(rec.sent) == 1 and len(monitor.alerts.open) == 1
    await alerts.update(ACTOR, rule["id"], enabled=False)
    await tick(monitor)
    assert len(rec.sent) == 1 and monitor.alerts.open == {}
    assert (await alerts.get(rule["id"]))["state"] == "ok"


async def test_transfer_spike_by_clock_hour(lab: Lab) -> None:
    rec = Recorder()
    monitor = Monitor(lab.ctx, settings(), channels={"email": rec})
    await AlertService(lab.ctx).create(
        ACTOR, type="transfer_spike", threshold=1000, notify="email", target=""
    )
    a, _ = lab.peers
    lab.clock.now = 1_750_000_000 // 3600 * 3600 + 60
    lab.stats(a, rx=50_000, tx=0, handshake=1)  # what it moved before we looked: a baseline
    await tick(monitor)
    lab.stats(a, rx=50_600, tx=0, handshake=1)
    lab.clock.advance(60)
    await tick(monitor)
    assert rec.sent == []
    lab.stats(a, rx=50_800, tx=400, handshake=1)  # 1200 bytes this hour
    lab.clock.advance(60)
    await tick(monitor)
    assert [m.subject for _, m in rec.sent] == ["[wgpilot] FIRING transfer spike: peer0 (office)"]
    assert rec.sent[0][1].document["incidents"][0]["bytes_this_hour"] == 1200
    lab.clock.advance(3600)  # the spiking hour ended: still firing until a quiet full hour
    lab.stats(a, rx=50_900, tx=400, handshake=1)
    await tick(monitor)
    assert len(rec.sent) == 1
    lab.clock.advance(3600)
    lab.stats(a, rx=10, tx=0, handshake=1)  # counter reset: 10 bytes, not negative
    await tick(monitor)
    assert [m.subject for _, m in rec.sent][1] == "[wgpilot] RESOLVED transfer spike: peer0 (office)"
    assert rec.sent[1][1].document["incidents"][0]["bytes_last_hour"] == 100


async def test_a_test_mail_goes_out_and_is_audited(lab: Lab, sink: Sink) -> None:
    await use_smtp(lab.ctx, sink.port)
    monitor = Monitor(lab.ctx, settings())
    assert await monitor.send_test_mail("me@example.org", ACTOR) == {
        "ok": True,
        "message": "sent to me@example.org",
    }
    assert sink.envelopes == [("wgpilot@example.org", ["me@example.org"])]
    entries, _ = await lab.ctx.audit.query(lab.ctx.db, action="settings.smtp_test")
    assert entries[0].detail == {"to": "me@example.org", "ok": True}


async def test_a_test_mail_without_smtp_settings_says_so(lab: Lab) -> None:
    result = await Monitor(lab.ctx, settings()).send_test_mail(None, ACTOR)
    assert result["ok"] is False and "smtp_host" in result["message"]
