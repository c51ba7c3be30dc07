"""The UI in a real browser against a real server (issue 5 acceptance). The tests
share one server and run in file order: wizard → sign-in → second network, peer,
live status."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ADMIN, BASE, DESKTOP, PASSWORD, PHONE, SERVER_LAN, TOKEN, Stage, shot
from tests.system.netns import client_up, peers_of

pytestmark = pytest.mark.browser

try:  # the prerequisites fixture reports a missing playwright; keep collection working
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover
    expect = None  # type: ignore[assignment]

LIVE_TIMEOUT_MS = 45_000  # poll interval (1 s here) + SSE + a WireGuard handshake, with margin


def field_error(scope: Any, field: str) -> Any:
    """The error shown next to the input that edits API field ``field`` (in a page or a dialog)."""
    page = getattr(scope, "page", scope)  # `has=` takes a page-level locator
    return scope.locator(".field", has=page.locator(f'[data-field="{field}"]')).locator(".field-error")


def both_sizes(page: Any, name: str) -> None:
    """Screenshots at 1280x800 and 375x812; leaves the page at desktop size."""
    shot(page, f"{name}-1280x800")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # let the layout settle (charts measure their width)
    shot(page, f"{name}-375x812")
    page.set_viewport_size(DESKTOP)


def login(page: Any) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()


def download(page: Any, trigger: Any) -> tuple[str, str]:
    """Click ``trigger`` and return (suggested file name, text) of the download."""
    with page.expect_download() as info:
        trigger.click()
    d = info.value
    return d.suggested_filename, Path(d.path()).read_text()


def no_js_errors(page: Any) -> None:
    assert page.js_errors == [], f"errors in the page: {page.js_errors}"


def test_wizard_from_install_token_to_qr(stage: Stage) -> None:
    page = stage.new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=BASE)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_role("heading", name="Create the administrator")).to_be_visible()
    both_sizes(page, "wizard-1-admin")

    # Client-side checks first, then a wrong token refused by the server, at its field.
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Create administrator").click()
    expect(field_error(page, "install_token")).to_contain_text("install token")
    expect(field_error(page, "password")).to_contain_text("10 characters")
    page.get_by_label("Install token").fill("not-the-right-token-000000")
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    expect(field_error(page, "install_token")).to_contain_text("token")
    page.get_by_label("Install token").fill(TOKEN)
    page.get_by_role("button", name="Create administrator").click()

    expect(page.get_by_role("heading", name="Server identity")).to_be_visible()
    both_sizes(page, "wizard-2-server")
    page.get_by_label("Public IP address").fill(SERVER_LAN)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your first network")).to_be_visible()

    # A closed browser comes back to the first incomplete step.
    other = page.context.new_page()
    other.goto("/")
    expect(other.get_by_role("heading", name="Your first network")).to_be_visible()
    other.close()

    both_sizes(page, "wizard-3-network")
    page.get_by_label("Name").fill("home")
    page.get_by_label("Subnet (IPv4)").fill("10.8.0.0/24")
    page.get_by_label("Listen port (UDP)").fill("51820")
    page.get_by_role("button", name="Create network").click()

    expect(page.get_by_role("heading", name="Your first peer")).to_be_visible()
    both_sizes(page, "wizard-4-peer")
    page.get_by_label("Name").fill("my-phone")
    page.get_by_role("button", name="Create peer").click()

    expect(page.get_by_role("heading", name="Ready to connect")).to_be_visible()
    qr = page.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    page.get_by_text("Show configuration text").click()
    config = page.get_by_test_id("config-text").inner_text()
    assert "[Interface]" in config and f"Endpoint = {SERVER_LAN}:51820" in config
    name, text = download(page, page.get_by_test_id("download-config"))
    assert name.endswith(".conf") and text.strip() == config.strip()
    page.get_by_role("button", name="Copy to clipboard").click()
    expect(page.get_by_role("button", name="Copied ✓")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()").strip() == config.strip()
    both_sizes(page, "wizard-5-done")

    page.get_by_role("button", name="Go to the dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page).to_have_url(f"{BASE}/")
    no_js_errors(page)
    page.context.close()


def test_wrong_password_then_sign_in_and_out(stage: Stage) -> None:
    page = stage.new_page()
    page.goto("/networks")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fnetworks$"))
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill("this is not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    expect(page.get_by_label("Password")).to_have_value("")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Networks", level=1)).to_be_visible()  # back where we were going

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))  # the session is really gone
    login(page)
    no_js_errors(page)
    page.context.close()


def test_keyboard_modals_and_expired_session(stage: Stage) -> None:
    page = stage.new_page()
    login(page)
    page.get_by_role("link", name="Networks").first.click()
    opener = page.get_by_role("button", name="New network")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="New network")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Name")).to_be_focused()  # focus moves into the modal
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()  # and back to what opened it

    # Destructive actions ask first; Cancel keeps everything.
    page.locator('tr[data-network="home"]').get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete home?")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.locator('tr[data-network="home"]')).to_be_visible()

    # Any 401 (here: the session cookie is gone) leads to the login page, and back after it.
    page.context.clear_cookies()
    page.get_by_role("link", name="Audit log").click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faudit$"))
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    expect(page.get_by_test_id("audit-table")).to_contain_text("setup.admin")
    no_js_errors(page)
    page.context.close()


def test_second_network_peer_toggle_and_live_status(stage: Stage) -> None:
    page = stage.new_page()
    login(page)
    page.get_by_role("link", name="Networks").first.click()
    page.get_by_role("button", name="New network").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("office")

    # Caught in the browser: host bits set.
    dialog.get_by_label("Subnet (IPv4)").fill("10.50.0.1/24")
    dialog.get_by_role("button", name="Create network").click()
    expect(field_error(dialog, "subnet")).to_contain_text("did you mean 10.50.0.0/24")
    # Only the server knows: the subnet of the server's own LAN. Its field error lands by the field.
    dialog.get_by_label("Subnet (IPv4)").fill("192.0.2.0/24")
    dialog.get_by_role("button", name="Create network").click()
    expect(field_error(dialog, "subnet")).to_be_visible()
    expect(dialog.get_by_label("Subnet (IPv4)")).to_have_attribute("aria-invalid", "true")
    shot(page, "network-form-field-error")

    dialog.get_by_label("Subnet (IPv4)").fill("10.50.0.0/24")
    dialog.get_by_label("Listen port (UDP)").fill("51821")
    dialog.get_by_role("button", name="Create network").click()
    expect(page.get_by_role("heading", name="office", level=1)).to_be_visible()
    expect(page.get_by_text("No peers yet")).to_be_visible()

    page.get_by_role("button", name="Add the first peer").click()
    page.get_by_role("dialog").get_by_label("Name").fill("laptop")
    page.get_by_role("dialog").get_by_role("button", name="Add peer").click()
    config_dialog = page.get_by_role("dialog", name="Configuration of laptop")
    expect(config_dialog.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    _, conf = download(page, config_dialog.get_by_test_id("download-config"))
    assert "Endpoint = 192.0.2.1:51821" in conf
    page.keyboard.press("Escape")  # Esc closes the modal
    expect(page.get_by_role("dialog")).to_have_count(0)

    row = page.locator('tr[data-peer="laptop"]')
    expect(row).to_have_attribute("data-status", "never")
    row.get_by_role("button", name="Disable laptop").click()
    expect(row).to_have_attribute("data-status", "disabled")
    row.get_by_role("button", name="Enable laptop").click()
    expect(row).to_have_attribute("data-status", "never")

    # The phone brings the downloaded configuration up; the open page turns the dot
    # green from the SSE stream, without a reload.
    page.evaluate("window.__sameDocument = true")
    expect(page.locator(".live-indicator")).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)
    client_up(stage.phone, "wgb0", conf)
    assert stage.phone.can_reach("10.50.0.1", timeout=20), (
        "the phone cannot reach the server through the tunnel"
    )
    assert len(peers_of(stage.server, "wg1")) == 1
    expect(row).to_have_attribute("data-status", "online", timeout=LIVE_TIMEOUT_MS)
    expect(row).to_contain_text("just now")
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    expect(page.get_by_test_id("peers-online")).to_have_text("1")
    both_sizes(page, "network-detail")

    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.get_by_test_id("online-count")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator('[data-peer="laptop"] [data-status="online"]')).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    both_sizes(page, "dashboard")
    no_js_errors(page)
    page.context.close()
