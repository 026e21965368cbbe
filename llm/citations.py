"""Citations from an LLM's answer: its ``[n]`` markers, each mapped to evidence block n with the
sentence of that block that best overlaps what the answer said next to the marker."""

from __future__ import annotations

import re

from llm._text import Span, same_term, sentences, terms
from llm.events import Citation
from llm.prompt import Evidence

# [1], [2, 3], [2-4] and [1][2] (each bracket matched on its own).
_MARKER = re.compile(r"\[(\d+(?:\s*[,;\u2013-]\s*\d+)*)\]")
QUOTE_MAX_CHARS = 240


def cited_numbers(marker_body: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", marker_body):
        bounds = re.split(r"\s*[\u2013-]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            low, high = int(bounds[0]), int(bounds[1])
            numbers += list(range(low, min(high, low + 20) + 1))  # a typo cannot cite 10,000
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


def citations_from_markers(answer: str, evidence: list[Evidence]) -> list[Citation]:
    """One citation per evidence block cited, in order of first mention; markers that name
    no block (a model inventing [9] of 3) are ignored."""
    claims: dict[int, list[str]] = {}
    for match in _MARKER.finditer(answer):
        claim = _claim_before(answer, match.start())
        for n in cited_numbers(match.group(1)):
            if 1 <= n <= len(evidence):
                claims.setdefault(n, []).append(claim)
    return [
        quote_citation(evidence[n - 1], " ".join(parts), marker=n) for n, parts in claims.items()
    ]


def quote_citation(evidence: Evidence, claim: str, *, marker: int | None = None) -> Citation:
    return Citation(
        document_id=evidence.document_id,
        page=evidence.page,
        segment_id=evidence.segment_id,
        quote=best_quote(evidence.text, claim),
        marker=marker,
    )


def best_quote(text: str, claim: str) -> str:
    """The sentence of ``text`` sharing most content terms with ``claim`` (first on ties),
    verbatim, cut at a word boundary when long."""
    spans = sentences(text)
    if not spans:
        return shorten(text.strip())
    wanted = terms(claim)
    best = max(spans, key=lambda span: _overlap(wanted, span))
    return shorten(best.text)


def shorten(quote: str, limit: int = QUOTE_MAX_CHARS) -> str:
    """A verbatim prefix of at most ``limit`` characters, ending at a word boundary."""
    if len(quote) <= limit:
        return quote
    cut = quote[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


def _overlap(wanted: list[str], span: Span) -> int:
    have = terms(span.text)
    return sum(any(same_term(w, h) for h in have) for w in set(wanted))


_TRAILING = re.compile(r"(?:\s*\[[^\]\n]*\])*[\s.!?]*$")


def _claim_before(answer: str, marker_at: int) -> str:
    """The sentence this marker closes: the text before it, back to the previous sentence end
    or marker. Markers placed after the full stop ("... 30 days. [1]") and runs of markers
    ("[1][2]") both refer to the sentence just before them."""
    head = _TRAILING.sub("", answer[:marker_at])
    starts = [head.rfind(ch) for ch in ".!?\n]"]
    return head[max(starts) + 1 :]
