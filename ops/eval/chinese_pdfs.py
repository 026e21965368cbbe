"""The Chinese evaluation set: a manual and a policy written in Chinese, asked in Chinese.

    .venv/bin/python ops/eval/chinese_pdfs.py            # render the PDFs, check every question
    .venv/bin/python ops/eval/chinese_pdfs.py --write-pages

Chinese puts no space between words, so it tests what English cannot: lines that wrap inside
words, full text and term matching by character pairs (core.cjk), sentences ending at 。.
The documents (`ops/eval/chinese/corpus/*.json`, pages of ("h1" | "h2" | "p", text) blocks,
with their layout) are rendered with `pdfgen.cjk_pdf`. The questions
(`ops/eval/chinese/questions.json`) are paraphrased, with evidence phrases copied from the
text, or unanswerable ("near": the topic is there and the asked fact is not; "off").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# The repository root first (see ops/eval/debian_pdfs.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pdfgen
from ops.eval.sets import Document, EvalSet, Question, load_questions, read_corpus

HERE = Path(__file__).resolve().parent / "chinese"
CORPUS_DIR = HERE / "corpus"


def load_corpus() -> dict[str, Document]:
    return read_corpus(CORPUS_DIR)


def render(corpus: dict[str, Document]) -> dict[str, bytes]:
    return {
        doc_id: doc.checked(pdfgen.cjk_pdf(doc.pages, title=doc.title))
        for doc_id, doc in corpus.items()
    }


def _questions(
    pdfs: dict[str, bytes], corpus: dict[str, Document], *, write_pages: bool = False
) -> list[Question]:
    layouts = {doc_id: doc.layout for doc_id, doc in corpus.items()}
    return load_questions(pdfs, layouts, HERE, write_pages=write_pages)


def chinese_set() -> EvalSet:
    corpus = load_corpus()
    pdfs = render(corpus)
    return EvalSet("chinese", corpus, pdfs, _questions(pdfs, corpus))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write-pages", action="store_true", help="record the answer pages")
    args = parser.parse_args()
    corpus = load_corpus()
    pdfs = render(corpus)
    try:
        questions = _questions(pdfs, corpus, write_pages=args.write_pages)
    except ValueError as problem:
        sys.exit(str(problem))
    answerable = sum(q.unanswerable is None for q in questions)
    print(
        f"{len(corpus)} documents, {answerable} answerable and "
        f"{len(questions) - answerable} unanswerable questions"
    )


if __name__ == "__main__":
    main()
