"""Orchestrator agent: a question → retrieval → the prompt → a model → the answer stream.

Each answer runs in one of ``chat_concurrency`` actors, so a slow model never holds up other
tenants' questions. Tokens and citations go straight to the answers topic; the end (with
usage) commits with the assistant message through the outbox (workflows.chat).

A crash in the middle leaves the session unfinished; once its lease runs out the sweep hands
it to another orchestrator (workflows.chat.take_over_stale). That one reads what was sent
from the answers topic, answers again, and sends only what comes after: the client sees one
answer, each token once. A model that does not answer the same way twice (a remote one, not
the local model) cannot be continued exactly: the answer then ends with
``answer_interrupted`` rather than splice two answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any, Literal

import faust
from faust import current_event
from faust.types import RecordMetadata

import topics
from agents import runner
from agents.app import app, settings
from agents.channels import answers, chat_requested
from agents.resources import Resources, resources
from core import kafka, tracing
from core.errors import PdfchatError
from core.fairness import AnswerPriority, checkpoint
from core.flags import MODEL_ROUTE
from core.metrics import ANSWERS, FAILURES, TIME_TO_FIRST_TOKEN
from llm import (
    OVERVIEW_SYSTEM,
    AnswerInterrupted,
    Delta,
    Evidence,
    Finished,
    Prompt,
    Turn,
    byline_subject,
    dated_subject,
    is_follow_up,
    new_topic,
    overview_subject,
    previous_question,
    what_is_subject,
)
from storage.chat import Session
from storage.rollouts import Sample
from storage.search import Hit
from workflows import chat, rollouts, usage
from workflows.overview import documents_named, overview_evidence, title_pages
from workflows.search import MAX_QUERY_CHARS, meanings, search_segments, with_new_topic

log = logging.getLogger("pdfchat.agents.orchestrator")

# More sessions one request may answer after its own turn (bounded: the event is held, and not
# acknowledged, until its handler returns).
EXTRA_TURNS = 8
# Kafka stamps records with the producer's clock, the session its creation with PostgreSQL's:
# the events sent for a session are looked for from this long before it was created.
CLOCK_SKEW_S = 10.0
# Tokens after an answer's first wait at most this long to share a record (AnswerStream).
TOKEN_WINDOW_S = 0.025
MAX_TOKENS_PER_RECORD = 64
# Who gets this worker's CPU while many answers run (core/fairness.py).
priority = AnswerPriority()
SLAS: dict[str, Literal["interactive", "batch"]] = {"interactive": "interactive", "batch": "batch"}


@app.agent(chat_requested, concurrency=settings.chat_concurrency)
async def orchestrate(requests: faust.StreamT[topics.ChatRequested]) -> None:
    deps = await resources()
    await runner.run("orchestrator", requests, lambda request: _answer(deps, request))


async def _answer(deps: Resources, request: topics.ChatRequested) -> None:
    """Answer the session whose turn the request gives, then a few more while some wait: a
    session whose own request gave its turn to another is not left for one that never comes."""
    session = await chat.claim(
        deps.pool, request, turns=settings.fair_turns, full_tenants=_full_tenants()
    )
    extra = EXTRA_TURNS if settings.fair_turns else 0
    while session is not None:  # None: nothing pending (a redelivery, or answered meanwhile)
        with (
            runner.working_for("orchestrator", session.trace),
            priority.answering(session.tenant_id),
        ):
            await _answer_session(deps, session)
        if extra == 0:
            return
        extra -= 1
        session = await chat.next_session(deps.pool, _full_tenants())


def _full_tenants() -> set[str]:
    """Tenants running as many answers here as one may: the last ``chat_reserved_slots`` of
    ``chat_concurrency`` are kept for the others, so a question of another tenant finds a free
    slot at once instead of waiting for one of theirs to end. Only with turns: without them a
    request answers its own session or none, and one left would wait for the sweep."""
    if not settings.fair_turns:
        return set()
    return priority.tenants_running(
        at_least=settings.chat_concurrency - settings.chat_reserved_slots
    )


async def _answer_session(deps: Resources, session: Session) -> None:
    event = current_event()
    published = event.message.timestamp if event else time.time()  # when the relay sent it
    # The session answered may be another than the request's: a request is a turn
    # (workflows.chat.claim), so what the answer needs comes from the session.
    sent = await _sent_before(session) if session.attempts > 1 else []
    choice = rollouts.choice_for(deps.flags, session.tenant_id, session.user_id)
    variant = choice.variant if choice else rollouts.Variant()
    stream = AnswerStream(deps, session, session.created_at, sent=sent, choice=choice)
    asked = session.created_at.timestamp()
    timings = {"relayed_s": published - asked, "queued_s": time.time() - asked}
    try:
        started = time.perf_counter()
        with priority.retrieving(session.tenant_id):
            prompt = await _prompt(deps, session, variant)
        timings["retrieval_s"] = time.perf_counter() - started
        remaining = (  # the spend this month: a query worth making only with paid models
            None
            if deps.models.catalog.free_only
            else await usage.remaining_usd(deps.pool, session.tenant_id, deps.budget)
        )
        finished: Finished | None = None
        sla = SLAS.get(session.sla or "")
        answering = deps.models.answer(
            prompt, remaining_budget_usd=remaining, sla=sla, route=_route(deps, session, variant)
        )
        async for piece in answering:
            if isinstance(piece, Delta):
                await checkpoint()
                await stream.token(piece.text)
            else:
                finished = piece
        assert finished is not None, "a model stream ends with Finished"
        timings["answer_s"] = time.perf_counter() - started
        await stream.end(finished)
        ANSWERS.labels("answered").inc()
        log.info(
            "answered",
            extra={
                "session_id": str(session.id),
                "model": finished.usage.model,
                **{k: round(v, 4) for k, v in timings.items()},
            },
        )
    except chat.HandedOver:
        # Too slow for its lease (a long stall): another orchestrator has it now, and goes on
        # from what this one sent.
        log.warning("answer handed over while it was given", extra={"session_id": str(session.id)})
        ANSWERS.labels("handed_over").inc()
    except PdfchatError as exc:
        await stream.fail(exc.code, exc.message)
        ANSWERS.labels(exc.code).inc()
        FAILURES.labels("orchestrator", exc.code).inc()
    except Exception as exc:
        if runner.is_outage(exc):
            # Tokens may have gone out already, so the answer cannot start over: the sweep
            # ends the session with an error once its lease runs out, and the user asks again.
            ANSWERS.labels("interrupted").inc()
            raise
        log.exception("answer failed", extra={"session_id": str(session.id)})
        await stream.fail("internal", "the answer failed; please ask again")
        ANSWERS.labels("internal").inc()
        FAILURES.labels("orchestrator", "internal").inc()
    finally:
        stream.close()


def _route(deps: Resources, session: Session, variant: rollouts.Variant) -> list[str] | None:
    """The models that may answer: a canary variant's, else the tenant's chat/model_route (a
    dynamic setting, within its rollout), else None: the catalog's order."""
    if variant.models:
        return variant.models
    route = deps.flags.value(*MODEL_ROUTE, tenant=session.tenant_id, user_id=session.user_id)
    return route if isinstance(route, list) else None


