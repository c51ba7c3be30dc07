"""The alert rule use cases (wgpilot/services/alerts.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.monitor.conftest import ACTOR
from wgpilot.domain.errors import NotFoundError, ValidationError
from wgpilot.services.alerts import AlertService
from wgpilot.services.context import Context

GOOD: dict[str, Any] = {
    "type": "peer_offline",
    "threshold": 300,
    "notify": "email",
    "target": "ops@example.org",
}


async def test_create_list_update_delete_with_audit(ctx: Context) -> None:
    svc = AlertService(ctx)
    changes: list[str] = []
    ctx.listeners.append(lambda kind, nid: changes.append(kind))
    created = await svc.create(ACTOR, **GOOD)
    assert created == {
        "id": created["id"],
        "type": "peer_offline",
        "threshold": 300,
        "notify": "email",
        "target": "ops@example.org",
        "enabled": True,
        "created_at": ctx.now(),
        "updated_at": ctx.now(),
        "state": "ok",
        "last_delivery": None,
    }
    hook = await svc.create(
        ACTOR, type="transfer_spike", threshold=10**9, notify="webhook", target="https://hooks.example.org/x"
    )
    assert [a["id"] for a in await svc.list()] == [created["id"], hook["id"]]
    updated = await svc.update(ACTOR, created["id"], threshold=600, enabled=False)
    assert updated["threshold"] == 600 and updated["enabled"] is False
    switched = await svc.update(ACTOR, created["id"], notify="webhook", target="http://10.0.0.5:8080/alert")
    assert switched["notify"] == "webhook" and switched["target"] == "http://10.0.0.5:8080/alert"
    await svc.delete(ACTOR, hook["id"])
    with pytest.raises(NotFoundError) as err:
        await svc.get(hook["id"])
    assert err.value.code == "ALERT_NOT_FOUND"
    entries, _ = await ctx.audit.query(ctx.db, action="alert.*")
    assert [e.action for e in reversed(entries)] == [
        "alert.create",
        "alert.create",
        "alert.update",
        "alert.update",
        "alert.delete",
    ]
    assert entries[1].detail == {  # newest first
        "type": "peer_offline",  # what the audit log names the rule by, even once it is deleted
        "changes": {
            "notify": {"from": "email", "to": "webhook"},
            "target": {"from": "ops@example.org", "to": "http://10.0.0.5:8080/alert"},
        },
    }
    assert changes == ["alerts"] * 5


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"type": "disk_full"}, ["type"]),
        ({"threshold": -1}, ["threshold"]),
        ({"threshold": "60"}, ["threshold"]),
        ({"threshold": True}, ["threshold"]),
        ({"threshold": 31 * 86400}, ["threshold"]),
        ({"type": "transfer_spike", "threshold": 0}, ["threshold"]),
        ({"notify": "sms"}, ["notify"]),
        ({"target": "not-an-address"}, ["target"]),
        ({"notify": "webhook", "target": "ftp://example.org/x"}, ["target"]),
        ({"notify": "webhook", "target": "http:///nohost"}, ["target"]),
        ({"notify": "webhook", "target": "http://example.org/a b"}, ["target"]),
        ({"notify": "webhook", "target": "https://example.org/" + "x" * 2048}, ["target"]),
        ({"enabled": "yes"}, ["enabled"]),
        ({"type": "nope", "notify": "nope"}, ["type", "notify"]),
    ],
)
async def test_bad_rules_name_the_field(ctx: Context, changes: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(ValidationError) as err:
        await AlertService(ctx).create(ACTOR, **{**GOOD, **changes})
    assert [f.field for f in err.value.fields] == fields
    assert await AlertService(ctx).list() == []


async def test_an_empty_email_target_means_the_alert_email_setting(ctx: Context) -> None:
    created = await AlertService(ctx).create(ACTOR, **{**GOOD, "target": ""})
    assert created["target"] == ""


async def test_changing_the_channel_revalidates_the_target(ctx: Context) -> None:
    svc = AlertService(ctx)
    created = await svc.create(ACTOR, **GOOD)
    with pytest.raises(ValidationError) as err:
        await svc.update(ACTOR, created["id"], notify="webhook")  # the e-mail address is no URL
    assert [f.field for f in err.value.fields] == ["target"]
    with pytest.raises(NotFoundError):
        await svc.update(ACTOR, 999, threshold=5)
    same = await svc.update(ACTOR, created["id"], threshold=300)
    assert same["updated_at"] == created["updated_at"]  # nothing changed, nothing written
