"""Evidence for a question about whole documents ("What is this paper about?", "Summarize the R
FAQ", "What are the main topics?"): each document's opening and the passages its topic map
summarises its largest topics by. Searching such a question's words would bring whatever
mentions "summary" or "topics".

Which documents: those the chat is limited to, else the tenant's newest ready ones; a question
that names documents ("Summarize the R FAQ") takes those whose title or file name has its
words, and is searched like any other when none has them ("Give me an overview of how fitting
works" asks about a subject, not a document).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import asyncpg

from core.tracing import tracer
from llm.prompt import (
    defines,
    names_wholly,
    overview_names,
    points_at_a_document,
    reads_as_prose,
    says_the_name,
)
from storage import documents, search, topic_maps
from storage.documents import Document
from storage.search import Hit

# Documents overviewed in one answer, and how many of the newest (or of the chat's own) a named
# one is looked for in.
MAX_DOCUMENTS = 3
CANDIDATE_DOCUMENTS = 200
# A document's first segments, read to find where its prose begins (past a title page, a
# table of contents, a licence notice): Debian Reference's preface is its 80th.
OPENING_SEGMENTS = 100
# Topics quoted per document, the largest ones, in reading order: fewer when several
# documents share the answer.
TOPICS = {1: 4, 2: 2, 3: 2}
# Topics more read in case some of the largest are back matter (a bibliography, a licence).
SPARE_TOPICS = 3
_INTRODUCTION = re.compile(
    r"\b(abstract|introduction|overview|summary|about|purpose|scope)\b", re.IGNORECASE
)
# A book's preface or foreword tells its history and thanks its helpers more often than what
# it is about (Octave's: "Octave was originally intended to be companion software for an
# undergraduate-level textbook…"): an introduction after it says that better.
_PREFACE = re.compile(r"\b(preface|foreword)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[^\W\d_]{2}[)\"'”’]?[.!?](\s|$)")
# Back matter, which a topic map may count among a document's largest topics (LilyPond's
# 40-page essay has a bibliography and the GNU FDL's five pages): no topic of the document's
# own. Told by its heading: one that ends in such a word ("Engraving music bibliography",
# "22 Acknowledgements", "Function index"; not "References and pointers"), or a licence's
# ("Appendix A GNU Free Documentation License", "21 Licence details"; not "Managing licenses").
_NUMBERED = r"^(?:appendix\s+\w\b\.?\s*|[\d.]+\s+)?"
_BACK_MATTER = re.compile(
    _NUMBERED + r"(?:[\w-]+\s+){0,5}?(?:bibliography|references|index|acknowledge?ments?|credits"
    r"|colophon)\W*$"
    r"|" + _NUMBERED + r"(?:licen[cs]es?|copying|copyright)(?:\s+(?:details|terms|notice))?\W*$"
    r"|\b(?:gnu|gpl|free documentation|general public|apache|bsd|mit|creative commons)\b"
    r".*\blicen[cs]e\b",
    re.IGNORECASE,
)
# A licence or copyright notice, which many manuals open with: not what the document is about.
_NOTICE = re.compile(
    r"\b(permission is granted|copyright|all rights reserved|licen[cs]ed? under|free software"
    r"|without (any )?warranty|trademarks?)\b",
    re.IGNORECASE,
)


async def overview_evidence(
    pool: asyncpg.Pool,
    tenant_id: str,
    subject: list[str],
    document_ids: Sequence[uuid.UUID] | None,
    *,
    whole_name: bool = False,
) -> list[Hit] | None:
    """Per document, its opening, then one passage per large topic (the opening alone for a
    question that names the document wholly: "What is camlidl?"); None when ``subject``
    names no document in scope (the question is then to be searched); with ``whole_name``,
    when it is no document's whole name ("What is Octave?", ``llm.prompt.names_wholly``).
    One span."""
    with tracer.start_as_current_span("overview") as span:
        evidence = await _evidence(pool, tenant_id, subject, document_ids, whole_name)
        span.set_attribute("pdfchat.overview.passages", -1 if evidence is None else len(evidence))
        return evidence


async def title_pages(
    pool: asyncpg.Pool,
    tenant_id: str,
    subject: list[str],
    document_ids: Sequence[uuid.UUID] | None,
) -> list[Hit] | None:
    """For "Who wrote the hashing paper?" and "When was the FAQ last updated?": the first
    segment (its title page) of each document the subject names (``llm.prompt.byline_subject``,
    ``dated_subject``; all in scope, at most three, for "Who wrote this?"); None when it names
    none, and the question is searched."""
    chosen = await _documents(pool, tenant_id, subject, document_ids, whole_name=False)
    if not chosen:
        return None
    return await search.openings(pool, tenant_id, [d.id for d in chosen], per_document=1)


async def documents_named(
    pool: asyncpg.Pool,
    tenant_id: str,
    question: str,
    document_ids: Sequence[uuid.UUID] | None,
) -> list[uuid.UUID] | None:
    """The documents in scope that a question names by title or file name ("What date is on
    the letter?" names letter.pdf: ``llm.prompt.says_the_name``), for its search to keep to;
    None when it names none, or every one. The names are read only when the question points
    at a kind of document."""
    if not points_at_a_document(question):
        return None
    ready = await documents.ready(pool, tenant_id, ids=document_ids, limit=CANDIDATE_DOCUMENTS)
    named = [
        d.id for d in ready if says_the_name(question, search.document_name(d.title, d.filename))
    ]
    return named if named and len(named) < len(ready) else None


async def _evidence(
    pool: asyncpg.Pool,
    tenant_id: str,
    subject: list[str],
    document_ids: Sequence[uuid.UUID] | None,
    whole_name: bool,
) -> list[Hit] | None:
    chosen = await _documents(pool, tenant_id, subject, document_ids, whole_name)
    if not chosen:
        return None
    starts = await search.openings(
        pool, tenant_id, [d.id for d in chosen], per_document=OPENING_SEGMENTS
    )
    evidence: list[Hit] = []
    for document in chosen:
        first = opening(
            [h for h in starts if h.document_id == document.id],
            subject if whole_name else None,
        )
        if first is not None:
            evidence.append(first)
        if whole_name and first is not None:
            continue  # "What is camlidl?": its opening says; a tour of its topics does not
        topic_map = await topic_maps.get(pool, tenant_id, document.id)
        if not topic_map:
            continue
        wanted = TOPICS[len(chosen)]
        found = await search.passages(
            pool, tenant_id, key_segments(topic_map, wanted + SPARE_TOPICS)
        )
        evidence += topic_passages(topic_map, found, wanted, besides=first)
    # Scores keep this order wherever evidence is sorted best first.
    return [replace(h, score=1.0 - n / 100) for n, h in enumerate(evidence)]


async def _documents(
    pool: asyncpg.Pool,
    tenant_id: str,
    subject: list[str],
    document_ids: Sequence[uuid.UUID] | None,
    whole_name: bool,
) -> list[Document]:
    ready = await documents.ready(pool, tenant_id, ids=document_ids, limit=CANDIDATE_DOCUMENTS)
    if whole_name:
        return [d for d in ready if names_wholly(subject, d.title, d.filename)][:MAX_DOCUMENTS]
    picked = overview_names(subject, [f"{d.title or ''} {d.filename}" for d in ready])
    return [ready[i] for i in picked][:MAX_DOCUMENTS]


def opening(segments: list[Hit], subject: list[str] | None = None) -> Hit | None:
    """Where a document's prose begins: past its title page (the segment headed by the
    document's title) and any licence notice, the first segment that says what ``subject``
    is ("nauty … is a set of procedures for …", under "How to use this Guide"), else the first
    under an introduction's heading ("Abstract", "1 Introduction"), else under a preface's,
    else the first that reads as prose."""
    prose = [s for s in segments if reads_as_prose(s.content)]
    body = [s for s in prose if not _title_page(s)] or prose
    plain = [s for s in body if not _is_notice(s.content)]
    defining = [s for s in plain if subject and defines(subject, s.content)]
    introduced = [s for s in plain if s.heading and _INTRODUCTION.search(s.heading)]
    prefaced = [s for s in plain if s.heading and _PREFACE.search(s.heading)]
    chosen = defining or introduced or prefaced or plain
    return chosen[0] if chosen else None


def tells_a_topic(passage: Hit) -> bool:
    """Prose of the document's own: not back matter, nor a notice."""
    if passage.heading and _BACK_MATTER.search(passage.heading.strip()):
        return False
    return reads_as_prose(passage.content) and not _is_notice(passage.content)


def _is_notice(text: str) -> bool:
    """Mostly a licence or copyright notice: half its paragraphs or more. An introduction that
    says in passing that the software is free ("… published by the Free Software Foundation",
    in one of Octave's five paragraphs) is still the introduction."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    noticed = sum(1 for p in paragraphs if _NOTICE.search(p))
    return noticed > 0 and noticed * 2 >= len(paragraphs)


def _title_page(segment: Hit) -> bool:
    """Headed by the document's title, with no sentence that ends on a word: a title, a
    subtitle, a version and names ("W. N. Venables"), not a text that starts on page 1."""
    titled = _folded(segment.heading or "") == _folded(segment.title or "")
    return titled and not _SENTENCE_END.search(segment.content)


def _folded(text: str) -> str:
    return " ".join(text.lower().split())


def topic_passages(
    topic_map: dict[str, Any], found: list[Hit], topics: int, *, besides: Hit | None
) -> list[Hit]:
    """Of the ``found`` passages of the map's largest topics, those of the ``topics`` largest
    that tell a topic of the document's own (``tells_a_topic``) and are not ``besides`` (its
    opening), in reading order."""
    told = {
        h.segment_id: h
        for h in found
        if tells_a_topic(h) and (besides is None or h.segment_id != besides.segment_id)
    }
    return [told[k] for k in key_segments(topic_map, topics, keep=told.__contains__)]


def key_segments(
    topic_map: dict[str, Any],
    topics: int,
    *,
    keep: Callable[[uuid.UUID], bool] = lambda _: True,
) -> list[uuid.UUID]:
    """The first segment each of the map's ``topics`` largest topics is summarised by, in
    reading order, of the topics whose segment ``keep`` accepts (a map computed before it
    named them has none)."""
    keyed = [
        (position, len(t.get("segment_ids", [])), uuid.UUID(t["key_segment_ids"][0]))
        for position, t in enumerate(topic_map.get("topics", []))
        if t.get("key_segment_ids")
    ]
    kept = [k for k in keyed if keep(k[2])]
    largest = sorted(kept, key=lambda k: -k[1])[:topics]
    return [key for _, _, key in sorted(largest)]
