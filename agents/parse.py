"""Parse agent: parse-requested → text and segments in Postgres → parsed (or failed)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures.process import BrokenProcessPool

import faust

import topics
from agents import runner
from agents.app import app, settings
from agents.channels import parse_requested
from agents.resources import WORKER_ID, Resources, resources
from core.errors import DocumentRejected, PdfchatError, TransientError
from core.metrics import FAILURES, PAGES_PARSED, PARSE_DURATION, RETRIES
from core.retry import backoff
from pdf import ParsedPdf, parse_pdf
from storage.documents import Claim
from workflows import parsing


class GaveUp(PdfchatError):
    code = "attempts_exhausted"


class PageReaderDied(TransientError):
    code = "page_reader_died"  # retried with a new pool, then given up like any fault


# One event at a time per worker: with Faust's concurrency > 1 a crash can commit offsets past
# events that were never processed (seen in our kill tests). Scale with worker processes and
# partitions instead; PyMuPDF parses one document at a time per process anyway.
@app.agent(parse_requested)
async def parse_documents(requests: faust.StreamT[topics.ParseRequested]) -> None:
    deps = await resources()
    await runner.run("parse", requests, lambda request: _handle(deps, request))


async def _handle(deps: Resources, request: topics.ParseRequested) -> None:
    claim = await parsing.claim(deps.pool, request, worker=WORKER_ID, turns=settings.fair_turns)
    if claim is None:
        return  # already finished, or deleted: a redelivered message
    with runner.working_for("parse", claim.trace):
        await _parse_claimed(deps, claim)


async def _parse_claimed(deps: Resources, claim: Claim) -> None:
    started = time.perf_counter()
    failed = "transient"  # why the last attempt failed: the reason its retry is counted under
    try:
        async for attempt in backoff(
            attempts=settings.parse_max_attempts,
            base_s=settings.retry_base_s,
            max_s=settings.retry_max_s,
        ):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    RETRIES.labels("parse", failed).inc()
                    retaken = await parsing.claim_again(deps.pool, claim, worker=WORKER_ID)
                    if retaken is None:
                        return  # finished or deleted meanwhile
                    claim = retaken
                failed = "transient"
                if claim.attempts > settings.parse_max_attempts:
                    raise GaveUp(f"gave up after {claim.attempts - 1} attempts")
                try:
                    parsed = await _parse(deps, claim)
                except PageReaderDied:
                    failed = PageReaderDied.code
                    raise
                await parsing.complete(deps.pool, deps.blobs, claim, parsed, worker=WORKER_ID)
        PARSE_DURATION.observe(time.perf_counter() - started)
        PAGES_PARSED.inc(parsed.page_count)
    except DocumentRejected as exc:
        await parsing.fail(deps.pool, claim, code=exc.code, reason=exc.message, worker=WORKER_ID)
        FAILURES.labels("parse", exc.code).inc()
    except Exception as exc:
        if runner.is_outage(exc):
            raise  # the runner holds the event until the database or the broker is back
        await _give_up(deps, claim, exc)


async def _give_up(deps: Resources, claim: Claim, exc: Exception) -> None:
    """Retries exhausted, or a fault we did not foresee: fail and dead-letter the request."""
    reason = f"could not be processed after {claim.attempts} attempts: {exc}"
    letter = parsing.dead_letter(claim, error=reason)
    await parsing.fail(
        deps.pool,
        claim,
        code=getattr(exc, "code", "internal"),
        reason=reason,
        worker=WORKER_ID,
        dead_letter=letter,
    )
    raise exc  # the runner logs it and counts it by its code


async def _parse(deps: Resources, claim: Claim) -> ParsedPdf:
    data = await deps.blobs.get(claim.document.blob_key)
    try:
        # PyMuPDF is CPU-bound; a thread keeps this worker's heartbeats and other agents going,
        # and the page-reading processes read a big document's page ranges side by side.
        return await asyncio.to_thread(
            parse_pdf,
            data,
            max_pages=settings.max_pages,
            segment_chars=settings.segment_chars,
            processes=deps.page_readers,
            ocr_languages=settings.ocr_languages,
        )
    except BrokenProcessPool as exc:
        # Killed, out of memory, or MuPDF crashed on a page: nothing of the parse was kept.
        deps.renew_page_readers()
        raise PageReaderDied("a process reading the document's pages died") from exc
