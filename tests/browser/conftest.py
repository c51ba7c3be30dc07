"""Browser tests: the built UI in Debian's headless Chromium, driven by Playwright
for Python, against a real ``wgpilot serve`` (userspace driver, wireguard-go) in a
network namespace. Chromium itself runs in another namespace on the server's LAN,
like the administrator's laptop; a third namespace is the phone that brings a
downloaded configuration up with wg-quick:

    admin (Chromium) ──┐
                       ├── lan0 192.0.2.0/24 ── srv: wgpilot serve https://192.0.2.1:8443
    phone (wg-quick) ──┘

Playwright talks to Chromium over a pipe, so the browser can live in a namespace
the test process is not in: its executable is a two-line wrapper that enters the
namespace. ``playwright install`` is never needed (nor possible here).
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.system.netns import PYTHON, REPO, Host, Lab, Wgpilot, wait_for

CHROMIUM = os.environ.get("WGPILOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
]
SERVER_LAN = "192.0.2.1"
PORT = 8443
BASE = f"https://{SERVER_LAN}:{PORT}"
TOKEN = "browser-test-install-token-0123456789"
ADMIN = "admin"
PASSWORD = "correct horse battery staple"
DIST = REPO / "wgpilot" / "web" / "dist"
ARTIFACTS = REPO / "test-artifacts" / "browser"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="session", autouse=True)
def _prerequisites() -> None:
    """Fail loudly (never skip) when the machine cannot run the browser suite."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (network namespaces)")
    missing += [
        t for t in ("ip", "wg", "wg-quick", "wireguard-go", "ping", "unshare") if shutil.which(t) is None
    ]
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install playwright; no browser download needed)")
    if not (DIST / "index.html").is_file():
        missing.append("the built UI in wgpilot/web/dist (cd frontend && npm ci && npm run build)")
    if missing:
        pytest.fail(f"browser tests need: {', '.join(missing)}", pytrace=False)


@dataclass
class Stage:
    """The running server and the two LAN hosts around it."""

    lab: Lab
    server: Host
    admin: Host
    phone: Host
    wgpilot: Wgpilot
    browser: Any  # playwright Browser
    # Cookies of a signed-in session, shared by the tests that do not test signing in:
    # the server allows 5 login attempts per minute per client address (SPEC §12).
    session: dict[str, Any] | None = None

    def new_page(
        self, viewport: dict[str, int] = DESKTOP, storage_state: dict[str, Any] | None = None
    ) -> Any:
        context = self.browser.new_context(
            ignore_https_errors=True,  # the server's certificate is self-signed
            viewport=viewport,
            accept_downloads=True,
            base_url=BASE,
            storage_state=storage_state,
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: _csp_violation(m, errors))
        page.js_errors = errors  # checked by the tests: no exceptions, no CSP violations
        return page


def _csp_violation(message: Any, errors: list[str]) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        errors.append(message.text)


def _chromium_in(host: Host) -> Path:
    wrapper = host.root / "chromium"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {host.ns} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


@pytest.fixture(scope="module")
def stage() -> Iterator[Stage]:
    from playwright.sync_api import sync_playwright

    lab = Lab()
    pw = None
    browser = None
    wg: Wgpilot | None = None
    try:
        server = lab.host("srv")
        lab.bridge(server, "lan0", f"{SERVER_LAN}/24")
        admin = lab.host("admin")
        lab.attach(admin, server, "lan0", "192.0.2.10/24")
        phone = lab.host("phone")
        lab.attach(phone, server, "lan0", "192.0.2.20/24")
        wg = Wgpilot(server)
        wg.env.update(
            {
                "WGPILOT_LISTEN": f"{SERVER_LAN}:{PORT}",
                "WGPILOT_TLS_HTTP_PORT": "0",
                "WGPILOT_AUTH_BCRYPT_COST": "4",
                "WGPILOT_MONITOR_POLL_INTERVAL": "1",
                # Transfer history every 2 s instead of 30 s: the chart test waits for it.
                "WGPILOT_MONITOR_SNAPSHOT_INTERVAL": "2",
            }
        )
        wg.cli("init", "--install-token", TOKEN)
        wg.start()
        probe = f"import socket; socket.create_connection(('{SERVER_LAN}', {PORT}), timeout=1).close()"
        wait_for(
            lambda: admin.run(PYTHON, "-c", probe, check=False).returncode == 0, 20, what="the HTTPS port"
        )
        # Chromium aborts navigations in flight (net::ERR_NETWORK_CHANGED) when an address
        # of its namespace changes, as a link-local IPv6 address does once duplicate
        # address detection ends, a second or two after the link came up.
        wait_for(
            lambda: not admin.ip("-6", "addr", "show", "tentative").stdout.strip(),
            10,
            what="the browser host's addresses to settle (IPv6 duplicate address detection)",
        )
        pw = sync_playwright().start()
        browser = pw.chromium.launch(
            executable_path=str(_chromium_in(admin)), headless=True, args=CHROMIUM_ARGS
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield Stage(lab, server, admin, phone, wg, browser)
    finally:
        if browser is not None:
            browser.close()
        if pw is not None:
            pw.stop()
        if wg is not None and wg.server is not None:
            log = wg.log.read_text(errors="replace") if wg.log.exists() else ""
            wg.stop()
            (ARTIFACTS / "wgpilot-serve.log").parent.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "wgpilot-serve.log").write_text(log)
        lab.close()


def shot(page: Any, name: str) -> None:
    """A screenshot in test-artifacts/browser/<name>.png (full page)."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
