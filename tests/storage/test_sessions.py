"""An answer's session fences out an orchestrator that lost it: the claim count is its epoch
(storage.chat.touch_session, end_session), against PostgreSQL alone."""

from __future__ import annotations

import uuid

import asyncpg

from storage import chat
from tests.rows import unrelayed_session


async def test_an_orchestrator_that_lost_its_answer_can_neither_renew_nor_end_it(
    pg: asyncpg.Pool,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    session_id = await unrelayed_session(pg, tenant, "slow?", status="answering", attempts=1)
    assert await chat.touch_session(pg, tenant, session_id, attempts=1)
    async with pg.acquire() as conn:  # the sweep hands it over; another orchestrator takes it
        await chat.requeue_session(conn, tenant, session_id)
    taken = await chat.claim_session(pg, tenant, session_id)
    assert taken is not None and taken.attempts == 2

    assert not await chat.touch_session(pg, tenant, session_id, attempts=1)
    async with pg.acquire() as conn:
        ended_by_first = await chat.end_session(
            conn, tenant, session_id, attempts=1, status="finished", last_seq=9
        )
        ended_by_second = await chat.end_session(
            conn, tenant, session_id, attempts=2, status="finished", last_seq=12
        )
    assert (ended_by_first, ended_by_second) == (False, True)
    found = await chat.get_session(pg, tenant, session_id)
    assert found is not None and (found.status, found.last_seq) == ("finished", 12)