async def _prompt(deps: Resources, session: Session, variant: rollouts.Variant) -> Prompt:
    # A canary's system prompt is for questions; an overview keeps the one that asks a model
    # to describe the documents (the question's rule, "refuse unless a block states it",
    # would make it refuse).
    overview = await _overview_prompt(deps, session)
    if overview is not None:
        return overview
    title_page = await _title_page_prompt(deps, session)
    if title_page is not None:
        return title_page
    prompt = await _question_prompt(deps, session, variant)
    return replace(prompt, system=variant.system_prompt) if variant.system_prompt else prompt


async def _overview_prompt(deps: Resources, session: Session) -> Prompt | None:
    """A question about whole documents ("What is this paper about?") gets their openings and
    main topics; None for any other question, or one that names no document in scope."""
    subject, whole_name = overview_subject(session.question), False
    if subject is None:  # "What is Octave?" asked of octave.pdf is about the whole of it too
        subject, whole_name = what_is_subject(session.question), True
    if subject is None:
        return None
    hits = await overview_evidence(
        deps.pool, session.tenant_id, subject, session.document_ids, whole_name=whole_name
    )
    if hits is None:
        return None
    history = await _history(deps, session)
    return Prompt(
        question=session.question,
        evidence=[_evidence(h) for h in hits],
        history=history,
        system=OVERVIEW_SYSTEM,
        overview=True,
    )


