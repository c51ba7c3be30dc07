"""Settings → Prometheus in a real browser: the /metrics token is not on the page
until the administrator asks for it, and the token shown is the one a scrape needs
(its own server: setup is done through the API, not the wizard)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ADMIN, BASE, PASSWORD, TOKEN, Stage
from tests.browser.test_ui import both_sizes, no_js_errors
from tests.system.netns import ApiAgent

pytestmark = pytest.mark.browser

try:  # the prerequisites fixture reports a missing playwright; keep collection working
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover
    expect = None  # type: ignore[assignment]


def _set_up(api: ApiAgent) -> None:
    r = api.call(
        "POST", "/api/setup/admin", {"install_token": TOKEN, "username": ADMIN, "password": PASSWORD}
    )
    assert r["status"] == 201, r
    assert api.call("PUT", "/api/setup/server", {"public_ip": "192.0.2.1"})["status"] == 200
    r = api.call("POST", "/api/setup/network", {"name": "office", "subnet": "10.97.0.0/24"})
    assert r["status"] == 201, r
    assert api.call("POST", "/api/setup/peer", {"name": "laptop"})["status"] == 201


def _scrape(api: ApiAgent, token: str | None) -> dict[str, Any]:
    return api.call("GET", "/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})


def test_the_metrics_token_is_shown_on_request_and_opens_metrics(stage: Stage) -> None:
    api = ApiAgent(stage.admin, BASE)
    try:
        _set_up(api)
        token = api.call("GET", "/api/settings/metrics-token")["json"]["token"]  # type: ignore[index]
        refused = _scrape(api, None)
        assert refused["status"] == 401
        assert refused["headers"]["www-authenticate"] == 'Bearer realm="wgpilot"'  # type: ignore[index]

        page = stage.new_page()
        page.goto("/login")
        page.get_by_label("Username").fill(ADMIN)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings", exact=True).click()
        card = page.locator("section.card", has=page.get_by_role("heading", name="Prometheus"))
        expect(card).to_be_visible()
        expect(card).to_contain_text("Authorization: Bearer")
        assert token not in page.content()  # a secret: not on the page until asked for

        card.get_by_role("button", name="Show token").click()
        shown = card.get_by_test_id("metrics-token")
        expect(shown).to_have_text(token)
        both_sizes(page, "settings-metrics-token")  # a long token must not widen a phone screen

        # What the page shows is what Prometheus needs.
        scraped = _scrape(api, shown.inner_text())
        assert scraped["status"] == 200, scraped
        assert 'wgpilot_network_peers{network="office"}' in str(scraped["text"])

        card.get_by_role("button", name="Hide token").click()
        expect(shown).to_have_count(0)
        assert token not in page.content()
        no_js_errors(page)
        page.context.close()
    finally:
        api.close()
