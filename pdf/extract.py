r"""Open, validate and read a PDF: pages of text, section headings, segments.

Everything here is synchronous and CPU-bound; the parse worker runs it in a thread, and a big
document's page ranges are read in the processes of :func:`page_reader_pool`.

Speed, measured with PyMuPDF 2.0 (MuPDF 1.28.5) on one core of the development machine:

- ``pdfgen.big_pdf(500)`` (500 pages of ~630 characters, headings every few pages):
  ``parse_pdf`` (open, checks, text, headings, segments) ~2 600 pages/s; plain
  ``page.get_text()`` of the same file ~6 300 pages/s, so ``parse_pdf`` costs ~2.4x plain text
  extraction (the ``"dict"`` extraction alone is ~1.5x). ``big_pdf(900)`` parses in 0.3 s.
- ``sample_pdf(500)`` (~1 000 characters a page): ~1 700 pages/s, 2.6x plain ``get_text()``.
- A real TeX manual (one span per word, the costly case for ``"dict"``): ~450 pages/s, 3.5x.

Reproduce the first figure with::

    .venv/bin/python -c "import time, pymupdf; import pdfgen as f; \
    from pdf import parse_pdf; d = f.big_pdf(500); t = time.perf_counter(); \
    parse_pdf(d, max_pages=1000); a = time.perf_counter() - t; t = time.perf_counter(); \
    [p.get_text() for p in pymupdf.open(stream=d)]; b = time.perf_counter() - t; \
    print(f'parse_pdf {500/a:.0f} p/s, get_text {500/b:.0f} p/s, ratio {a/b:.1f}')"

Each page is read once, with ``get_text("dict")`` (text plus font size and weight per span);
headings are then found from those records, because telling a heading needs the body font size
of the whole document.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

import pymupdf

from core.errors import DocumentRejected
from core.processes import process_pool
from pdf.segmenting import LEADER_DOTS, PageText, Segment, join_lines, segment_pages

__all__ = [
    "SCHEMA_VERSION",
    "OcrFailed",
    "ParsedPdf",
    "ocr_available",
    "page_reader_pool",
    "parse_pdf",
    "sniff_pdf",
]

log = logging.getLogger(__name__)

Bbox = tuple[float, float, float, float]

SCHEMA_VERSION = 2
"""Version of the JSON written by :meth:`ParsedPdf.to_json`; bump it on incompatible changes.
2: the list of segments is ``segments`` (version 1 called it ``chunks``; still read)."""

PDF_MAGIC = b"%PDF-"
# Readers accept a header anywhere in the first 1024 bytes (some files start with junk).
HEADER_WINDOW = 1024

# Average letters and digits per page below which a document has "no text layer". A scanned
# book often still carries a little text per page ("Page 3", a scanner's stamp); anything
# worth chatting with has far more than this.
MIN_WORD_CHARS_PER_PAGE = 16
# Scanned pages are rendered at this resolution for OCR: Tesseract reads 10–12 pt body text
# best at 300 dpi; about 2 s a page on one core here (docs/benchmarks.md).
OCR_DPI = 300

# Heading detection, relative to the body font size of the whole document.
HEADING_MAX_CHARS = 120  # per line; longer lines are prose
HEADING_MAX_LINES = 3  # a heading may wrap, a paragraph in a large font is not a heading
HEADING_SIZE_RATIO = 1.15  # "noticeably larger" than body text
# A title's wrapped lines sit closer than this (of a line's height) below each other; a heading
# and the next one, or a title and its authors, further apart (0.2-0.3 against 0.9 in papers
# and manuals).
HEADING_LINE_GAP = 0.5
QUESTION_END_MAX_WORDS = 3  # the end of a heading's question on a line of its own
BOLD_MIN_SIZE_RATIO = 0.95  # bold footnotes and captions in small type are not headings
BOLD_BODY_SHARE = 0.4  # if this much of the text is bold, bold says nothing
RUNNING_HEADER_SHARE = 0.5  # a "heading" repeated on over half the pages is a running header
SLIDE_MIN_ASPECT = 1.2  # a page this much wider than high is landscape
SLIDE_SHARE = 0.8  # of the pages, landscape: a slide deck

# Pages read per task by a pool of processes (parse_pdf's ``processes``): small enough that
# two processes finish close together, large enough that opening the file is a small cost.
RANGE_PAGES = 200
RANGES_PER_PROCESS = 100  # then the process is replaced, and MuPDF's caches with it

# No ligatures kept ("ﬁ" comes out as "fi"), no images (decoding them is the slow part and we
# do not use them), and text outside the page's media box is ignored.
_TEXT_FLAGS = pymupdf.TEXT_MEDIABOX_CLIP
_BOLD_FLAG = pymupdf.TEXT_FONT_BOLD

# PyMuPDF does not support threads: concurrent calls "may cause incorrect behaviour or even
# crash Python itself" (its docs). The worker runs parses in threads, so every use of PyMuPDF
# in this module holds this lock; parses in one process take turns. Pages are read in
# parallel by processes (page_reader_pool), each reading one range at a time.
_MUPDF_LOCK = threading.Lock()

# TeX's ligatures where a font has no Unicode map (pdfTeX's bitmap Type 3 fonts name their
# glyphs /a27, /a28 …, so MuPDF gives the code itself): "e\x1bect" is "effect" in the T1
# encoding (codes 27–31), "\x0cnd" is "find" in OT1 (codes 11–15). Read as such next to a
# Latin letter only; elsewhere these codes are pieces of big brackets in formulas ("\x0c\x0cµ(A)"
# is |µ(A)| in a math font), dropped as junk.
_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff"
_TEX_LIGATURES = re.compile(
    rf"(?<=[{_LATIN}])[\x0b-\x0f\x1b-\x1f]|[\x0b-\x0f\x1b-\x1f](?=[{_LATIN}])"
)
_LIGATURES = ("ff", "fi", "fl", "ffi", "ffl")
_LIGATURE_OF_CODE = dict(zip("\x1b\x1c\x1d\x1e\x1f", _LIGATURES, strict=True))
_LIGATURE_OF_CODE |= dict(zip("\x0b\x0c\x0d\x0e\x0f", _LIGATURES, strict=True))
# C0 and C1 control characters (a bullet in a font of its own encoding comes out as "\x88"),
# replacement characters and zero-width marks.
_JUNK_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd\u200b-\u200d\u2060\ufeff]")
# A minus sign or a typographic hyphen that starts an option: groff and TeX set "−K" and
# "−−persist" for "-K" and "--persist", which nobody types. Read as the hyphens they stand for,
# they are found by the options a question names (storage/migrations/023_option_lexemes.sql).
_OPTION_DASHES = re.compile(r"(?<!\w)[\u2010\u2011\u2212]{1,2}(?=[A-Za-z])")
_NOT_WORD = re.compile(r"\W+")
_BOLD_FONT_NAME = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_CAPTION = re.compile(r"(figure|fig\.|table|listing|plate|chart)\s*\d", re.IGNORECASE)
_NOT_A_HEADING_END = ".,;:"  # a heading does not end like a sentence or a lead-in
_BULLET = re.compile(r"[•◦▪▸►◮‣–—\-*·]\s")
_PAGE_NUMBER = re.compile(
    r"(page\s+)?(\d{1,5}|(?=[ivxlcdm])m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3}))"
    r"(\s*(of|/)\s*\d{1,5})?|[-–—]\s*\d{1,5}\s*[-–—]",
    re.IGNORECASE,
)
_FURNITURE_BAND = 0.08  # top and bottom share of the page where page numbers live
FURNITURE_MIN_PAGES = 3  # a margin line on this many pages is a running header or footer
# A running header that carries the page number and the current section ("160 gnuplot 5.4",
# "70 CallExternal") differs on every page, so it never repeats; it is told by its number,
# which follows the page's own. Such headers sit a little deeper than bare page numbers (the
# gnuplot manual's at 7-8 % of the page height, R's reference manual's at 9-10 %).
_FOLIO_BAND = 0.12
# Of the pages: a header's place or page number seen this often is the document's habit.
FURNITURE_HABIT_SHARE = 0.5
# A margin band holding more lines than this is text, not a running header's place (and the
# gap test, which compares each of its lines with the page's, stays cheap on crafted pages).
SLOT_MAX_BAND_LINES = 8
# Points (after rounding) a running header's place may move between pages: the French Debian
# FAQ's sits a point lower where it has an accented capital ("CHAPITRE 7. LES BASES DU SYSTÈME
# DE …" at 32.8 pt, "CHAPITRE 13. PARTICIPER AU PROJET DEBIAN …" at 31.9), and neither place
# alone was the habit of the document's pages.
SLOT_TOLERANCE = 2
# A line goes on the sentence above it across MuPDF's blocks within this share of a line's
# height between them (a wrapped line sits right below; a new paragraph or item further down).
CONTINUED_LINE_GAP = 1.0
# Lines set tight overlap their neighbours' boxes a little (a slide's 24-point bullets by 0.7
# points): still the line right below.
CONTINUED_LINE_OVERLAP = 0.25
# A table: a block with this many rows of pieces (MuPDF splits a row at each wide gap), a
# piece starting at one place (within COLUMN_TOLERANCE points) in most of them, and rows of
# pieces among its rows often enough: wrapped cells make rows of one piece.
TABLE_MIN_ROWS = 2
TABLE_PIECED_SHARE = 0.3
TABLE_ALIGNED_SHARE = 0.6
COLUMN_TOLERANCE = 2.0
FURNITURE_MAX_SIZE_RATIO = 1.05  # of the body font size; a larger numbered line is a heading
# A line with a letter in it that starts or ends with a number of up to five digits.
_FOLIO = re.compile(r"(\d{1,5})\s+(?=.*[^\W\d_]).+|(?=.*[^\W\d_]).+\s(\d{1,5})")
# What authoring tools write when the author did not: "Untitled", "Slide 1", "Presentation1".
_PLACEHOLDER_TITLE = re.compile(
    r"(untitled|title|slide|presentation|powerpoint presentation|document|doc|no title given)"
    r"\s*\d*",
    re.IGNORECASE,
)
_FILENAME_TITLE = re.compile(
    r"(^microsoft (word|powerpoint|excel) - )"
    r"|\.(docx?|pdf|tex|dvi|e?ps|pptx?|xlsx?|rtf|odt|indd|html?|txt|md)$",
    re.IGNORECASE,
)

# What MuPDF says when a repaired file is missing data it needs for a page (MuPDF 1.28 wording;
# pymupdf is pinned). Warnings about fonts and the like are harmless and not listed.
_DAMAGE = re.compile(
    r"cannot load|not a stream|page tree|non-page object|premature end|length incorrect|zlib"
    r"|read error|syntax error|end of file|cannot find|missing|broken|unexpected",
    re.IGNORECASE,
)

_MESSAGES = {
    "empty": "The file is empty (0 bytes). Please upload the PDF again.",
    "not_pdf": "This file is not a PDF document. Please upload a PDF file.",
    "corrupt": "This PDF is damaged and cannot be read. Try opening it on your computer and "
    "saving or exporting it as a new PDF, then upload that copy.",
    "bad_page": "This PDF is damaged: page {page} cannot be read. Try opening it on your "
    "computer and saving or exporting it as a new PDF, then upload that copy.",
    "truncated": "This PDF is incomplete or damaged: page {page} is missing data, perhaps "
    "because a download or upload was interrupted. Please upload the original file again.",
    "encrypted": "This PDF is protected by a password. Remove the password (for example by "
    "saving an unprotected copy) and upload it again.",
    "too_many_pages": "This PDF has {pages} pages, more than the limit of {limit} pages. "
    "Please split it into smaller files.",
    "needs_ocr": "This PDF has no text layer: its pages seem to be scanned images or pictures "
    "of text, and OCR (text recognition) read no text from them, or is not installed on this "
    "server.",
}


def sniff_pdf(head: bytes) -> bool:
    """True if ``head`` (the first bytes of a file) holds the "%PDF-" header in its first
    1024 bytes, as PDF readers require. Cheap: no parsing, safe to call anywhere."""
    return head.find(PDF_MAGIC, 0, HEADER_WINDOW + len(PDF_MAGIC) - 1) != -1


@dataclass(frozen=True)
class ParsedPdf:
    """Everything we read from one PDF."""

    page_count: int
    title: str | None  # from the metadata, else the first heading, else None
    pages: list[PageText]
    segments: list[Segment]
    metadata: dict[str, str] = field(default_factory=dict)  # non-empty PDF Info entries

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "page_count": self.page_count,
            "title": self.title,
            "metadata": dict(self.metadata),
            "pages": [
                {"number": p.number, "text": p.text, "headings": list(p.headings)}
                for p in self.pages
            ],
            "segments": [
                {"seq": s.seq, "page": s.page, "heading": s.heading, "text": s.text}
                for s in self.segments
            ],
        }

    def to_json(self) -> bytes:
        """The full result as compact UTF-8 JSON (for the blob store)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParsedPdf:
        return cls(
            page_count=data["page_count"],
            title=data["title"],
            pages=[_page_text(p) for p in data["pages"]],
            segments=[
                Segment(s["seq"], s["page"], s["heading"], s["text"])
                for s in data["segments" if "segments" in data else "chunks"]
            ],
            metadata=dict(data.get("metadata", {})),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> ParsedPdf:
        return cls.from_dict(json.loads(raw))

    @staticmethod
    def pages_from_json(raw: bytes | str) -> list[PageText]:
        """Only the pages of a stored result: a page viewer needs no segments."""
        return [_page_text(p) for p in json.loads(raw)["pages"]]


def _page_text(page: dict[str, Any]) -> PageText:
    return PageText(page["number"], page["text"], list(page["headings"]))


def parse_pdf(
    data: bytes,
    *,
    max_pages: int,
    segment_chars: int = 1200,
    processes: Executor | None = None,
    ocr_languages: str = "",
) -> ParsedPdf:
    """Read a PDF into pages, headings and segments.

    With ``processes`` (a process pool, see :func:`page_reader_pool`), a document of more than
    ``RANGE_PAGES`` pages has its page ranges read in parallel by the pool's processes; the
    result is the same as reading it here. A pool process that dies mid-range raises
    ``BrokenProcessPool`` and nothing is kept: the caller replaces the pool and parses again.

    With ``ocr_languages`` (Tesseract's names, "eng" or "eng+chi_sim"), a page that holds an
    image and next to no text (a scan) is read by OCR, when Tesseract is installed
    (:func:`ocr_available`); without, a document of such pages is rejected (needs_ocr).

    Raises :class:`DocumentRejected` (codes: empty, not_pdf, corrupt, encrypted,
    too_many_pages, needs_ocr) for a document that can never be parsed; its message is meant
    for the person who uploaded it. Any other exception is a fault of ours, not of the file.
    """
    if not data:
        raise _rejected("empty")
    if not sniff_pdf(data[:HEADER_WINDOW]):
        raise _rejected("not_pdf")
    with _MUPDF_LOCK:
        try:
            raw_pages, metadata = _read(data, max_pages, processes, ocr_languages)
        finally:
            # PyMuPDF keeps every MuPDF warning in a process-wide list that only grows.
            pymupdf.TOOLS.reset_mupdf_warnings()
    pages = _page_texts(raw_pages)
    _require_text_layer(pages)
    title = _title(metadata.get("title"), pages)
    segments = segment_pages(pages, segment_chars=segment_chars)
    return ParsedPdf(len(pages), title, pages, segments, metadata)


def _rejected(code: str, message: str | None = None, **details: object) -> DocumentRejected:
    """The rejection ``code`` with its message (or the variant named ``message``) filled in."""
    return DocumentRejected(_MESSAGES[message or code].format(**details), code=code)


# --- reading (holds the MuPDF lock) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    size: float  # font size of most of its characters
    bold: bool  # (nearly) all of it bold
    starts_bold: bool
    horizontal: bool  # rotated text (a margin note, a rotated table) is never a heading
    block: int
    starts_row: bool  # a row of a table: its own paragraph, with the lines it wraps onto
    y0: float
    y1: float


@dataclass(frozen=True, slots=True)
class _RawPage:
    number: int
    width: float
    height: float
    lines: list[_Line]


# A _RawPage as a pool process sends it: (number, width, height, [line fields]).
_WirePage = tuple[int, float, float, list[tuple[Any, ...]]]


def _read(
    data: bytes, max_pages: int, processes: Executor | None, ocr: str
) -> tuple[list[_RawPage], dict[str, str]]:
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:  # FileDataError and friends: nothing to open
        raise _rejected("corrupt") from exc
    with doc:
        page_count = _check_document(doc, max_pages)
        if processes is not None and page_count > RANGE_PAGES:
            return _read_in_ranges(data, page_count, processes, ocr), _metadata(doc)
        # Warnings so far belong to opening (and repairing) the file, not to any page.
        pymupdf.TOOLS.reset_mupdf_warnings()
        pages = [_read_page(doc, index, ocr) for index in range(page_count)]
        return pages, _metadata(doc)


def page_reader_pool(processes: int) -> ProcessPoolExecutor:
    """Processes for :func:`parse_pdf` to read page ranges in (core.processes), each started
    with PyMuPDF imported, and each replaced after some ranges so MuPDF's caches cannot grow
    without end."""
    # Started now, not during the first big document (~0.3 s).
    warm_up = partial(sniff_pdf, b"")
    return process_pool(processes, max_tasks_per_child=RANGES_PER_PROCESS, warm_up=warm_up)


def _read_in_ranges(data: bytes, page_count: int, processes: Executor, ocr: str) -> list[_RawPage]:
    """The pages read by ``processes``, RANGE_PAGES at a time, in order. The processes open
    the file from a temporary copy: one write, instead of the whole file sent with each range."""
    starts = range(0, page_count, RANGE_PAGES)
    stops = [min(start + RANGE_PAGES, page_count) for start in starts]
    # A unique name: a pool process knows a document by it (_opened).
    with tempfile.NamedTemporaryFile(prefix=f"pdfchat-{uuid.uuid4().hex}-", suffix=".pdf") as copy:
        copy.write(data)
        copy.flush()
        ranges = processes.map(
            _read_range, itertools.repeat(copy.name), starts, stops, itertools.repeat(ocr)
        )
        return [
            _RawPage(number, width, height, [_Line(*line) for line in lines])
            for pages in ranges
            for number, width, height, lines in pages
        ]


def _read_range(path: str, start: int, stop: int, ocr: str = "") -> list[_WirePage]:
    """Pages ``start`` to ``stop`` (0-based, stop excluded), in a pool process. Plain tuples:
    they cross the process boundary ten times faster than the dataclasses."""
    doc = _opened(path)
    pymupdf.TOOLS.reset_mupdf_warnings()
    try:
        pages = [_read_page(doc, index, ocr) for index in range(start, stop)]
    finally:
        pymupdf.TOOLS.reset_mupdf_warnings()
    return [(p.number, p.width, p.height, [_fields(line) for line in p.lines]) for p in pages]


_open_document: tuple[str, pymupdf.Document] | None = None


def _opened(path: str) -> pymupdf.Document:
    """The pool process's open copy of the file at ``path``: kept open between its ranges of
    one document, because a freshly opened document loads its fonts again (a third of a
    200-page range of a TeX manual went to that). Closed when the next document comes (the
    temporary copy is deleted meanwhile; its space is freed then)."""
    global _open_document
    if _open_document is not None and _open_document[0] == path:
        return _open_document[1]
    if _open_document is not None:
        _open_document[1].close()
        _open_document = None
    doc = pymupdf.open(path, filetype="pdf")
    _open_document = (path, doc)
    return doc


def _fields(line: _Line) -> tuple[Any, ...]:
    """The line's fields in order, for ``_Line(*fields)`` (``astuple`` deep-copies: slow)."""
    return tuple(getattr(line, name) for name in _Line.__slots__)


def _check_document(doc: pymupdf.Document, max_pages: int) -> int:
    if doc.needs_pass:  # an owner password alone does not set this: such files open freely
        raise _rejected("encrypted")
    try:
        page_count: int = doc.page_count
    except Exception as exc:
        raise _rejected("corrupt") from exc
    if page_count == 0:
        raise _rejected("corrupt")
    if page_count > max_pages:
        raise _rejected("too_many_pages", pages=page_count, limit=max_pages)
    return page_count


def _read_page(doc: pymupdf.Document, index: int, ocr: str = "") -> _RawPage:
    """One page's lines, or DocumentRejected("corrupt") if the page cannot be read in full.

    The policy on damaged files: MuPDF "repairs" a file whose cross-reference table is broken
    by scanning it for objects. That is harmless for the many files with merely wrong offsets,
    but a truncated file (an interrupted download) comes back with the right page count and
    pages that are silently blank or cut short, because their content streams or fonts lay
    past the cut. So in a repaired file, a page whose reading makes MuPDF report missing or
    broken data (see ``_DAMAGE``) rejects the whole document as corrupt; a repaired file whose
    pages all read cleanly is accepted. A page that raises is corrupt in any file. We reject
    rather than skip such pages: a chat that silently lacks part of a document gives confident
    wrong answers ("the document does not say"), while a rejection tells the user what to fix.
    """
    number = index + 1
    try:
        page = doc.load_page(index)
        content = page.get_text("dict", flags=_TEXT_FLAGS)
        height, width = page.rect.height, page.rect.width
    except Exception as exc:
        raise _rejected("corrupt", "bad_page", page=number) from exc
    if ocr and _is_scan(page, content) and ocr_available():
        content = _recognised(page, ocr)
    if doc.is_repaired:
        warnings = pymupdf.TOOLS.mupdf_warnings(reset=True)
        if _DAMAGE.search(warnings):
            log.warning("damaged page in repaired PDF", extra={"page": number, "mupdf": warnings})
            raise _rejected("corrupt", "truncated", page=number)
    return _RawPage(number, width, height, list(_lines(content)))


def ocr_available() -> bool:
    """Whether Tesseract's language data is installed (Debian: tesseract-ocr and its
    tesseract-ocr-<language> packages; elsewhere TESSDATA_PREFIX)."""
    return _tessdata() is not None


@cache
def _tessdata() -> str | None:
    try:
        found = pymupdf.get_tessdata()
    except Exception:  # no tesseract on PATH, no TESSDATA_PREFIX
        return None
    return str(found) if found else None


def _is_scan(page: pymupdf.Page, content: dict[str, Any]) -> bool:
    """An image with next to no text on it: a scanned or photographed page."""
    text = "".join(
        span["text"]
        for block in content["blocks"]
        if block.get("type") == 0
        for line in block["lines"]
        for span in line["spans"]
    )
    return len(_NOT_WORD.sub("", text)) < MIN_WORD_CHARS_PER_PAGE and bool(page.get_images())


def _recognised(page: pymupdf.Page, languages: str) -> dict[str, Any]:
    """The page's text as Tesseract reads it from the page rendered at ``OCR_DPI``, in the
    same form as ``get_text("dict")`` gives a text layer (lines, spans, sizes)."""
    try:
        textpage = page.get_textpage_ocr(
            flags=_TEXT_FLAGS, language=languages, dpi=OCR_DPI, full=True, tessdata=_tessdata()
        )
    except Exception as exc:  # e.g. a language whose data is not installed
        raise OcrFailed(f"OCR of page {page.number + 1} failed: {exc}") from exc
    content: dict[str, Any] = page.get_text("dict", flags=_TEXT_FLAGS, textpage=textpage)
    return content


class OcrFailed(RuntimeError):
    """Tesseract could not read a page: a fault of the installation (a missing language), not
    of the file, so the parse is retried and then dead-lettered, not rejected."""


def _lines(content: dict[str, Any]) -> Iterable[_Line]:
    for block in content["blocks"]:
        if block.get("type") != 0:  # 1 = image
            continue
        rows = list(_rows(block["lines"]))
        table = _is_table([columns for _, _, _, columns in rows])
        # A line of one piece at the table's left edge starts a row too (a line of code in a
        # block of them); further right, it is a cell that wraps and stays with its row.
        left = min((bbox[0] for _, bbox, _, columns in rows if columns), default=0.0)
        for spans, bbox, horizontal, columns in rows:
            starts_row = table and (bool(columns) or bbox[0] <= left + COLUMN_TOLERANCE)
            parsed = _line(spans, block["number"], bbox, horizontal, starts_row)
            if parsed is not None:
                yield parsed


_GAP = {"text": " ", "size": 0.0, "flags": 0, "font": ""}  # joins the pieces of one row


def _rows(
    lines: list[dict[str, Any]],
) -> Iterable[tuple[list[dict[str, Any]], Bbox, bool, list[float]]]:
    """The block's lines, with pieces of one visual row joined: MuPDF splits a row at a wide
    gap ("2.1<tab>Methods"), which would otherwise look like text beside a heading. With each
    row, where its pieces after the first begin (its columns, if it is a table's row)."""
    spans: list[dict[str, Any]] = []
    bbox: Bbox = (0.0, 0.0, 0.0, 0.0)
    horizontal = True
    columns: list[float] = []
    for line in lines:
        x0, y0, x1, y1 = line["bbox"]
        flat = abs(line["dir"][1]) < 0.05
        if spans and flat and horizontal and x0 >= bbox[2] - 1 and _same_row(bbox, y0, y1):
            spans += [_GAP, *line["spans"]]
            bbox = (bbox[0], min(bbox[1], y0), x1, max(bbox[3], y1))
            columns.append(x0)
            continue
        if spans:
            yield spans, bbox, horizontal, columns
        spans, bbox, horizontal, columns = list(line["spans"]), (x0, y0, x1, y1), flat, []
    if spans:
        yield spans, bbox, horizontal, columns


def _is_table(columns: list[list[float]]) -> bool:
    """Whether a block's rows (the starts of their pieces after the first, per row) are a
    table's: several rows of pieces, most of them with a piece starting at one place (a
    column). Prose that MuPDF split at a wide justified space has its pieces anywhere."""
    pieced = [row for row in columns if row]
    if len(pieced) < TABLE_MIN_ROWS or len(pieced) < TABLE_PIECED_SHARE * len(columns):
        return False
    # Rows with a piece near each place, counted in slots of half the tolerance (a piece
    # counts for its slot and the two beside it): linear in the pieces, since a crafted page
    # may hold thousands of rows in one block.
    near: Counter[int] = Counter()
    for row in pieced:
        slots = {round(2 * x / COLUMN_TOLERANCE) for x in row}
        near.update({slot + d for slot in slots for d in (-1, 0, 1)})
    aligned = max(near.values())
    return aligned >= TABLE_MIN_ROWS and aligned >= TABLE_ALIGNED_SHARE * len(pieced)


def _same_row(bbox: Bbox, y0: float, y1: float) -> bool:
    overlap = min(bbox[3], y1) - max(bbox[1], y0)
    return overlap > 0.5 * min(bbox[3] - bbox[1], y1 - y0)


def _line(
    spans: list[dict[str, Any]], block: int, bbox: Bbox, horizontal: bool, starts_row: bool
) -> _Line | None:
    # Hot loop (every line of every page): plain dicts and ints, no Counter.
    sizes: dict[float, int] = {}
    bold_chars = total = 0
    starts_bold: bool | None = None
    for span in spans:
        n = len(span["text"].strip())
        if not n:
            continue
        total += n
        size = round(span["size"], 1)
        sizes[size] = sizes.get(size, 0) + n
        bold = _is_bold(span)
        bold_chars += n if bold else 0
        starts_bold = bold if starts_bold is None else starts_bold
    if not total:
        return None
    text = "".join(s["text"] for s in spans)
    if not text.isprintable():  # the rare line with control codes: read TeX's ligatures first
        text = _TEX_LIGATURES.sub(lambda code: _LIGATURE_OF_CODE[code.group()], text)
    text = " ".join(_JUNK_CHARS.sub("", text).split())
    text = _OPTION_DASHES.sub(lambda dashes: "-" * len(dashes.group()), text)
    if not text:
        return None
    return _Line(
        text=text,
        size=max(sizes, key=sizes.__getitem__),
        bold=bold_chars >= 0.9 * total,
        starts_bold=bool(starts_bold),
        horizontal=horizontal,
        block=block,
        starts_row=starts_row,
        y0=bbox[1],
        y1=bbox[3],
    )


def _is_bold(span: dict[str, Any]) -> bool:
    return bool(span["flags"] & _BOLD_FLAG) or _bold_font_name(span["font"])


@cache
def _bold_font_name(font: str) -> bool:
    # Many fonts only say "Bold" in their name, not in their flags.
    return bool(_BOLD_FONT_NAME.search(font))


def _metadata(doc: pymupdf.Document) -> dict[str, str]:
    info = doc.metadata or {}
    keys = (
        "title",
        "author",
        "subject",
        "keywords",
        "creator",
        "producer",
        "creationDate",
        "modDate",
    )
    return {k: v.strip() for k in keys if isinstance(v := info.get(k), str) and v.strip()}


# --- headings and page text (no MuPDF) ------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    body_size: float
    bold_is_special: bool  # bold is rare enough to mark headings


def _document_style(bodies: list[list[_Line]]) -> _Style | None:
    sizes: Counter[float] = Counter()
    bold = total = 0
    for lines in bodies:
        for line in lines:
            if line.size >= 1:  # a degenerate size would make everything "larger"
                sizes[round(line.size * 2) / 2] += len(line.text)  # half-point bins
            total += len(line.text)
            bold += len(line.text) if line.bold else 0
    if not sizes:
        return None
    return _Style(sizes.most_common(1)[0][0], bold < BOLD_BODY_SHARE * total)


def _page_texts(raw_pages: list[_RawPage]) -> list[PageText]:
    furniture = _Furniture.of(raw_pages)
    bodies = [furniture.body(page) for page in raw_pages]
    style = _document_style(bodies)
    groups = [_heading_groups(lines, style) for lines in bodies]
    if _is_slide_deck(raw_pages):
        groups = [
            _slide_title(lines, page_groups)
            for lines, page_groups in zip(bodies, groups, strict=True)
        ]
    running = _running_headings(groups, bodies)
    return [
        _assemble(page.number, lines, page_groups, running)
        for page, lines, page_groups in zip(raw_pages, bodies, groups, strict=True)
    ]


def _is_slide_deck(pages: list[_RawPage]) -> bool:
    """Landscape pages, most of them: slides (4:3 is 1.33 wide per high, 16:9 is 1.78)."""
    landscape = sum(1 for p in pages if p.width >= SLIDE_MIN_ASPECT * p.height)
    return len(pages) >= FURNITURE_MIN_PAGES and landscape > SLIDE_SHARE * len(pages)


def _slide_title(lines: list[_Line], groups: list[int | None]) -> list[int | None]:
    """A slide without a heading of its own is headed by its first line, when that reads like
    a title: some decks set the title smaller than the bullets (a 28-point title over
    32-point text), and the size rule alone would carry the title slide's heading over every
    slide that follows."""
    if any(g is not None for g in groups) or not lines:
        return groups
    first = lines[0]
    text = first.text
    titled = (
        first.horizontal
        and len(text) <= HEADING_MAX_CHARS
        and sum(c.isalpha() for c in text) >= 2
        and text[-1] not in ".,;:"
        and not _BULLET.match(text)
    )
    return [0, *groups[1:]] if titled else groups


def _in_band(line: _Line, height: float, band: float = _FURNITURE_BAND) -> bool:
    """In the top or bottom margin band, where page numbers and running headers live."""
    return line.y1 < height * band or line.y0 > height * (1 - band)


@dataclass(frozen=True)
class _Furniture:
    """What a document prints in its margins on every page: page numbers, running headers and
    footers. Noise in every segment, and never a heading."""

    repeated: set[str]  # keys of margin lines that recur ("Chapter 4: Reference")
    slots: set[tuple[bool, int]]  # (top?, y) where a running header or footer sits
    folio_offset: int | None  # printed page number minus the page's, if headers carry it
    max_size: float  # headers are in body type or smaller; a larger line is a heading

    @classmethod
    def of(cls, pages: list[_RawPage]) -> _Furniture:
        style = _document_style([page.lines for page in pages])
        if len(pages) < FURNITURE_MIN_PAGES or style is None:
            return cls(set(), set(), None, 0.0)
        max_size = style.body_size * FURNITURE_MAX_SIZE_RATIO
        seen: Counter[str] = Counter()
        slots: Counter[tuple[bool, int]] = Counter()
        offsets: Counter[int] = Counter()
        for page in pages:
            margin = _margin(page)
            band = [ln for ln in margin if _in_band(ln, page.height)]
            seen.update({_line_key(ln.text) for ln in band})
            if len(band) <= SLOT_MAX_BAND_LINES:
                slots.update({_slot(ln, page) for ln in band if _set_apart(ln, page, max_size)})
            folios = (_folio(ln, page, max_size) for ln in margin)
            offsets.update({n - page.number for n in folios if n is not None})
        habit = max(FURNITURE_MIN_PAGES, FURNITURE_HABIT_SHARE * len(pages))
        offset, pages_with_it = offsets.most_common(1)[0] if offsets else (0, 0)
        return cls(
            repeated={key for key, n in seen.items() if key and n >= FURNITURE_MIN_PAGES},
            slots=_habitual(slots, habit),
            folio_offset=offset if pages_with_it >= habit else None,
            max_size=max_size,
        )

    def body(self, page: _RawPage) -> list[_Line]:
        """The page's lines without its furniture."""
        margin = _margin(page)
        slotted = sum(_in_band(ln, page.height) for ln in margin) <= SLOT_MAX_BAND_LINES
        furniture = {id(ln) for ln in margin if self._holds(ln, page, slotted=slotted)}
        return [ln for ln in page.lines if id(ln) not in furniture] if furniture else page.lines

    def _holds(self, line: _Line, page: _RawPage, *, slotted: bool) -> bool:
        if _in_band(line, page.height):
            if _PAGE_NUMBER.fullmatch(line.text) or _line_key(line.text) in self.repeated:
                return True
            in_slot = slotted and any(_close(_slot(line, page), s) for s in self.slots)
            if in_slot and _set_apart(line, page, self.max_size):
                return True
        if self.folio_offset is None:
            return False
        return _folio(line, page, self.max_size) == page.number + self.folio_offset


def _margin(page: _RawPage) -> list[_Line]:
    """The lines where furniture may be: the outer ``_FOLIO_BAND`` of the page, top and foot
    (hot: every line of every page)."""
    top, foot = page.height * _FOLIO_BAND, page.height * (1 - _FOLIO_BAND)
    return [ln for ln in page.lines if ln.y1 < top or ln.y0 > foot]


def _slot(line: _Line, page: _RawPage) -> tuple[bool, int]:
    return line.y1 < page.height * _FURNITURE_BAND, round(line.y0)


def _close(a: tuple[bool, int], b: tuple[bool, int]) -> bool:
    return a[0] == b[0] and abs(a[1] - b[1]) <= SLOT_TOLERANCE


def _habitual(slots: Counter[tuple[bool, int]], habit: float) -> set[tuple[bool, int]]:
    """The places seen on ``habit`` pages or more, counting places SLOT_TOLERANCE apart as one."""
    return {
        slot
        for slot in slots
        if sum(n for other, n in slots.items() if _close(slot, other)) >= habit
    }


def _set_apart(line: _Line, page: _RawPage, max_size: float) -> bool:
    """A margin line in body type or smaller, with a gap of half its height or more between
    it and the text: a running header ("CHAPTER 3. CHOOSING A DEBIAN … 3.2. BUT WHAT ABOUT")
    rather than the first line of a page with narrow margins."""
    if line.bold or line.size > max_size:
        return False
    middle, gap = (line.y0 + line.y1) / 2, 0.5 * (line.y1 - line.y0)
    if line.y1 < page.height * _FURNITURE_BAND:  # a header: nothing just below it
        return not any(middle < ln.y0 < line.y1 + gap for ln in page.lines)
    return not any(line.y0 - gap < ln.y1 < middle for ln in page.lines)  # a footer


def _folio(line: _Line, page: _RawPage, max_size: float) -> int | None:
    """The page number a running header starts or ends with ("160 gnuplot 5.4", "cbind 75"):
    a line in the margin band, not bold and not larger than body text."""
    if not _in_band(line, page.height, _FOLIO_BAND):
        return None
    if line.bold or line.size > max_size:
        return None
    match = _FOLIO.fullmatch(line.text)
    return None if match is None else int(match.group(1) or match.group(2))


def _heading_groups(lines: list[_Line], style: _Style | None) -> list[int | None]:
    """For each line, the id of the heading it belongs to, or None for body text.

    Consecutive heading lines of one block and style form one (wrapped) heading.
    """
    if style is None:
        return [None] * len(lines)
    candidate = [_looks_like_heading(i, lines, style) for i in range(len(lines))]
    groups: list[int | None] = [None] * len(lines)
    start = 0
    while start < len(lines):
        end = start + 1
        if candidate[start]:
            while (
                end < len(lines)
                and candidate[end]
                and _same_heading(lines[start], lines[end - 1], lines[end], style)
            ):
                end += 1
            if end < len(lines) and _ends_question(lines[end - 1], lines[end]):
                end += 1
            if _is_heading_group(lines, start, end):
                groups[start:end] = [start] * (end - start)
        start = end
    return groups


def _ends_question(last: _Line, other: _Line) -> bool:
    """A FAQ's question that wraps onto a line of a word or two in another font, which makes
    that line no heading of its own ("9. Why is nothing plotted except axes when I plot an
    object with many" | "NAs?", the second in typewriter)."""
    return (
        other.block == last.block
        and abs(other.size - last.size) <= 0.05 * last.size
        and other.text.endswith("?")
        and len(other.text.split()) <= QUESTION_END_MAX_WORDS
        and last.text[-1] not in ".!?:;"
    )


def _is_heading_group(lines: list[_Line], start: int, end: int) -> bool:
    return (
        end - start <= HEADING_MAX_LINES
        and lines[end - 1].text[-1] not in _NOT_A_HEADING_END  # its last line
        and not _beside_other_text(lines, start, end)
    )


def _looks_like_heading(i: int, lines: list[_Line], style: _Style) -> bool:
    line = lines[i]
    if not line.horizontal or len(line.text) > HEADING_MAX_CHARS:
        return False
    # The style first: it rules out most lines of a page, and costs least.
    if line.size < style.body_size * HEADING_SIZE_RATIO and not _bold_heading(i, lines, style):
        return False
    text = line.text
    return (
        (text[-1] not in _NOT_A_HEADING_END or _wraps_on(i, lines, style))
        and not _CAPTION.match(text)
        and not LEADER_DOTS.search(text)  # a table-of-contents entry
        and "…" not in text
        and sum(c.isalpha() for c in text) >= 2
    )


def _wraps_on(i: int, lines: list[_Line], style: _Style) -> bool:
    """A heading that wraps after a comma or a colon goes on in the next line, in its style
    ("7.7 What is an Essential, Required, Important, Standard, Optional," | "or Extra
    package?"; a paper's "Manuscript Title:" | "with Forced Linebreak")."""
    return (
        lines[i].text[-1] in ",:"
        and i + 1 < len(lines)
        and _same_heading(lines[i], lines[i], lines[i + 1], style)
    )


def _bold_heading(i: int, lines: list[_Line], style: _Style) -> bool:
    """Bold body-size text on its own line; a bold sentence that wraps into the next line is
    emphasis."""
    line = lines[i]
    if not (style.bold_is_special and line.bold):
        return False
    if line.size < style.body_size * BOLD_MIN_SIZE_RATIO:
        return False
    following = lines[i + 1] if i + 1 < len(lines) else None
    return (
        following is None
        or following.block != line.block
        or following.bold
        or (not following.starts_bold)
    )


def _same_heading(first: _Line, last: _Line, other: _Line, style: _Style) -> bool:
    """Whether ``other`` goes on the heading that runs from ``first`` to ``last``: the next
    line of its block in its style; or, in a type larger than the body's, the line right below
    in that size, whatever its block or weight. A title wraps across MuPDF's blocks, and a word
    in a code font makes its line not bold ("Instructions for Using Springer's llncs Class
    for" | "Computer Science Proceedings Papers")."""
    if abs(other.size - first.size) > 0.05 * first.size:
        return False
    if other.block == first.block and other.bold == first.bold:
        return True
    height = last.y1 - last.y0
    right_below = -CONTINUED_LINE_OVERLAP * height <= other.y0 - last.y1 < HEADING_LINE_GAP * height
    return first.size >= style.body_size * HEADING_SIZE_RATIO and right_below


def _beside_other_text(lines: list[_Line], start: int, end: int) -> bool:
    """True if other text sits on the heading's row, aligned like the cells of a table row.

    Only aligned text counts: a neighbouring column of a two-column page overlaps a heading
    in a bigger font but does not line up with it, and must not hide it.
    """
    top, bottom = lines[start].y0, lines[end - 1].y1
    tolerance = 0.15 * (bottom - top)
    for j, other in enumerate(lines):
        if start <= j < end or not other.horizontal:
            continue
        if abs(other.y0 - top) <= tolerance and abs(other.y1 - bottom) <= tolerance:
            return True
    return False


def _line_key(text: str) -> str:
    return _NOT_WORD.sub(" ", re.sub(r"\d+", "", text)).strip().lower()


def _running_headings(groups: list[list[int | None]], bodies: list[list[_Line]]) -> set[str]:
    """Heading texts that repeat on most pages (a logo line, a title on every slide).

    Compared exactly: "Chapter 1", "Chapter 2" on every page are real headings.
    """
    if len(bodies) < 4:
        return set()
    seen: Counter[str] = Counter()
    for page_groups, lines in zip(groups, bodies, strict=True):
        seen.update({lines[g].text.lower() for g in page_groups if g is not None})
    return {text for text, n in seen.items() if n > RUNNING_HEADER_SHARE * len(bodies)}


def _assemble(
    number: int, lines: list[_Line], groups: list[int | None], running: set[str]
) -> PageText:
    """Paragraphs (MuPDF blocks, with each heading and each row of a table its own paragraph)
    and the headings."""
    paragraphs: list[list[str]] = []
    heading_flags: list[bool] = []
    previous: tuple[int | None, int | None] | None = None
    last: _Line | None = None
    for line, group in zip(lines, groups, strict=True):
        if group is not None and lines[group].text.lower() in running:
            group = None
        # A heading's lines may be in blocks of their own (``_same_heading``): it is one paragraph.
        key = (None, group) if group is not None else (line.block, None)
        goes_on = group is None and previous is not None and previous[1] is None
        new_row = line.starts_row and group is None and key == previous
        joins = goes_on and last is not None and _goes_on(last, line)
        if new_row or (key != previous and not joins):
            paragraphs.append([])
            heading_flags.append(group is not None)
        previous, last = key, line
        paragraphs[-1].append(line.text)
    headings = [
        join_lines("\n".join(p)) for p, h in zip(paragraphs, heading_flags, strict=True) if h
    ]
    text = "\n\n".join("\n".join(p) for p in paragraphs)
    return PageText(number, text, headings)


def _goes_on(last: _Line, line: _Line) -> bool:
    """Whether a line that MuPDF put in a block of its own goes on the sentence of the line
    above it. MuPDF starts a block where the indent changes, as under a bullet ("…preceded by
    the matrix di-" | "mensions. As the…", "…have to be" | "read, the matrix…"), which would
    cut a sentence, or a word, in two paragraphs. It does when it starts in lower case right
    below a line that ends no sentence."""
    gap, height = line.y0 - last.y1, last.y1 - last.y0
    below = -CONTINUED_LINE_OVERLAP * height <= gap < CONTINUED_LINE_GAP * height
    return below and line.text[0].islower() and last.text[-1] not in ".!?:;"


# --- document-level checks ------------------------------------------------------------------


def _require_text_layer(pages: list[PageText]) -> None:
    word_chars = sum(len(_NOT_WORD.sub("", p.text)) for p in pages)
    if word_chars < MIN_WORD_CHARS_PER_PAGE * len(pages):
        raise _rejected("needs_ocr")
    blank = [p.number for p in pages if not p.text]
    if blank:
        log.info("pages without text", extra={"pages": blank[:50], "count": len(blank)})


def _title(from_metadata: str | None, pages: list[PageText]) -> str | None:
    """The metadata title unless it is a placeholder ("Untitled", "Microsoft Word - x.docx"),
    else the first heading."""
    meta = from_metadata or ""
    useful = any(c.isalpha() for c in meta) and not _PLACEHOLDER_TITLE.fullmatch(meta.strip())
    if useful and not _FILENAME_TITLE.search(meta):
        return meta
    first = next(((p, h) for p in pages for h in p.headings), None)
    if first is None:
        return None
    page, heading = first
    if heading != "NAME":
        return heading
    # A manual page: "NAME" over "dot − filter for drawing directed graphs".
    _, _, after = page.text.partition("NAME\n\n")
    line = after.split("\n", 1)[0].strip()
    return line if line and line not in page.headings else heading