async def _title_page_prompt(deps: Resources, session: Session) -> Prompt | None:
    """ "Who wrote the hashing paper?", "When was the FAQ last updated?" get the title page of
    the document they name; None for any other question, or one that names no document in
    scope."""
    subject = byline_subject(session.question)
    if subject is None:
        subject = dated_subject(session.question)
    if subject is None:
        return None
    hits = await title_pages(deps.pool, session.tenant_id, subject, session.document_ids)
    if hits is None:
        return None
    history = await _history(deps, session)
    return Prompt(question=session.question, evidence=[_evidence(h) for h in hits], history=history)


async def _question_prompt(deps: Resources, session: Session, variant: rollouts.Variant) -> Prompt:
    # "What date is on the letter?" is searched in letter.pdf: its words are not the letter's.
    named = await documents_named(
        deps.pool, session.tenant_id, session.question, session.document_ids
    )
    if is_follow_up(session.question):  # its query needs the question before it
        history = await _history(deps, session)
        query = _query(session, history)
        hits = await _follow_up_search(deps, session, variant, query, history, named)
    else:  # the question alone is the query: its history is read meanwhile
        query = _query(session, [])
        history, hits = await asyncio.gather(
            _history(deps, session), _search(deps, session, variant, query, named)
        )
    # How close in meaning the passages are, for the local model's abstention.
    meaning = await meanings(deps.pool, deps.encoder, session.tenant_id, query, hits)
    return Prompt(
        question=session.question,
        evidence=[_evidence(h, meaning.get(h.segment_id)) for h in hits],
        history=history,
    )


def _evidence(hit: Hit, meaning: float | None = None) -> Evidence:
    return Evidence(
        segment_id=str(hit.segment_id),
        document_id=str(hit.document_id),
        page=hit.page,
        text=hit.content,
        score=hit.score,
        heading=hit.heading,
        title=hit.title,
        meaning=meaning,
    )


async def _sent_before(session: Session) -> list[topics.AnswerEvent]:
    """The events an earlier orchestrator sent for this session before it was stopped."""
    since_ms = int((session.created_at.timestamp() - CLOCK_SKEW_S) * 1000)
    values = await kafka.records_of_key(
        settings.kafka_bootstrap, topics.ANSWERS, _session_key(session), since_ms=since_ms
    )
    return [topics.AnswerEvent.loads(value) for value in values]


def _session_key(session: Session) -> str:
    return topics.session_key(session.tenant_id, str(session.id))


async def _history(deps: Resources, session: Session) -> list[Turn]:
    earlier = await chat.history(deps.pool, session)
    return [Turn(m.role, m.content) for m in earlier]  # type: ignore[arg-type]


async def _search(
    deps: Resources,
    session: Session,
    variant: rollouts.Variant,
    query: str,
    named: Sequence[uuid.UUID] | None = None,
) -> list[Hit]:
    """The question's evidence, from the documents it names if any, else from the chat's."""
    scope = named or session.document_ids
    return await search_segments(
        deps.pool,
        deps.embedders,
        deps.reranker,
        session.tenant_id,
        query,
        top_k=variant.evidence_k or settings.chat_evidence_k,
        mode=variant.retrieval_mode or "hybrid+rerank",
        document_ids=[str(d) for d in scope] if scope else None,
    )


