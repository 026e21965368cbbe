"""/readyz's worker check on a Quart app with a real database and no broker: a worker that
stopped beating, or an agent stuck on one event, makes the web tier say so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from quart import Quart

from storage import workers
from web import health


@pytest.fixture
async def app(pg, postgres_settings):
    await pg.execute("DELETE FROM workers")
    app = Quart("readiness")
    app.register_blueprint(health.blueprint)
    app.extensions.update(
        pool=pg,
        settings=postgres_settings.model_copy(
            update={"worker_missing_after_s": 20.0, "event_stuck_after_s": 600.0}
        ),
    )
    yield app
    await pg.execute("DELETE FROM workers")


async def _beat(pg, name: str, agents: list[str], *, ago_s: float = 0, busy=None) -> None:
    await workers.heartbeat(
        pg,
        worker_id=name,
        role="all",
        agents=agents,
        pid=1,
        started_at=datetime.now(UTC),
        busy=busy or {},
    )
    await pg.execute(
        "UPDATE workers SET seen_at = now() - make_interval(secs => $2) WHERE id = $1", name, ago_s
    )


async def _workers_check(app: Quart) -> dict:
    response = await app.test_client().get("/readyz")
    return (await response.get_json())["checks"]["workers"]


async def test_no_worker_yet_is_not_ready(app):
    check = await _workers_check(app)
    assert not check["ok"] and "no worker has started" in check["error"]


async def test_live_workers_covering_every_agent_are_ready(app, pg):
    await _beat(pg, "worker-1", ["parse", "embed"])
    await _beat(pg, "worker-2", ["orchestrator"])
    await _beat(pg, "worker-3", ["parse"], ago_s=3600)  # gone, but worker-1 runs its agent
    check = await _workers_check(app)
    assert check["ok"] and check["live"] == ["worker-1", "worker-2"]


async def test_an_agent_nobody_runs_any_more_is_reported(app, pg):
    await _beat(pg, "worker-1", ["parse", "embed"])
    await _beat(pg, "worker-2", ["orchestrator"], ago_s=60)
    check = await _workers_check(app)
    assert not check["ok"]
    assert "no live worker runs orchestrator" in check["error"] and "worker-2" in check["error"]


async def test_an_agent_stuck_on_one_event_is_reported(app, pg):
    await _beat(pg, "worker-1", ["parse"], busy={"parse": 900.0})
    check = await _workers_check(app)
    assert not check["ok"] and "worker-1: parse on one event for 900 s" in check["error"]
    response = await app.test_client().get("/readyz")
    assert response.status_code == 503
