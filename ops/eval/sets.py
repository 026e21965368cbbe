"""What an evaluation set is: documents, their PDFs, and questions scored by answer pages.

Two sets exist: `legal` (ops/eval/retrieval.py: six public-domain texts rendered to clean PDFs)
and `debian` (ops/eval/debian_pdfs.py: real PDFs of Debian's documentation packages in five
layouts, with questions the documents cannot answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


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
