"""What an evaluation set is: documents, their PDFs, and questions scored by answer pages.

Four sets exist: `legal` (ops/eval/retrieval.py: six public-domain texts rendered to clean
PDFs), `debian` (ops/eval/debian_pdfs.py: real PDFs of Debian's documentation packages in five
layouts, with questions the documents cannot answer), `chinese` (ops/eval/chinese_pdfs.py:
a manual and a policy with questions in Chinese) and `european` (ops/eval/european_pdfs.py:
the Debian FAQ in French and German, asked in each language).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pymupdf

from core.cjk import CJK_WRAPS


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
class Document:
    """A document written for a set: pages of ("h1" | "h2" | "h3" | "p", text) blocks, each
    rendered to exactly one PDF page."""

    id: str
    title: str
    source: str
    pages: list[list[tuple[str, str]]]
    layout: str = "prose"

    @property
    def filename(self) -> str:
        return f"{self.id}.pdf"

    def checked(self, pdf: bytes) -> bytes:
        """``pdf``, this document rendered, once it holds one PDF page per corpus page."""
        with pymupdf.open(stream=pdf, filetype="pdf") as doc:
            if doc.page_count != len(self.pages):
                raise ValueError(
                    f"{self.id}: a page overflowed ({doc.page_count} PDF pages for "
                    f"{len(self.pages)} corpus pages); shorten it"
                )
        return pdf


def read_corpus(directory: Path) -> dict[str, Document]:
    """The documents of ``directory/*.json`` (id, title, source, pages, optional layout)."""
    corpus = {}
    for path in sorted(directory.glob("*.json")):
        raw = json.loads(path.read_text())
        pages = [[(kind, text) for kind, text in page] for page in raw["pages"]]
        layout = raw.get("layout", "prose")
        corpus[raw["id"]] = Document(raw["id"], raw["title"], raw["source"], pages, layout)
    return corpus


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
    joined (with no space where a line wraps inside Chinese text), whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", CJK_WRAPS.sub("", text)).split())


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


def _raw_questions(directory: Path) -> dict[Path, list[dict[str, Any]]]:
    return {
        path: json.loads(path.read_text())["questions"] for path in sorted(directory.glob("*.json"))
    }


def derive_pages(
    raw: Sequence[Mapping[str, Any]], texts: Mapping[str, list[str]]
) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    found, problems = {}, []
    for n, q in enumerate(raw, 1):
        if not all(isinstance(q.get(key), str) and q[key] for key in ("id", "question")):
            problems.append(f"question {n} ({q.get('id')!r}): needs an id and a question")
            continue
        if q.get("document") not in texts:
            problems.append(f"{q['id']}: unknown document {q.get('document')!r}")
            continue
        if q.get("unanswerable"):
            if q["unanswerable"] not in ("near", "off") or q.get("evidence"):
                problems.append(f"{q['id']}: unanswerable is 'near' or 'off', with no evidence")
            found[q["id"]] = ()
            continue
        pages: set[int] = set()
        for phrase in q.get("evidence") or []:
            hits = evidence_pages(texts[q["document"]], [phrase])
            if not hits:
                problems.append(f"{q['id']}: evidence not in {q['document']}: {phrase!r}")
            pages.update(hits)
        if not q.get("evidence"):
            problems.append(f"{q['id']}: an answerable question needs evidence")
        found[q["id"]] = tuple(sorted(pages))
    return found, problems


def load_questions(
    pdfs: Mapping[str, bytes],
    layouts: Mapping[str, str],
    directory: Path,
    *,
    write_pages: bool = False,
) -> list[Question]:
    """Every question of the ``*.json`` files in ``directory``, checked against the PDFs: each
    evidence phrase occurs in its document, on exactly the recorded pages. With
    ``write_pages`` the derived pages are recorded instead. ``layouts``: each document's."""
    texts = {doc_id: page_texts(pdf) for doc_id, pdf in pdfs.items()}
    files = _raw_questions(directory)
    everything = [q for questions in files.values() for q in questions]
    ids = [q.get("id") for q in everything]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    derived, problems = derive_pages(everything, texts)
    if duplicates:
        problems.append(f"question ids used twice: {duplicates}")
    if write_pages and not problems:
        for path, questions in files.items():
            for q in questions:
                if not q.get("unanswerable"):
                    q["pages"] = list(derived[q["id"]])
            write_questions(path, questions)
    problems += [
        f"{q['id']}: recorded pages {q.get('pages')}, the PDF has {list(derived[q['id']])}"
        for q in everything
        if not q.get("unanswerable")
        and q.get("id") in derived
        and tuple(q.get("pages") or ()) != derived[q["id"]]
    ]
    if problems:
        raise ValueError("questions do not match the PDFs:\n" + "\n".join(problems))
    return [
        Question(
            q["id"],
            q["document"],
            q["question"],
            tuple(q.get("evidence") or ()),
            derived[q["id"]],
            layout=layouts[q["document"]],
            unanswerable=q.get("unanswerable"),
        )
        for q in everything
    ]
