"""The topic-map agent gives way to parsing and embedding (agents/topic_map.py), boundedly."""

from __future__ import annotations

import uuid

import pytest

from agents import topic_map
from tests.rows import new_document, no_queued_tasks


@pytest.fixture
def naps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The agent's sleeps, counted instead of slept."""
    taken: list[float] = []

    async def nap(seconds: float) -> None:
        taken.append(seconds)

    monkeypatch.setattr(topic_map.asyncio, "sleep", nap)
    allowance = topic_map.settings.model_copy(update={"topic_map_give_way_s": 2.0})
    monkeypatch.setattr(topic_map, "settings", allowance)
    return taken


async def test_a_map_waits_while_a_document_waits_to_be_parsed_but_not_for_ever(pg, naps):
    await no_queued_tasks(pg)
    await pg.execute("UPDATE tasks SET status = 'failed' WHERE status = 'running'")
    await topic_map._give_way(pg)
    assert naps == []  # nothing waiting: straight on

    document = await new_document(pg, f"t-{uuid.uuid4().hex[:12]}")  # its parse task queued
    await topic_map._give_way(pg)
    assert sum(naps) == pytest.approx(2.0)  # gave way for its whole allowance, then went on
    await pg.execute("UPDATE tasks SET status = 'succeeded' WHERE document_id = $1", document)
    naps.clear()
    await topic_map._give_way(pg)
    assert naps == []
