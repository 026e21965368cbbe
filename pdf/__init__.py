"""PDF parsing and segmenting: pure, synchronous, PyMuPDF-based.

``sniff_pdf`` is the cheap check for the web tier; ``parse_pdf`` is the full parse for the
worker (CPU-bound: run it in a thread; a big document's pages are read in parallel by the
processes of ``page_reader_pool``); ``segment_pages`` cuts page texts into segments;
``render_page`` draws a page as a PNG for the page viewer (CPU-bound too).
"""

import sys

# PyMuPDF 2.0 imports its optional layout model and pymupdf4llm whenever they are installed
# (it depends on pymupdf4llm, which brings the model): onnxruntime and numpy, about 125 MB and
# 0.3 s in every process that imports PyMuPDF. pdfchat uses neither (no Page.get_layout, no
# to_markdown), so neither is imported: each worker, page reader and web process is that much
# smaller. (An entry of None in sys.modules makes the import fail, which PyMuPDF expects.)
for _unused in ("pymupdf.layout", "pymupdf4llm"):
    sys.modules.setdefault(_unused, None)  # type: ignore[arg-type]

from pdf.extract import (  # noqa: E402
    SCHEMA_VERSION,
    OcrFailed,
    ParsedPdf,
    ocr_available,
    page_reader_pool,
    parse_pdf,
    sniff_pdf,
)
from pdf.render import render_page  # noqa: E402
from pdf.segmenting import PageText, Segment, join_lines, segment_pages, split_sentences  # noqa: E402

__all__ = [
    "SCHEMA_VERSION",
    "OcrFailed",
    "PageText",
    "ParsedPdf",
    "Segment",
    "join_lines",
    "ocr_available",
    "page_reader_pool",
    "parse_pdf",
    "render_page",
    "segment_pages",
    "sniff_pdf",
    "split_sentences",
]
