"""The example subscriber of docs/topics.md counts what happened, once, per tenant per hour."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from aiokafka import AIOKafkaProducer

import pdfgen
import topics
from tests.records import read_all
from tests.waiting import wait_until

SUBSCRIBER = Path(__file__).parents[2] / "ops" / "subscribers" / "activity.py"
TIMEOUT_S = 120


async def test_pages_and_questions_per_tenant_per_hour_count_each_once(settings, api, tenant):
    client, other = api(tenant), api(f"{tenant}-other")
    ids = [
        (await client.upload(pdfgen.sample_pdf(pages, seed=500 + pages), "a.pdf"))["document_id"]
        for pages in (3, 2)
    ]
    await other.upload(pdfgen.sample_pdf(4, seed=504), "b.pdf")
    async with asyncio.timeout(TIMEOUT_S):
        await client.wait_for(ids)
    sessions = [(await client.chat(q))["stream_session_id"] for q in ("What?", "Why?")]
    # What the sweeps do after a failover: the same document parsed, the same question asked.
    await _publish_again(settings, topics.PARSED, f"{tenant}:{ids[0]}")
    await _publish_again(settings, topics.CHAT_REQUESTED, f"{tenant}:{sessions[0]}")

    rows = await _activity(settings, "--tenant", tenant)
    assert {row["tenant"] for row in rows} == {tenant}
    assert sum(row["pages"] for row in rows) == 5
    assert sum(row["questions"] for row in rows) == 2
    assert all(row["hour"].endswith(":00Z") for row in rows)

    everyone = await _activity(settings)
    assert {tenant, f"{tenant}-other"} <= {row["tenant"] for row in everyone}


async def _publish_again(settings, topic: str, key: str) -> None:
    """The record of ``key``, once the outbox relay has published it, sent again."""
    found: list = []

    async def published() -> bool:
        found[:] = [r for r in await read_all(settings, topic) if r.key == key.encode()]
        return bool(found)

    await wait_until(published, within_s=TIMEOUT_S)
    (record,) = found
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, record.value, key=record.key, headers=list(record.headers)
        )
    finally:
        await producer.stop()


async def _activity(settings, *args: str) -> list[dict]:
    command = [sys.executable, str(SUBSCRIBER), "--bootstrap-servers", settings.kafka_bootstrap]
    done = await asyncio.to_thread(
        subprocess.run,
        [*command, "--until-end", "--json", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
