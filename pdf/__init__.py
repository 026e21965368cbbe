"""PDF parsing and chunking: pure, synchronous, PyMuPDF-based.

``sniff_pdf`` is the cheap check for the web tier; ``parse_pdf`` is the full parse for the
worker (CPU-bound: run it in a thread); ``chunk_pages`` cuts page texts into chunks;
``render_page`` draws a page as a PNG for the page viewer (CPU-bound too).
"""

from pdf.chunking import Chunk, PageText, chunk_pages, join_lines, split_sentences
from pdf.extract import SCHEMA_VERSION, ParsedPdf, parse_pdf, sniff_pdf
from pdf.render import render_page

__all__ = [
    "SCHEMA_VERSION",
    "Chunk",
    "PageText",
    "ParsedPdf",
    "chunk_pages",
    "join_lines",
    "parse_pdf",
    "render_page",
    "sniff_pdf",
    "split_sentences",
]
