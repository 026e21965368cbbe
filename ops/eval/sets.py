"""What an evaluation set is: documents, their PDFs, and questions scored by answer pages.

Two sets exist: `legal` (ops/eval/retrieval.py: six public-domain texts rendered to clean PDFs)
and `debian` (ops/eval/debian_pdfs.py: real PDFs of Debian's documentation packages in five
layouts, with questions the documents cannot answer).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pymupdf


class Named(Protocol):
    @property
    def filename(self) -> str: ...


@dataclass(frozen=True)
class Question:
    id: str
    document: str
    question: str
    evidence: tuple[str, ...]
    pages: tuple[int, ...]  # 1-based pages of the document's PDF that answer it
    layout: str = "prose"
    # None for an answerable question; "near" when the document covers the topic but not the
    # asked fact, "off" when it does not cover the topic at all.
    unanswerable: str | None = None


@dataclass(frozen=True)
class EvalSet:
    name: str
    documents: Mapping[str, Named]  # id → what it is uploaded as
    pdfs: Mapping[str, bytes]
    questions: list[Question]

    @property
    def answerable(self) -> list[Question]:
        return [q for q in self.questions if q.unanswerable is None]

    @property
    def unanswerable(self) -> list[Question]:
        return [q for q in self.questions if q.unanswerable is not None]


def normalized(text: str) -> str:
    """Text as evidence is matched: ligatures and compatibility forms folded (NFKC), lines
    joined, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def page_texts(pdf: bytes) -> list[str]:
    """The text of every page as a reader sees it (``normalized``)."""
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        return [normalized(page.get_text()) for page in doc]


def evidence_pages(texts: Sequence[str], evidence: Iterable[str]) -> tuple[int, ...]:
    """The 1-based pages whose text holds one of the evidence phrases."""
    phrases = [normalized(phrase) for phrase in evidence]
    return tuple(n for n, text in enumerate(texts, 1) if any(p in text for p in phrases))


def write_questions(path: Path, questions: Sequence[Mapping[str, Any]]) -> None:
    """The question file again, one question per line (diffs stay readable), the rest of its
    keys as they were."""
    body = json.loads(path.read_text())
    lines = [f"  {json.dumps(q, ensure_ascii=False)}" for q in questions]
    head = {k: v for k, v in body.items() if k != "questions"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    path.write_text(text + ',\n "questions": [\n' + ",\n".join(lines) + "\n ]\n}\n")
