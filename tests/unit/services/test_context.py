"""Context: telling the process's parts that state changed."""

from __future__ import annotations

import asyncio

import pytest

from wgpilot.services.context import Context


async def test_identity_refresh_runs_on_settings_and_restore_only(ctx: Context) -> None:
    calls: list[str] = []

    async def refresh() -> None:
        await asyncio.sleep(0)
        calls.append("refreshed")

    listener = ctx.on_identity_change(refresh)
    for kind in ("peers", "networks", "alerts", "bridges"):
        ctx.changed(kind, 1)
    await asyncio.sleep(0.01)
    assert calls == []
    ctx.changed("settings")
    ctx.changed("restore")
    await asyncio.sleep(0.01)
    assert calls == ["refreshed", "refreshed"]
    ctx.listeners.remove(listener)
    ctx.changed("settings")
    await asyncio.sleep(0.01)
    assert len(calls) == 2


async def test_a_failing_listener_neither_stops_the_others_nor_the_caller(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def broken(kind: str, network_id: int | None) -> None:
        raise RuntimeError("listener bug")

    ctx.listeners[:] = [broken, lambda kind, network_id: seen.append(kind)]
    ctx.changed("restore")
    assert seen == ["restore"]
    assert any("a change listener failed" in r.getMessage() for r in caplog.records)
