"""The start-up banner names the URLs the server really answers on (issue 16 item 24)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from wgpilot.kernel.hostinfo import local_addresses
from wgpilot.web import banner


async def test_a_wildcard_bind_lists_the_hosts_real_names_and_addresses() -> None:
    addresses = await local_addresses()  # this machine's (this network namespace's) own
    found = banner.urls(("::", 8443), hostnames=["", "VPN.example.com", "myhost"], addresses=addresses)
    expected = [ipaddress.ip_address(a) for a in addresses]
    expected = [ip for ip in expected if not (ip.is_loopback or ip.is_link_local)]
    assert found[:2] == ["https://vpn.example.com:8443/", "https://myhost:8443/"]
    for ip in expected:
        host = f"[{ip}]" if ip.version == 6 else str(ip)
        assert f"https://{host}:8443/" in found
    assert len(found) == 2 + len(expected)
    assert not any("127.0.0.1" in u or "[::1]" in u or "<" in u for u in found), found


def test_addresses_are_ordered_and_loopback_only_when_nothing_else() -> None:
    found = banner.urls(
        ("0.0.0.0", 443),
        hostnames=[],
        addresses={"2001:db8::5", "127.0.0.1", "fe80::1%eth0", "192.0.2.7", "10.0.0.1", "::1"},
    )
    assert found == [
        "https://10.0.0.1:443/",
        "https://192.0.2.7:443/",
        "https://[2001:db8::5]:443/",
    ]
    assert banner.urls(("::", 8443), hostnames=[], addresses={"127.0.0.1"}) == ["https://localhost:8443/"]


def test_a_specific_bind_is_the_one_url() -> None:
    assert banner.urls(("192.0.2.1", 8443), hostnames=["h"], addresses={"192.0.2.1", "198.51.100.1"}) == [
        "https://192.0.2.1:8443/"
    ]
    assert banner.urls(("2001:db8::1", 443), hostnames=[], addresses=()) == ["https://[2001:db8::1]:443/"]


def test_the_text_has_every_url_and_the_token_when_there_is_one(tmp_path: Path) -> None:
    urls = ["https://h:8443/", "https://192.0.2.1:8443/"]
    with_token = banner.text(urls, token="tok-123", data_dir=tmp_path)
    assert "    https://h:8443/\n    https://192.0.2.1:8443/\n" in with_token
    assert "one-time install token: tok-123" in with_token and str(tmp_path) in with_token
    assert "install token" not in banner.text(urls, token=None, data_dir=tmp_path)
    note = "setup is not finished: sign in and finish the setup wizard"
    with_note = banner.text(urls, token=None, note=note, data_dir=tmp_path)
    assert note in with_note and "install token" not in with_note


def test_readable_log_lines_carry_no_colour_codes() -> None:
    """What `./dev serve` prints after the banner: text lines, without uvicorn's
    ANSI-coloured duplicate of each message."""
    import io
    import logging

    from wgpilot import logsetup

    out = io.StringIO()
    root = logging.getLogger()
    level = root.level
    logsetup.setup(level="info", fmt="text", stream=out)
    try:
        logging.getLogger("uvicorn.error").info(
            "Started server process [%d]",
            42,
            extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
        )
        logging.getLogger("wgpilot.web.server").info("listening", extra={"address": "[::]:443"})
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_wgpilot", False)]:
            root.removeHandler(handler)
        root.setLevel(level)
    first, second = out.getvalue().splitlines()
    assert first.endswith("INFO    uvicorn.error: Started server process [42]"), first
    assert second.endswith("INFO    wgpilot.web.server: listening  address=[::]:443"), second