async def _follow_up_search(
    deps: Resources,
    session: Session,
    variant: rollouts.Variant,
    query: str,
    history: list[Turn],
    named: Sequence[uuid.UUID] | None,
) -> list[Hit]:
    """A follow-up's hits: searched with the question before it, and alone too when it asks
    that question of another thing ("And what about unions?")."""
    topic = new_topic(session.question)
    before = previous_question(history)
    if not topic or not before:
        return await _search(deps, session, variant, query, named)
    alone = session.question[:MAX_QUERY_CHARS]  # as _query cuts the question with the one before
    together, alone_hits = await asyncio.gather(
        _search(deps, session, variant, query, named),
        _search(deps, session, variant, alone, named),
    )
    top_k = variant.evidence_k or settings.chat_evidence_k
    return with_new_topic(together, alone_hits, topic, before, top_k)


def _query(session: Session, history: list[Turn]) -> str:
    question = session.question
    before = previous_question(history)
    if before and is_follow_up(question):  # alone it names nothing to retrieve
        question = f"{before} {question}"
    return question[:MAX_QUERY_CHARS]


class AnswerStream:
    """Numbers and sends one session's events; renews its lease while the model talks.

    Tokens: the first goes out at once (the user is waiting for it); the next ones wait at
    most ``TOKEN_WINDOW_S`` and go out together, in one record (``AnswerEvent.more``), so a
    100-word answer costs Kafka and the web tier a few records instead of 100. Each token
    keeps its own number.

    ``sent``: what an earlier orchestrator of this session sent. Events with those numbers are
    not sent again, once checked to be the same; an answer that turns out different ends with
    ``answer_interrupted`` after the last event sent.

    ``choice``: the arm of a canary rollout that answers; the end commits its sample."""

    def __init__(
        self,
        deps: Resources,
        session: Session,
        requested_at: datetime,
        *,
        sent: list[topics.AnswerEvent] | None = None,
        choice: rollouts.Choice | None = None,
    ) -> None:
        self._deps = deps
        self._session = session
        self._requested_at = requested_at
        self._pending: list[Awaitable[RecordMetadata]] = []
        self._touched = time.monotonic()
        self._headers = runner.trace_headers()  # the answer's span, for every event it sends
        # One message per number: a record of the topic may carry several tokens.
        self._sent = {
            e.seq + n: m for e in sent or () if not e.is_last for n, m in enumerate(e.messages())
        }
        self._choice = choice
        self._ttft_ms: float | None = None
        self._words: list[str] = []  # tokens waiting for their record
        self._words_from = 0  # the number of the first of them
        self._window: asyncio.TimerHandle | None = None
        self._sending = asyncio.Lock()  # records go out in the order of their numbers
        self._sends: list[asyncio.Task[None]] = []  # those the window started
        self._started = False  # a record of this answer went out
        self.seq = 0

    async def token(self, text: str) -> None:
        if self.seq == 0 and not self._sent:
            waited_s = (datetime.now(UTC) - self._requested_at).total_seconds()
            self._ttft_ms = waited_s * 1000
            TIME_TO_FIRST_TOKEN.observe(waited_s)
            tracing.mark_latency(waited_s)  # an answer is slow by its first token
        self.seq += 1
        if (earlier := self._sent.get(self.seq)) is not None:
            if earlier != {"type": topics.chat.TOKEN, "seq": self.seq, "content": text}:
                self._diverged(self._session.model or "")
            return  # the earlier orchestrator sent it: the client has it
        if not self._words:
            self._words_from = self.seq
        self._words.append(text)
        if not self._started or len(self._words) >= MAX_TOKENS_PER_RECORD:
            await self._send_words()
        elif self._window is None:
            loop = asyncio.get_running_loop()
            self._window = loop.call_later(TOKEN_WINDOW_S, self._window_closed)
        if time.monotonic() - self._touched > settings.chat_lease_s / 3:
            self._touched = time.monotonic()
            await chat.touch(self._deps.pool, self._session)

    async def end(self, finished: Finished) -> None:
        citations = [topics.Citation(**asdict(c)) for c in finished.citations]
        await self._send(topics.chat.CITATIONS, items=citations)
        if self._sent and self.seq < max(self._sent):
            self._diverged(finished.usage.model)
        await self._flush()
        model_usage = topics.Usage(
            model=finished.usage.model,
            tokens_in=finished.usage.tokens_in,
            tokens_out=finished.usage.tokens_out,
            cost_usd=finished.usage.cost_usd,
        )
        await chat.finish(
            self._deps.pool,
            self._session,
            answer=finished.text,
            citations=citations,
            usage=model_usage,
            seq=self.seq + 1,
            found=finished.found,
            # Not ok when a call failed on the way: the user waited for a retry or a fallback.
            sample=self._sample(
                ok=not finished.skipped and not finished.failed_calls,
                cost=finished.usage.cost_usd,
            ),
        )

    async def fail(self, code: str, message: str) -> None:
        self.seq = max([self.seq, *self._sent])  # after all that was sent, whoever sent it
        await self._flush()
        await chat.fail(
            self._deps.pool,
            self._session,
            code=code,
            message=message,
            seq=self.seq + 1,
            sample=self._sample(ok=False, cost=0.0),
        )

    def close(self) -> None:
        """Stop the window: an answer given up (handed over, an outage) sends nothing more."""
        if self._window is not None:
            self._window.cancel()
            self._window = None

    def _sample(self, *, ok: bool, cost: float) -> Sample | None:
        if self._choice is None:
            return None
        return self._choice.sample(
            self._session.id, self._session.tenant_id, ok=ok, ttft_ms=self._ttft_ms, cost=cost
        )

    async def _send(self, kind: str, **fields: Any) -> None:
        await self._send_words()  # the tokens before it go first
        self.seq += 1
        event = self._event(self.seq, kind, **fields)
        if (earlier := self._sent.get(self.seq)) is not None:
            if earlier != event.to_message():
                self._diverged(self._session.model or "")
            return  # the earlier orchestrator sent it: the client has it
        await self._publish(event)

    def _window_closed(self) -> None:
        # Kept until the end gathers them: a send that failed fails the answer there, instead
        # of leaving a gap in its numbers that nobody sees.
        self._window = None
        self._sends.append(asyncio.create_task(self._send_words()))

    async def _send_words(self) -> None:
        if not self._words:
            return
        words, self._words = self._words, []
        first, *more = words
        await self._publish(
            self._event(self._words_from, topics.chat.TOKEN, content=first, more=more or None)
        )

    async def _publish(self, event: topics.AnswerEvent) -> None:
        async with self._sending:
            sent = await answers.send(key=event.kafka_key(), value=event, headers=self._headers)
            self._pending.append(sent)
            self._started = True

    def _event(self, seq: int, kind: str, **fields: Any) -> topics.AnswerEvent:
        return topics.AnswerEvent(
            tenant_id=self._session.tenant_id,
            session_id=str(self._session.id),
            seq=seq,
            type=kind,
            at=datetime.now(UTC),
            **fields,
        )

    def _diverged(self, model: str) -> None:
        raise AnswerInterrupted(
            "the answer was interrupted and could not be continued; please ask again",
            model=model,
            partial_text="",
        )

    async def _flush(self) -> None:
        """Send what waits, then wait for the broker to hold every event sent: the end must
        come after them."""
        self.close()
        await self._send_words()
        sends, self._sends = self._sends, []
        await asyncio.gather(*sends)
        pending, self._pending = self._pending, []
        await asyncio.gather(*pending)
