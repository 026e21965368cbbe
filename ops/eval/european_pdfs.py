"""The European evaluation set: the Debian FAQ in French and in German, asked in each language.

    .venv/bin/python ops/eval/european_pdfs.py            # fetch the PDFs, check every question
    .venv/bin/python ops/eval/european_pdfs.py --write-pages

Real PDFs, fetched and checked as the debian set's are (ops/eval/debian_pdfs.py): the
documents (`ops/eval/european/documents.json`) are pinned package versions, the questions
(`ops/eval/european/questions/*.json`) carry evidence phrases copied from the PDF's text or are
unanswerable. It tests what English cannot: a question read in its own language
(core.languages), its function words, its words and their forms not taken for names, its
quantities and defaults, and the refusal said in it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The repository root first (see ops/eval/debian_pdfs.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ops.eval.debian_pdfs import main, package_set
from ops.eval.sets import EvalSet

HERE = Path(__file__).resolve().parent / "european"


def european_set() -> EvalSet:
    return package_set("european", HERE)


if __name__ == "__main__":
    main(HERE, __doc__ or "")
