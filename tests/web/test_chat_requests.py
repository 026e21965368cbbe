"""A question's request, when Kafka refuses it: the web leaves it in the outbox, where the
relay finds it a few seconds later (workflows.chat.send_request). The app here has no Kafka
(tests/web/real_app.py), so its publisher refuses every record."""

from __future__ import annotations

import uuid
from datetime import timedelta

from opentelemetry.trace import StatusCode

import topics
from tests.core.spans import named
from tests.waiting import wait_until
from workflows.chat import RELAY_REQUEST_AFTER_S

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_a_request_kafka_refuses_is_left_to_the_relay(app, auth, pg, spans):
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    response = await app.test_client().post(
        "/v1/chat",
        json={"question": "How long do refunds take?"},
        headers=auth(tenant, **{"X-Request-ID": "ask-1", "traceparent": TRACEPARENT}),
    )
    assert response.status_code == 202, await response.get_data()
    session_id = (await response.get_json())["stream_session_id"]
    await wait_until(lambda: not app.background_tasks, within_s=10)

    row = await pg.fetchrow(
        "SELECT headers, deliver_after - created_at AS delay FROM outbox"
        " WHERE topic = $1 AND value->>'session_id' = $2",
        topics.CHAT_REQUESTED,
        session_id,
    )
    assert row is not None, "the request is lost"
    assert row["delay"] == timedelta(seconds=RELAY_REQUEST_AFTER_S)
    # The relay will send it in the question's trace, with its request id.
    assert row["headers"]["x-request-id"] == "ask-1"
    assert row["headers"]["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1]
    (tried,) = named(spans, f"publish {topics.CHAT_REQUESTED}")
    assert tried.status.status_code == StatusCode.ERROR
    assert format(tried.context.trace_id, "032x") == TRACEPARENT.split("-")[1]
    await pg.execute("DELETE FROM outbox WHERE value->>'session_id' = $1", session_id)
