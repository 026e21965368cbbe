"""Changing a flag (workflows.flags) on PostgreSQL alone: the row, its record on the compacted
topic and its audit event commit together; bad input changes nothing."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core.errors import InvalidInput, PayloadTooLarge
from core.flags import FlagView
from storage import flags
from topics.flags import FlagChanged
from workflows.flags import Setting, set_flag
from workflows.usage import Budget


@pytest.fixture
def name() -> str:
    return f"f_{uuid.uuid4().hex[:10]}"


async def _outbox(pg, topic: str, key: str) -> list[dict]:
    rows = await pg.fetch(
        "SELECT value FROM outbox WHERE topic = $1 AND key = $2 ORDER BY id", topic, key
    )
    return [dict(r["value"]) for r in rows]


async def test_a_change_is_stored_published_and_audited_in_one_go(pg, name):
    first = await set_flag(
        pg, Setting("*", "chat", name, True, 25, {"models": ["large", "small"]}), actor="cli:ops"
    )
    second = await set_flag(pg, Setting("acme", "chat", name, False, 0, None), actor="alice")
    again = await set_flag(pg, Setting("*", "chat", name, True, 50, 3), actor="cli:ops")
    assert again.updated_at > first.updated_at
    stored = await flags.flags(pg, service="chat", name=name)
    assert [(f.tenant_id, f.enabled, f.rollout_percent, f.value) for f in stored] == [
        ("*", True, 50, 3),
        ("acme", False, 0, None),
    ]
    published = await _outbox(pg, "pdfchat.flags.v1", f"*:chat:{name}")
    assert [(p["rollout_percent"], p["value"]) for p in published] == [
        (25, json.dumps({"models": ["large", "small"]})),
        (50, "3"),
    ]
    assert published[0]["updated_by"] == "cli:ops"
    assert (await _outbox(pg, "pdfchat.flags.v1", f"acme:chat:{name}"))[0]["value"] is None
    trail = await _outbox(pg, "pdfchat.audit.v1", "acme")
    mine = [e for e in trail if e["target"] == f"chat:{name}"]
    assert [(e["actor"], e["action"]) for e in mine] == [("alice", "flag.changed")]
    assert second.tenant_id == "acme"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"rollout_percent": 101}, InvalidInput),
        ({"rollout_percent": -1}, InvalidInput),
        ({"name": "Has Spaces"}, InvalidInput),
        ({"service": ""}, InvalidInput),
        ({"tenant_id": "acme:eu"}, InvalidInput),
        ({"value": float("nan")}, InvalidInput),
        ({"value": "x" * 20_000}, PayloadTooLarge),
    ],
)
async def test_bad_input_changes_nothing(pg, name, change, error):
    wanted = {
        "tenant_id": "*",
        "service": "chat",
        "name": name,
        "enabled": True,
        "rollout_percent": 10,
        "value": None,
    }
    with pytest.raises(error):
        await set_flag(pg, Setting(**(wanted | change)), actor="alice")
    assert await flags.flags(pg, name=name) == []
    assert await _outbox(pg, "pdfchat.flags.v1", f"*:chat:{name}") == []


async def test_the_rate_limits_setting_must_be_limits(pg):
    """web.rate_limits is read by every web process (web/limits.py): a value that is no limit
    is refused when set, not discovered at the next request."""
    good = {"chats": {"tenant": {"per_s": 5, "burst": 20}, "user": None}}
    await set_flag(pg, Setting("acme", "web", "rate_limits", True, 100, good), actor="alice")
    for bad in ({"chats": {"tenant": {"per_s": 0, "burst": 1}}}, {"pings": {}}, [1, 2], "fast"):
        with pytest.raises(InvalidInput, match=r"web\.rate_limits must be like"):
            await set_flag(pg, Setting("acme", "web", "rate_limits", True, 100, bad), actor="a")


@pytest.mark.parametrize(
    ("name", "good", "bads"),
    [
        ("budget_usd", 12.5, [-1, "10", True, 1e12, [5]]),
        (
            "model_route",
            ["openai:gpt-4o-mini", "local:extractive"],
            [[], "openai:gpt-4o", ["gpt-4o"], ["local:other"], [1], ["openai:x"] * 11],
        ),
    ],
)
async def test_the_chat_settings_must_be_a_budget_and_a_route(pg, tenant, name, good, bads):
    """Read by the web tier and the orchestrator (workflows/usage.py, agents/orchestrator.py):
    a value they could not use is refused when set."""
    await set_flag(pg, Setting(tenant, "chat", name, True, 100, good), actor="alice")
    for bad in bads:
        with pytest.raises(InvalidInput, match=rf"chat/{name}|chat model|local provider"):
            await set_flag(pg, Setting(tenant, "chat", name, True, 100, bad), actor="alice")
    (kept,) = await flags.flags(pg, tenants=[tenant], service="chat", name=name)
    assert kept.value == good


def test_a_budget_set_by_flag_comes_before_the_settings_in_its_scope():
    budget = Budget(monthly_usd=20.0, has_free_model=True, per_tenant_usd={"big": 500.0})
    budget = replace(budget, flags=FlagView("127.0.0.1:1"))
    assert (budget.for_tenant("acme"), budget.for_tenant("big")) == (20.0, 500.0)
    _add(budget.flags, "*", 7)
    assert (budget.for_tenant("acme"), budget.for_tenant("big")) == (7.0, 500.0)
    _add(budget.flags, "big", 900)
    _add(budget.flags, "acme", 0)
    assert (budget.for_tenant("acme"), budget.for_tenant("big")) == (0.0, 900.0)
    _add(budget.flags, "acme", 3, enabled=False)  # its own, off: back to the settings
    assert budget.for_tenant("acme") == 20.0


def _add(view, tenant: str, usd: float, *, enabled: bool = True) -> None:
    view.add(
        FlagChanged(
            tenant_id=tenant, service="chat", name="budget_usd", enabled=enabled,
            rollout_percent=100, value=json.dumps(usd), updated_at=datetime.now(UTC),
            updated_by="x",
        ).dumps()
    )  # fmt: skip
