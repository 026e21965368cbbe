"""An analyst allowed one tenant reads that tenant's records, and the broker refuses the rest.

`pdfchat analytics grant` makes the tenant's export topics, a SCRAM user and its ACLs; the
export agent copies the tenant's records there; the analyst subscribes over the analytics
listener (SASL) as any Kafka client would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

import pdfgen
import topics
from tests.records import headers_of
from tests.waiting import wait_until
from topics.exports import EXPORTED, analytics_group, tenant_topic

pytestmark = pytest.mark.stack

PDFCHAT = str(Path(sys.executable).with_name("pdfchat"))
TIMEOUT_S = 120
PASSWORD = "correct-horse-battery-staple"


def _cli(settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = os.environ | settings.to_env() | {"COLUMNS": "200"}
    return subprocess.run(
        [PDFCHAT, "analytics", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _grant(settings, tenant: str, user: str) -> None:
    done = _cli(
        settings,
        "grant",
        "--tenant",
        tenant,
        "--user",
        user,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert tenant_topic(tenant, topics.STATUS) in done.stdout
    assert PASSWORD not in done.stdout


@asynccontextmanager
async def _analyst(settings, user: str, *subscribed: str, group: str, password: str = PASSWORD):
    consumer = AIOKafkaConsumer(
        *subscribed,
        bootstrap_servers=settings.kafka_analytics_bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_plain_username=user,
        sasl_plain_password=password,
        group_id=group,
        auto_offset_reset="earliest",
    )
    try:
        await consumer.start()
        yield consumer
    finally:
        await consumer.stop()


async def test_an_analyst_reads_its_tenants_records_and_nothing_else(settings, api, tenant):
    other = f"{tenant}-b"
    user, stranger = f"ana-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    _grant(settings, tenant, user)
    _grant(settings, other, stranger)  # so the other tenant's export topics exist
    client = api(tenant)
    document_id = (await client.upload(pdfgen.sample_pdf(2, seed=61), "a.pdf"))["document_id"]
    await api(other).upload(pdfgen.sample_pdf(1, seed=62), "b.pdf")
    async with asyncio.timeout(TIMEOUT_S):
        await client.wait_for([document_id])
        session_id = (await client.chat("What is recorded?"))["stream_session_id"]
        assert [m async for m in client.answer(session_id)][-1]["type"] == "end"

    mine = [tenant_topic(tenant, t) for t in EXPORTED]
    seen: dict[str, list] = {}
    async with _analyst(settings, user, *mine, group=analytics_group(tenant, user)) as analyst:
        async with asyncio.timeout(TIMEOUT_S):
            while not _has_all(seen, tenant, document_id, session_id):
                for records in (await analyst.getmany(timeout_ms=1000)).values():
                    for record in records:
                        seen.setdefault(record.topic, []).append(record)
    for records in seen.values():
        for record in records:
            assert json.loads(record.value)["tenant_id"] == tenant
            assert record.key.decode().split(":")[0] == tenant
            assert headers_of(record)["traceparent"].startswith("00-")

    # The rest of the broker's refusals: tests/core/test_kafka_access.py.
    for refused in (tenant_topic(other, topics.STATUS), topics.STATUS, topics.ANSWERS):
        with pytest.raises(TopicAuthorizationFailedError):
            async with _analyst(settings, user, refused, group=analytics_group(tenant, user)):
                pass


async def test_a_revoked_analyst_can_no_longer_connect(settings, token, tenant):
    user = f"eve-{uuid.uuid4().hex[:8]}"
    _grant(settings, tenant, user)
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        bearer = {"Authorization": f"Bearer {token(tenant, roles=('analyst',))}"}
        shown = (await http.get("/v1/analytics", headers=bearer)).json()
    assert shown["bootstrap_servers"] == settings.kafka_analytics_bootstrap
    assert [t["name"] for t in shown["topics"]] == [tenant_topic(tenant, t) for t in EXPORTED]
    assert shown["analysts"][0] | {"since": None} == {
        "user": user,
        "group": analytics_group(tenant, user),
        "since": None,
    }
    mine = tenant_topic(tenant, topics.STATUS)
    # Users and ACLs reach the brokers through the cluster's metadata, a moment after the call.
    await wait_until(lambda: _connects(settings, user, mine, tenant), within_s=TIMEOUT_S)
    listed = _cli(settings, "list", "--tenant", tenant)
    assert user in listed.stdout and analytics_group(tenant, user) in listed.stdout

    revoked = _cli(settings, "revoke", "--user", user)
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr

    async def refused() -> bool:
        return not await _connects(settings, user, mine, tenant)

    await wait_until(refused, within_s=TIMEOUT_S)
    assert user not in _cli(settings, "list", "--tenant", tenant).stdout
    again = _cli(settings, "revoke", "--user", user)
    assert again.returncode == 1 and "no analyst" in again.stdout


async def _connects(settings, user: str, topic: str, tenant: str) -> bool:
    try:
        async with _analyst(settings, user, topic, group=analytics_group(tenant, user)):
            return True
    except (KafkaConnectionError, TopicAuthorizationFailedError, GroupAuthorizationFailedError):
        return False


def test_bad_grants_are_refused_with_the_reason(settings, tenant):
    cases = {
        ("--tenant", "no spaces", "--user", "u1"): "tenant must match",
        ("--tenant", tenant, "--user", "User:root"): "user must match",
    }
    for args, reason in cases.items():
        done = _cli(settings, "grant", *args, "--password-stdin", stdin=PASSWORD + "\n")
        assert done.returncode == 1 and reason in done.stdout, done.stdout + done.stderr
    short = _cli(
        settings, "grant", "--tenant", tenant, "--user", "u2", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 1 and "at least 16 characters" in short.stdout


def _has_all(seen: dict[str, list], tenant: str, document_id: str, session_id: str) -> bool:
    def values(topic: str) -> list[dict]:
        return [json.loads(r.value) for r in seen.get(tenant_topic(tenant, topic), [])]

    return (
        any(
            v["document_id"] == document_id and v["status"] == "ready"
            for v in values(topics.STATUS)
        )
        and any(v["document_id"] == document_id for v in values(topics.PARSED))
        and any(v["document_id"] == document_id for v in values(topics.READY))
        and any(v["session_id"] == session_id for v in values(topics.CHAT_REQUESTED))
        and any(v["usage_id"] == session_id for v in values(topics.USAGE))
    )
