"""Analysts allowed one tenant's data: the grant and its undoing, on Kafka and in Postgres.

A grant makes the tenant's export topics (topics.exports), a SCRAM user on the brokers'
analytics listener, and ACLs that let that user read exactly those topics with one consumer
group; then it records the grant, which starts the export agent copying the tenant's records.
Every step is idempotent, so a grant cut short is finished by running it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg

from config import Settings
from core import kafka, kafka_access
from core.errors import InvalidInput, NotFound
from core.tokens import TENANT_PATTERN
from storage import analytics, outbox
from storage.analytics import Grant
from topics.audit import ANALYST_GRANTED, ANALYST_REVOKED
from topics.exports import EXPORTED, analytics_group, tenant_topic
from workflows import audit

# A SCRAM user name travels in the broker's ACL principal (User:<name>): no `:` or spaces.
USER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
MIN_PASSWORD_CHARS = 16


@dataclass(frozen=True)
class Access:
    """What an analyst needs to subscribe: where, as whom, to what."""

    grant: Grant
    bootstrap: str | None
    topics: list[str]


async def grant(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    tenant_id: str,
    user: str,
    password: str,
    actor: str,
) -> Access:
    _check(tenant_id, user, password)
    names = [tenant_topic(tenant_id, topic) for topic in EXPORTED]
    group = analytics_group(tenant_id, user)
    # One partition each: a tenant's share of the traffic, in order per document and session.
    await kafka.declare_topics(settings, names, partitions=1)
    await kafka_access.upsert_scram_user(settings.kafka_bootstrap, user, password)
    await kafka_access.revoke_all(settings.kafka_bootstrap, user)  # a user moved to a new tenant
    await kafka_access.grant_read(settings.kafka_bootstrap, user, topics=names, group=group)
    async with pool.acquire() as conn, conn.transaction():
        saved = await analytics.save_grant(conn, username=user, tenant_id=tenant_id, group=group)
        detail = {"group": group, "topics": names}
        await outbox.enqueue(
            conn, [audit.recorded(tenant_id, actor, ANALYST_GRANTED, user, detail)]
        )
    return Access(saved, settings.kafka_analytics_bootstrap, names)


async def revoke(pool: asyncpg.Pool, settings: Settings, user: str, *, actor: str) -> Grant:
    """The user can neither connect nor read any more; the export topics stay (with the
    tenant's data, until their retention), and the export goes on while the tenant has other
    analysts."""
    async with pool.acquire() as conn, conn.transaction():
        gone = await analytics.delete_grant(conn, user)
        if gone is None:
            raise NotFound(f"no analyst {user!r}")
        revoked = audit.recorded(gone.tenant_id, actor, ANALYST_REVOKED, user)
        await outbox.enqueue(conn, [revoked])
    await kafka_access.revoke_all(settings.kafka_bootstrap, user)
    await kafka_access.delete_scram_user(settings.kafka_bootstrap, user)
    return gone


def _check(tenant_id: str, user: str, password: str) -> None:
    if not TENANT_PATTERN.fullmatch(tenant_id):
        raise InvalidInput(f"tenant must match {TENANT_PATTERN.pattern}")
    if not USER_PATTERN.fullmatch(user):
        raise InvalidInput(f"user must match {USER_PATTERN.pattern}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
