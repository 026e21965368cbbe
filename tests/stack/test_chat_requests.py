"""The web sends a question's request to Kafka itself, right after its commit, and withdraws
it from the outbox (workflows.chat.send_request); on the real stack."""

from __future__ import annotations

import json
import time

import topics
from core.kafka import Publisher, records_of_key
from storage import chat
from tests.waiting import wait_until
from workflows import chat as workflow


async def test_a_request_sent_by_the_web_is_answered_and_not_relayed(settings, db, tenant):
    since_ms = int(time.time() * 1000)
    started = await workflow.start(
        db, workflow.Question(tenant_id=tenant, user_id="u1", question="Who keeps the keys?")
    )
    publisher = Publisher(settings.kafka_bootstrap)
    await publisher.start()
    try:
        assert await workflow.send_request(db, publisher, started.request)
    finally:
        await publisher.stop()

    left = await db.fetchval("SELECT count(*) FROM outbox WHERE id = $1", started.request.id)
    assert left == 0, "withdrawn, so the relay will not send it again"
    sent = await records_of_key(
        settings.kafka_bootstrap, topics.CHAT_REQUESTED, started.request.key, since_ms=since_ms
    )
    # The bytes the relay would have sent.
    assert sent == [json.dumps(started.request.value).encode()]
    assert json.loads(sent[0])["session_id"] == str(started.session_id)

    await _answered(db, tenant, started)


async def test_a_request_the_web_could_not_send_is_relayed_later(settings, db, tenant):
    started = await workflow.start(
        db, workflow.Question(tenant_id=tenant, user_id="u1", question="Who keeps the keys?")
    )
    stopped = Publisher(settings.kafka_bootstrap)
    assert not await workflow.send_request(db, stopped, started.request)
    due = await db.fetchval(
        "SELECT deliver_after > now() FROM outbox WHERE id = $1", started.request.id
    )
    assert due is True, "still in the outbox, for the relay a few seconds later"
    await _answered(db, tenant, started)


async def _answered(db, tenant: str, started: workflow.Started) -> None:
    async def finished() -> bool:
        session = await chat.get_session(db, tenant, started.session_id)
        return session is not None and session.status == "finished"

    await wait_until(finished, within_s=60)
