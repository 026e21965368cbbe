"""PDF parsing and segmenting: pure, synchronous, PyMuPDF-based.

``sniff_pdf`` is the cheap check for the web tier; ``parse_pdf`` is the full parse for the
worker (CPU-bound: run it in a thread; a big document's pages are read in parallel by the
processes of ``page_reader_pool``); ``segment_pages`` cuts page texts into segments;
``render_page`` draws a page as a PNG for the page viewer (CPU-bound too).
"""

from pdf.extract import SCHEMA_VERSION, ParsedPdf, page_reader_pool, parse_pdf, sniff_pdf
from pdf.render import render_page
from pdf.segmenting import PageText, Segment, join_lines, segment_pages, split_sentences

__all__ = [
    "SCHEMA_VERSION",
    "PageText",
    "ParsedPdf",
    "Segment",
    "join_lines",
    "page_reader_pool",
    "parse_pdf",
    "render_page",
    "segment_pages",
    "sniff_pdf",
    "split_sentences",
]
