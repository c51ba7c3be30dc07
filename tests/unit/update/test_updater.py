from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.unit.tls.helpers import settings as tls_settings
from tests.unit.update.helpers import NOW, http_server, release
from wgpilot.update import fetch, keys, swap
from wgpilot.update.manifest import UpdateError
from wgpilot.update.updater import HIGHEST_KEY, MemoryStore, Updater


class Restarts:
    name = "fake"

    def __init__(self) -> None:
        self.count = 0

    def restart(self) -> None:
        self.count += 1


def _updater(
    tmp_path: Path,
    base: str,
    key: Ed25519PrivateKey,
    healthy: set[str],
    store: MemoryStore,
    url: str = "",
) -> Updater:
    """An updater built with ``key`` (as release.py bakes it) and releases under ``base``."""
    s = tls_settings(tmp_path, update__release_url=base, update__url=url)
    return Updater(
        s,
        store,
        clock=lambda: NOW,
        current="1.0.0",
        wait_healthy=lambda targets, version, timeout: version in healthy,
        release_keys=(keys.public_text(key.public_key()),),
    )


async def test_update_swap_rollback_and_replay(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    web = tmp_path / "web"
    release(web, "1.0.1", b"new binary", key, latest=True)
    release(web, "1.0.3", b"broken binary", key)
    release(web, "0.9.0", b"old binary", key)
    target = tmp_path / "bin" / "wgpilot"
    target.parent.mkdir()
    target.write_bytes(b"current binary")
    store, restarts = MemoryStore(), Restarts()
    with http_server(web) as base:
        up = _updater(tmp_path, base, key, {"1.0.0", "1.0.1"}, store)
        plan = await up.plan()
        assert plan.available and plan.url == f"{base}/latest/download/manifest.json"
        msg = await up.apply(plan, explicit=False, target=target, restarter=restarts)
        assert msg == "updated 1.0.0 → 1.0.1"
        assert target.read_bytes() == b"new binary" and os.access(target, os.X_OK)
        assert (target.parent / "wgpilot.prev").read_bytes() == b"current binary"
        assert store.values[HIGHEST_KEY] == "1.0.1" and restarts.count == 1
        assert sorted(p.name for p in target.parent.iterdir()) == ["wgpilot", "wgpilot.prev"]

        # now "running 1.0.1"; 1.0.3 never reports healthy → rolled back to 1.0.1
        up.current = "1.0.1"
        plan = await up.plan("1.0.3")
        assert plan.url == f"{base}/download/v1.0.3/manifest.json"
        waits: list[tuple[str, float]] = []
        up.wait_healthy = lambda targets, version, timeout: bool(waits.append((version, timeout))) or (
            version in {"1.0.0", "1.0.1"}
        )
        with pytest.raises(UpdateError, match=r"did not become healthy.*rolled back, 1\.0\.1 running again"):
            await up.apply(plan, explicit=True, target=target, restarter=restarts, health_timeout=45)
        assert target.read_bytes() == b"new binary" and restarts.count == 3
        # The way back waits longer: the supervisor may sit out its restart delay first.
        assert waits == [("1.0.3", 45), ("1.0.1", 90)]
        assert store.values[HIGHEST_KEY] == "1.0.1"

        # a validly signed but older manifest is refused without --version
        plan = await _plan(up, f"{base}/download/v0.9.0/manifest.json")
        with pytest.raises(UpdateError, match=r"not newer than 1\.0\.1"):
            await up.apply(plan, explicit=False, target=target, restarter=restarts)
        assert target.read_bytes() == b"new binary"


async def _plan(up: Updater, url: str):  # type: ignore[no-untyped-def]
    up.settings = up.settings.replace(update__url=url)
    return await up.plan()


async def test_tampered_downloads_change_nothing(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    web = tmp_path / "web"
    rel = release(web, "1.0.2", b"x" * 5000, key)
    binary = rel / "wgpilot_1.0.2_linux_amd64"
    target = tmp_path / "bin" / "wgpilot"
    target.parent.mkdir()
    target.write_bytes(b"current")
    with http_server(web) as base:
        up = _updater(
            tmp_path, base, key, {"1.0.2"}, MemoryStore(), url=f"{base}/download/v1.0.2/manifest.json"
        )
        plan = await up.plan()
        for tamper, why in (
            (lambda: binary.write_bytes(b"y" + b"x" * 4999), "SHA-256 does not match"),
            (lambda: binary.write_bytes(b"x" * 4000), "truncated download"),
            (lambda: binary.write_bytes(b"x" * 6000), "larger than the 5000 bytes"),
        ):
            tamper()
            with pytest.raises(UpdateError, match=why):
                await up.apply(plan, explicit=False, target=target, restarter=Restarts())
            assert target.read_bytes() == b"current"
            assert sorted(p.name for p in target.parent.iterdir()) == ["wgpilot"]


def test_fetch_get_cap(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"a" * 100)
    with http_server(tmp_path) as base:
        assert fetch.get(f"{base}/big", 100) == b"a" * 100
        with pytest.raises(UpdateError, match="larger than 99 bytes"):
            fetch.get(f"{base}/big", 99)
        with pytest.raises(UpdateError, match="HTTP 404"):
            fetch.get(f"{base}/missing", 99)
    with pytest.raises(UpdateError, match="cannot reach"):
        fetch.get("http://127.0.0.1:9/x", 10)


def test_swap_install_and_rollback(tmp_path: Path) -> None:
    target = tmp_path / "wgpilot"
    target.write_bytes(b"v1")
    tmp, fh = swap.new_temp(target)
    with fh:
        fh.write(b"v2")
    assert tmp.stat().st_mode & 0o777 == 0o600  # not executable before it is verified
    swap.install(tmp, target)
    assert target.read_bytes() == b"v2" and target.stat().st_mode & 0o777 == 0o755
    swap.rollback(target)
    assert target.read_bytes() == b"v1" and swap.prev_path(target).read_bytes() == b"v1"


async def test_checker_for_the_api(tmp_path: Path) -> None:
    from wgpilot.update.updater import UpdateChecker

    key = Ed25519PrivateKey.generate()
    release(tmp_path / "web", "1.0.1", b"new", key, latest=True)
    with http_server(tmp_path / "web") as base:
        checker = UpdateChecker(_updater(tmp_path, base, key, set(), MemoryStore()))
        assert checker.last() == {"available": False, "current": "1.0.0", "latest": None, "checked_at": None}
        assert await checker.check() == {
            "available": True,
            "current": "1.0.0",
            "latest": "1.0.1",
            "checked_at": NOW,
        }
        checker.updater.settings = checker.updater.settings.replace(update__release_url=f"{base}/missing")
        with pytest.raises(UpdateError, match="HTTP 404"):
            await checker.check()
        assert checker.last()["latest"] == "1.0.1" and "HTTP 404" in str(checker.error)


def test_health_targets() -> None:
    from wgpilot.update import restart

    assert restart.health_targets("") == [("127.0.0.1", 443), ("127.0.0.1", 8443)]
    assert restart.health_targets("[::]:9443") == [("127.0.0.1", 9443)]
    assert restart.health_targets("10.0.0.1:443") == [("10.0.0.1", 443)]


def test_wait_healthy_needs_the_version_to_stay_up() -> None:
    from wgpilot.update import restart

    answers = iter([None, {"version": "1.0.1"}, None, {"version": "1.0.1"}] + [{"version": "1.0.1"}] * 100)
    assert restart.wait_healthy([("h", 1)], "1.0.1", 5, settle=0.5, prober=lambda h, p: next(answers))
    assert not restart.wait_healthy(
        [("h", 1)], "1.0.2", 0.6, settle=0.1, prober=lambda h, p: {"version": "1.0.1"}
    )


async def test_channel_from_settings_in_the_url(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    release(tmp_path / "web" / "beta", "1.1.0-rc.1", b"rc", key, channel="beta")
    store = MemoryStore()
    store.values["update_channel"] = "beta"
    with http_server(tmp_path / "web") as base:
        url = base + "/{channel}/download/v1.1.0-rc.1/manifest.json"
        up = _updater(tmp_path, base, key, set(), store, url=url)
        assert (await up.plan()).manifest.version == "1.1.0-rc.1"
        store.values["update_channel"] = "stable"
        with pytest.raises(UpdateError, match="HTTP 404"):  # …/stable/… has no such release
            await up.plan()


async def test_a_build_without_a_release_key_refuses_every_update(tmp_path: Path) -> None:
    """Even with update.public_key set, and before anything is fetched (nothing listens there)."""
    key = Ed25519PrivateKey.generate()
    target = tmp_path / "wgpilot"
    target.write_bytes(b"current")
    s = tls_settings(
        tmp_path,
        update__release_url="http://127.0.0.1:9",
        update__public_key=keys.public_text(key.public_key()),
    )
    up = Updater(s, MemoryStore(), clock=lambda: NOW, current="1.0.0", release_keys=())
    for version in (None, "1.0.1"):
        with pytest.raises(
            UpdateError, match=r"built without a release key \(release\.py build --public-key\)"
        ):
            await up.plan(version)
    assert target.read_bytes() == b"current"


async def test_update_public_key_adds_to_the_built_in_key(tmp_path: Path) -> None:
    """A release signed by a second key (a lost key's replacement) is accepted once the
    config names it, and only then."""
    built_in, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    release(tmp_path / "web", "1.0.1", b"new", second, latest=True)
    with http_server(tmp_path / "web") as base:
        up = _updater(tmp_path, base, built_in, set(), MemoryStore())
        with pytest.raises(UpdateError, match="signature is not valid"):
            await up.plan()
        up.settings = up.settings.replace(update__public_key=keys.public_text(second.public_key()))
        assert (await up.plan()).manifest.version == "1.0.1"
