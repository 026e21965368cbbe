"""Maintenance: work the database says is due but whose event was lost or whose worker died.

One worker leads it at a time (agents.leadership); every ``SWEEP_S`` it ends chats whose
orchestrator went quiet, drives stale tasks and orphaned documents again, fails documents
stuck past their deadline, re-embeds after a model switch, asks for missing topic maps and
forgets workers long gone, and moves canary rollouts on or back; every ``RARELY_S`` it
removes the files of documents that do not exist, forgets idle rate-limit buckets, and
archives the audit trail of finished days; every ``AUDIT_VERIFY_S`` it checks every tenant's
audit trail.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from agents import runner
from agents.app import app, settings
from agents.leadership import lead_forever
from agents.resources import Resources, resources
from core.metrics import ANSWERS, AUDIT_PROBLEMS, AUDIT_VERIFIED, ROLLOUT_STEPS
from storage import rate_limits, workers
from workflows import audit, rollouts
from workflows.chat import take_over_stale
from workflows.documents import remove_orphan_blobs
from workflows.embedding import schedule_reembedding
from workflows.encodings import request_unencoded
from workflows.tasks import fail_overdue, redrive_orphans, requeue_stale
from workflows.topic_maps import request_missing

log = logging.getLogger("pdfchat.agents.maintenance")

SWEEP_S = 2.0
# A worker row unseen this long is dropped, and its agents are no longer expected by /readyz.
FORGET_WORKERS_AFTER_S = 24 * 3600
# Listing every document's files is slow on a big store: not every sweep. An upload writes its
# file before its row commits, so a file is an orphan only once far older than any upload.
RARELY_S = 600.0
ORPHAN_BLOBS_AFTER_S = 3600.0
# A bucket untouched this long is full again (no limit refills slower than a token a day).
IDLE_BUCKETS_AFTER_S = 24 * 3600
# Walking every tenant's audit trail reads all of it: a few times a day.
AUDIT_VERIFY_S = 6 * 3600.0


@app.task
async def maintain() -> None:
    deps = await resources()
    await lead_forever("maintenance", lambda conn: _sweep_forever(deps, conn))


async def _sweep_forever(deps: Resources, conn: asyncpg.Connection) -> None:
    # ``conn`` holds the lock; the sweeps use the pool, so a slow one never holds it up.
    swept_rarely_at = verified_at = -AUDIT_VERIFY_S
    while True:
        try:
            await sweep(deps)
            if time.monotonic() - swept_rarely_at >= RARELY_S:
                await sweep_rarely(deps)
                swept_rarely_at = time.monotonic()
            if time.monotonic() - verified_at >= AUDIT_VERIFY_S:
                await verify_audit(deps)
                verified_at = time.monotonic()
        except Exception as exc:
            if not runner.is_outage(exc):
                raise
            log.warning("sweep interrupted by an outage", extra={"error": str(exc)})
        await conn.execute("SELECT 1")  # still the leader: the lock's session is alive
        await asyncio.sleep(SWEEP_S)


async def sweep(deps: Resources) -> None:
    pool = deps.pool
    handed_over, failed = await take_over_stale(
        pool, lease_s=settings.chat_lease_s, max_attempts=settings.chat_max_attempts
    )
    ANSWERS.labels("taken_over").inc(len(handed_over))
    ANSWERS.labels("answer_interrupted").inc(len(failed))
    if handed_over:
        log.warning("handed stale answers to another orchestrator", extra={"sessions": handed_over})
    if failed:
        log.error("ended answers interrupted too often", extra={"sessions": failed})
    if requeued := await requeue_stale(pool, lease_s=settings.task_lease_s):
        log.warning("requeued stale tasks", extra={"tasks": requeued})
    if redriven := await redrive_orphans(pool, lease_s=settings.task_lease_s):
        log.warning("re-drove documents whose work order was lost", extra={"documents": redriven})
    if overdue := await fail_overdue(pool, deadline_s=settings.document_deadline_s):
        log.error("failed documents stuck past their deadline", extra={"documents": overdue})
    if queued := await schedule_reembedding(pool, deps.embedder.model):
        log.info("re-embedding with the configured model", extra={"documents": queued})
    await request_missing(pool, lease_s=settings.task_lease_s)
    if deps.encoder is not None:
        await request_unencoded(pool, deps.encoder.name, lease_s=settings.task_lease_s)
    await workers.forget_gone(pool, older_than_s=FORGET_WORKERS_AFTER_S)
    for _, verdict in await rollouts.advance_all(pool):
        ROLLOUT_STEPS.labels(verdict.action).inc()


async def verify_audit(deps: Resources) -> None:
    """Check every tenant's audit trail and its archives; what is wrong is a metric (alert
    AuditTrailDamaged) and an error in the log, for an operator to look into."""
    for verdict in await audit.verify_all(deps.pool, deps.blobs):
        AUDIT_PROBLEMS.labels(verdict.tenant_id).set(len(verdict.problems))
        if verdict.problems:
            log.error(
                "the audit trail is damaged",
                extra={"tenant_id": verdict.tenant_id, "problems": verdict.problems[:20]},
            )
    AUDIT_VERIFIED.set_to_current_time()


async def sweep_rarely(deps: Resources) -> None:
    if removed := await remove_orphan_blobs(
        deps.pool, deps.blobs, older_than_s=ORPHAN_BLOBS_AFTER_S
    ):
        log.warning(
            "removed the files of documents that do not exist", extra={"documents": removed}
        )
    await rate_limits.forget_idle(deps.pool, older_than_s=IDLE_BUCKETS_AFTER_S)
    if archived := await audit.archive(deps.pool, deps.blobs):
        log.info("archived the audit trail of finished days", extra={"archives": archived})
