"""A message its writer sends itself (storage.outbox.enqueue_unless_sent) waits for the relay
only after a delay, and is gone once withdrawn; against PostgreSQL alone."""

from __future__ import annotations

import uuid

import asyncpg

from storage import outbox
from storage.outbox import OutboxMessage


def _message(tenant: str) -> OutboxMessage:
    return OutboxMessage("pdfchat.test.v1", tenant, {"tenant_id": tenant}, {"x-request-id": "r1"})


async def _pending(pg: asyncpg.Pool) -> list[outbox.PendingMessage]:
    async with pg.acquire() as conn:
        return await outbox.pending(conn, limit=100_000)


async def test_a_message_sent_by_its_writer_is_due_to_the_relay_only_later(pg):
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    async with pg.acquire() as conn, conn.transaction():
        later = await outbox.enqueue_unless_sent(conn, _message(tenant), within_s=3600)
        due = await outbox.enqueue_unless_sent(conn, _message(tenant), within_s=0)
    assert later.key == tenant and later.headers["x-request-id"] == "r1"
    pending = [m.id for m in await _pending(pg) if m.key == tenant]
    assert pending == [due.id]

    await outbox.withdraw(pg, due.id)
    await outbox.withdraw(pg, later.id)
    assert not [m for m in await _pending(pg) if m.key == tenant]
    remaining = await pg.fetchval("SELECT count(*) FROM outbox WHERE key = $1", tenant)
    assert remaining == 0


async def test_the_backlog_counts_only_what_is_due(pg):
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    async with pg.acquire() as conn:
        # One snapshot and one now(): no other test's rows come or fall due in between.
        transaction = conn.transaction(isolation="repeatable_read")
        await transaction.start()
        try:
            before, _ = await outbox.backlog(conn)
            await outbox.enqueue_unless_sent(conn, _message(tenant), within_s=3600)
            assert (await outbox.backlog(conn))[0] == before
            await outbox.enqueue_unless_sent(conn, _message(tenant), within_s=0)
            assert (await outbox.backlog(conn))[0] == before + 1
        finally:
            await transaction.rollback()


async def test_a_message_of_a_rolled_back_transaction_is_never_due(pg):
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    async with pg.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await outbox.enqueue_unless_sent(conn, _message(tenant), within_s=0)
        await transaction.rollback()
    assert not [m for m in await _pending(pg) if m.key == tenant]
