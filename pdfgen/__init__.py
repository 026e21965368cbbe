"""PDFs built in memory with PyMuPDF, for tests, benchmarks and the evaluation: good ones,
bad ones, big ones.

Every builder returns the PDF as ``bytes`` and is deterministic: the same arguments give the
same bytes (except the encrypted ones: encryption is salted), so tests can compare parse
results across runs and processes, and uploads of one builder call are true duplicates.

Text is laid out by a tiny engine of our own on top of :class:`pymupdf.TextWriter` with the
standard Helvetica fonts. That keeps the files small (a 300-page document is a few hundred KB)
and fast to build (thousands of pages per second), and it lets a test decide exactly where a
line breaks, which is what de-hyphenation tests need.

The main entry points:

- :func:`text_pdf` — any content: pages of ``(kind, text)`` blocks (headings, paragraphs).
- :func:`sample_document` / :func:`sample_pdf` — realistic prose with headings; the first gives
  the content so a test can pick a sentence and know its page.
- :func:`big_pdf` — many pages, quickly.
- :func:`encrypted_pdf`, :func:`owner_only_encrypted_pdf`, :func:`image_only_pdf`,
  :func:`truncated_pdf`, :func:`corrupt_pdf`, :func:`zero_page_pdf`, :func:`broken_page_pdf`,
  :func:`repairable_pdf`, :func:`not_a_pdf` — the awkward cases.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape as html_escape

import pymupdf

__all__ = [
    "KINDS",
    "Block",
    "Page",
    "big_pdf",
    "broken_page_pdf",
    "cjk_pdf",
    "corrupt_pdf",
    "encrypted_pdf",
    "image_only_pdf",
    "not_a_pdf",
    "owner_only_encrypted_pdf",
    "repairable_pdf",
    "sample_document",
    "sample_pdf",
    "text_pdf",
    "truncated_pdf",
    "zero_page_pdf",
]

Block = tuple[str, str]
"""``(kind, text)``: one heading or paragraph; ``kind`` is one of :data:`KINDS`."""

Page = list[Block]

USER_PASSWORD = "open-sesame"
OWNER_PASSWORD = "owner-secret"

# A4 in points, with one-inch margins.
PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 595.0, 842.0, 72.0


@dataclass(frozen=True)
class _Style:
    font: str  # a PyMuPDF base-14 font code: "helv" (regular), "hebo" (bold)
    size: float
    space_before: float
    space_after: float


KINDS: dict[str, _Style] = {
    "h1": _Style("hebo", 20.0, 0.0, 12.0),  # title / chapter
    "h2": _Style("hebo", 15.0, 10.0, 8.0),  # section
    "h3": _Style("hebo", 12.5, 8.0, 6.0),  # subsection
    "h4": _Style("hebo", 11.0, 6.0, 4.0),  # bold line at body size, on its own line
    "p": _Style("helv", 11.0, 0.0, 9.0),  # body paragraph
    "small": _Style("helv", 8.5, 0.0, 6.0),  # footnote-sized text
}
"""The kinds of block :func:`text_pdf` understands and how each is rendered."""

LINE_SPACING = 1.3  # leading as a multiple of the font size


@cache
def _font(code: str) -> pymupdf.Font:
    return pymupdf.Font(code)


@cache
def _width(code: str, size: float, word: str) -> float:
    width: float = _font(code).text_length(word, fontsize=size)
    return width


def _wrap(text: str, style: _Style, width: float) -> list[str]:
    """Greedy word wrap; a "\\n" in ``text`` forces a line break at that point."""
    lines: list[str] = []
    space = _width(style.font, style.size, " ")
    for hard_line in text.split("\n"):
        current: list[str] = []
        used = 0.0
        for word in hard_line.split():
            w = _width(style.font, style.size, word)
            if current and used + space + w > width:
                lines.append(" ".join(current))
                current, used = [], 0.0
            used += (space if current else 0.0) + w
            current.append(word)
        lines.append(" ".join(current))
    return lines


class _Layout:
    """Writes lines top to bottom, starting a new page when the current one is full."""

    def __init__(
        self, doc: pymupdf.Document, *, page_numbers: bool, running_header: str | None
    ) -> None:
        self.doc = doc
        self.page_numbers = page_numbers
        self.running_header = running_header
        self.writer: pymupdf.TextWriter | None = None
        self.page: pymupdf.Page | None = None
        self.y = 0.0

    def new_page(self) -> None:
        self.finish_page()
        self.page = self.doc.new_page(width=PAGE_WIDTH, height=PAGE_HEIGHT)
        self.writer = pymupdf.TextWriter(self.page.rect)
        self.y = MARGIN

    def finish_page(self) -> None:
        if self.page is None or self.writer is None:
            return
        if self.running_header:
            self.writer.append(
                (MARGIN, MARGIN / 2), self.running_header, font=_font("helv"), fontsize=9.0
            )
        if self.page_numbers:
            number = str(self.page.number + 1)
            x = (PAGE_WIDTH - _width("helv", 9.0, number)) / 2
            self.writer.append(
                (x, PAGE_HEIGHT - MARGIN / 2), number, font=_font("helv"), fontsize=9.0
            )
        self.writer.write_text(self.page)
        self.page, self.writer = None, None

    def block(self, kind: str, text: str) -> None:
        style = KINDS[kind]
        leading = style.size * LINE_SPACING
        if self.y > MARGIN:
            self.y += style.space_before
        for line in _wrap(text, style, PAGE_WIDTH - 2 * MARGIN):
            if self.y + leading > PAGE_HEIGHT - MARGIN:
                self.new_page()  # the block flows on to a new page
            assert self.writer is not None
            self.y += leading
            if line:
                self.writer.append(
                    (MARGIN, self.y), line, font=_font(style.font), fontsize=style.size
                )
        self.y += style.space_after


def _render(
    pages: Sequence[Sequence[Block]],
    *,
    title: str | None,
    page_numbers: bool,
    running_header: str | None = None,
) -> pymupdf.Document:
    doc = pymupdf.open()
    layout = _Layout(doc, page_numbers=page_numbers, running_header=running_header)
    for blocks in pages:
        layout.new_page()
        for kind, text in blocks:
            if kind not in KINDS:
                raise ValueError(f"unknown block kind {kind!r}; expected one of {list(KINDS)}")
            layout.block(kind, text)
    layout.finish_page()
    if title is not None:
        doc.set_metadata({"title": title, "producer": "pdfchat tests", "creator": "pdf_factory"})
    return doc


def _bytes(doc: pymupdf.Document, **save_options: object) -> bytes:
    # garbage=3 + deflate: compact files (matters for upload size limits in stack tests).
    # no_new_id: a fixed document id keeps the bytes deterministic.
    data: bytes = doc.tobytes(garbage=3, deflate=True, no_new_id=True, **save_options)
    return data


def text_pdf(
    pages: Sequence[Sequence[Block]],
    *,
    title: str | None = None,
    page_numbers: bool = False,
    running_header: str | None = None,
) -> bytes:
    """A PDF with a text layer, one list of blocks per page.

    Each block is ``(kind, text)`` with ``kind`` one of :data:`KINDS`: ``"h1"``, ``"h2"``,
    ``"h3"`` are bold headings in decreasing sizes (20, 15, 12.5 pt), ``"h4"`` a bold line at
    body size, ``"p"`` a paragraph in 11 pt Helvetica, ``"small"`` 8.5 pt text. Text wraps to
    the page width; a ``"\\n"`` inside the text forces a line break there (use it to put a
    hyphenated word across two lines: ``"an exam-\\nple"``).

    Every entry of ``pages`` starts on a new page. Content that does not fit flows on to extra
    pages, so page numbers then shift; keep pages under about 3000 characters of paragraphs
    when the page numbers matter (:func:`sample_pdf` checks this for its own content). An empty
    list gives an empty page. ``title`` goes into the metadata; ``page_numbers`` prints the
    page number at the foot of each page, as most real documents do; ``running_header`` prints
    that text in small type in the top margin of every page.
    """
    doc = _render(pages, title=title, page_numbers=page_numbers, running_header=running_header)
    try:
        return _bytes(doc)
    finally:
        doc.close()


# --- realistic prose ----------------------------------------------------------------------

# topic | thing | people | place | activity
_TOPICS = [
    tuple(line.split(" | "))
    for line in """
tidal mills | mill | millers | the tide pond | grinding grain
lighthouse keeping | lamp | keepers | the lantern room | trimming wicks
orchard pruning | orchard | growers | the winter canopy | shaping young trees
canal engineering | lock | engineers | the summit reservoir | lining the channel
bee keeping | hive | beekeepers | the brood chamber | moving colonies
glass blowing | furnace | glassmakers | the annealing oven | gathering molten glass
clock making | movement | clockmakers | the escapement | cutting wheels
salt making | pan | salters | the evaporation house | boiling brine
bridge building | arch | masons | the centring | setting voussoirs
map making | survey | surveyors | the baseline | measuring angles
rope making | ropewalk | spinners | the long shed | twisting yarn
sheep farming | flock | shepherds | the upland pasture | shearing
""".strip().splitlines()
]
_SYLLABLES = [
    "ar",
    "bel",
    "cor",
    "dun",
    "el",
    "fen",
    "gar",
    "hol",
    "is",
    "kel",
    "lin",
    "mor",
    "nor",
    "os",
    "pen",
    "rav",
    "sel",
    "tor",
    "ul",
    "ven",
    "wick",
    "yar",
]
_ADJECTIVES = [
    "careful",
    "seasonal",
    "patient",
    "costly",
    "traditional",
    "reliable",
    "delicate",
    "steady",
    "practical",
    "gradual",
    "regional",
    "skilled",
]
_ADVERBS = ["slowly", "reliably", "quietly", "noticeably", "steadily", "rarely", "cheaply"]
_MONTHS = ["January", "March", "April", "June", "August", "October", "November"]
_SECTIONS = [
    "Background",
    "Materials",
    "Methods",
    "Tools of the Trade",
    "Daily Work",
    "Seasons and Weather",
    "Costs and Income",
    "Common Failures",
    "Safety",
    "Training Apprentices",
    "Records and Accounts",
    "Regional Differences",
    "Decline and Revival",
    "Open Questions",
]

_TEMPLATES = [
    "The {thing} at {place} has long depended on {adj} attention to {work}.",
    "{person} observed that {people} work more {adv} when {part} is kept dry and clean.",
    "Most {people} in the district learned {work} from a parent rather than from a book.",
    "In {year}, the {thing} at {place} was rebuilt after a winter storm damaged {part}.",
    "A {adj} routine matters more than expensive tools, according to {person}.",
    "Records from {place} show that {work} took up most of every {month}.",
    "When {part} fails, the whole {thing} stops, and repairs can take several weeks.",
    "{person} kept a diary of the {thing} for {number} years, noting the weather each day.",
    "Visitors are often surprised by how {adj} the work is and how little it has changed.",
    "The accounts of {place} list {number} shillings spent on {work} in a single season.",
    "It is easy to underestimate {part}, yet every experienced worker checks it first.",
    "By the late {century}s most {people} had adopted the method described by {person}.",
    "Younger {people} at {place} now combine old habits with {adj} modern instruments.",
    "Nobody at {place} could explain why {part} wore out so {adv} that year.",
]


class _Prose:
    """Readable, deterministic English about one craft, with invented names per seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.topic = _TOPICS[seed % len(_TOPICS)]
        self.places = [self.name() for _ in range(4)]
        self.people = [f"{self.rng.choice('ABCDEFGHJKLMNPRSTW')}. {self.name()}" for _ in range(4)]

    def name(self) -> str:
        parts = self.rng.sample(_SYLLABLES, self.rng.randint(2, 3))
        return "".join(parts).capitalize()

    def sentence(self, template: str) -> str:
        _topic, thing, people, part, work = self.topic
        return template.format(
            thing=thing,
            people=people,
            part=part,
            work=work,
            adj=self.rng.choice(_ADJECTIVES),
            adv=self.rng.choice(_ADVERBS),
            place=self.rng.choice(self.places),
            person=self.rng.choice(self.people),
            month=self.rng.choice(_MONTHS),
            year=self.rng.randint(1750, 1930),
            number=self.rng.randint(3, 60),
            century=self.rng.choice([17, 18, 19]) * 100,
        )

    def paragraph(self) -> str:
        templates = self.rng.sample(_TEMPLATES, self.rng.randint(3, 6))  # no repeats
        return " ".join(self.sentence(t) for t in templates)

    def fact(self, page: int) -> str:
        """A sentence that names this page, so every page holds one findable, unique fact."""
        place = self.rng.choice(self.places)
        return (
            f"On page {page} the ledger of {place} records exactly "
            f"{self.rng.randint(100, 999)} deliveries."
        )


def sample_document(
    n_pages: int = 3, seed: int = 0, *, paragraphs: tuple[int, int] = (2, 3)
) -> list[Page]:
    """The content of :func:`sample_pdf` (same arguments), one list of blocks per page.

    Page 1 opens with the title (``"h1"``) and section 1; later pages sometimes start a new
    section (``"h2"``, numbered "2 Methods"), sometimes a subsection (``"h3"``, "2.1 ...") and
    sometimes simply continue the section of the page before, so headings must be carried
    across pages. Each page holds ``paragraphs`` (min, max) paragraphs of 3–6 sentences, and
    one sentence naming the page (``"On page 4 the ledger of ... records exactly N
    deliveries."``) that appears nowhere else. Different seeds give different topics, names
    and numbers, so documents can be told apart.
    """
    prose = _Prose(seed)
    rng = prose.rng
    title = f"Notes on {prose.topic[0].title()} at {prose.places[0]}"
    sections = rng.sample(_SECTIONS, len(_SECTIONS))
    section, subsection = 1, 0
    pages: list[Page] = []
    for number in range(1, n_pages + 1):
        blocks: list[Block] = []
        if number == 1:
            blocks += [("h1", title), ("h2", "1 Introduction")]
        elif rng.random() < 0.45:
            section, subsection = section + 1, 0
            blocks.append(("h2", f"{section} {sections[section % len(sections)]}"))
        elif rng.random() < 0.4:
            subsection += 1
            name = sections[(section + 3 * subsection) % len(sections)]
            blocks.append(("h3", f"{section}.{subsection} {name}"))
        texts = [prose.paragraph() for _ in range(rng.randint(*paragraphs))]
        spot = rng.randrange(len(texts))
        texts[spot] = f"{texts[spot]} {prose.fact(number)}"
        blocks += [("p", text) for text in texts]
        pages.append(blocks)
    return pages


def sample_passages(count: int, *, chars: int = 1000, first_seed: int = 0) -> list[str]:
    """``count`` passages of ``chars`` characters of the sample prose (paragraphs of
    :func:`sample_document`, seed after seed, joined until long enough): what an embedder or
    a re-ranker meets in a benchmark."""
    passages: list[str] = []
    current = ""
    for seed in itertools.count(first_seed):
        paragraphs = [
            text for page in sample_document(4, seed) for kind, text in page if kind == "p"
        ]
        for paragraph in paragraphs:
            current = f"{current} {paragraph}".strip()
            if len(current) >= chars:
                passages.append(current[:chars])
                current = ""
                if len(passages) == count:
                    return passages
    raise AssertionError("unreachable: itertools.count never ends")


def sample_pdf(n_pages: int = 3, seed: int = 0) -> bytes:
    """A realistic document of ``n_pages`` pages: see :func:`sample_document` for the content.

    It has a metadata title ("Notes on <Topic> at <Place>") and page numbers in the footer.
    """
    pages = sample_document(n_pages, seed)
    return _checked_pdf(pages, title=pages[0][0][1])


def big_pdf(n_pages: int, seed: int = 0) -> bytes:
    """Many pages fast (over 1000 pages a second), about 1.1 KB a page, with headings.

    Like :func:`sample_pdf` with one or two paragraphs a page.
    """
    pages = sample_document(n_pages, seed, paragraphs=(1, 2))
    return _checked_pdf(pages, title=pages[0][0][1])


def _checked_pdf(pages: list[Page], *, title: str) -> bytes:
    doc = _render(pages, title=title, page_numbers=True)
    try:
        # The promise of sample_document: list index i is page i + 1.
        assert doc.page_count == len(pages), "sample content overflowed a page"
        return _bytes(doc)
    finally:
        doc.close()


def cjk_pdf(pages: Sequence[Sequence[tuple[str, str]]], *, title: str | None = None) -> bytes:
    """Pages of Chinese, Japanese or Korean text: each a list of ("h1" | "h2" | "p", text)
    blocks, set in MuPDF's built-in CJK font. Lines wrap between any two characters, as such
    text does, so words are split across lines."""
    doc = pymupdf.open()
    try:
        for blocks in pages:
            page = doc.new_page()
            html = "".join(f"<{kind}>{html_escape(text)}</{kind}>" for kind, text in blocks)
            page.insert_htmlbox(pymupdf.Rect(50, 50, page.rect.x1 - 50, page.rect.y1 - 50), html)
        if title is not None:
            doc.set_metadata({"title": title, "producer": "pdfchat tests"})
        doc.subset_fonts()  # the whole font is megabytes
        return _bytes(doc)
    finally:
        doc.close()


# --- the awkward cases ----------------------------------------------------------------------


def encrypted_pdf() -> bytes:
    """A sample PDF that needs a user password (:data:`USER_PASSWORD`) to open at all."""
    with pymupdf.open(stream=sample_pdf(2, seed=5)) as doc:
        return _bytes(
            doc,
            encryption=pymupdf.PDF_ENCRYPT_AES_256,
            user_pw=USER_PASSWORD,
            owner_pw=OWNER_PASSWORD,
        )


def owner_only_encrypted_pdf() -> bytes:
    """An encrypted PDF with only an owner password: anyone can open and read it, but
    printing and editing are restricted. Readers (and pdfchat) must accept it."""
    with pymupdf.open(stream=sample_pdf(2, seed=6)) as doc:
        permissions = pymupdf.PDF_PERM_ACCESSIBILITY | pymupdf.PDF_PERM_COPY
        return _bytes(
            doc,
            encryption=pymupdf.PDF_ENCRYPT_AES_256,
            owner_pw=OWNER_PASSWORD,
            user_pw="",
            permissions=permissions,
        )


def image_only_pdf(n_pages: int = 2, *, dpi: int = 100) -> bytes:
    """Pages that show text only as a picture (like a scan): no text layer at all.

    Each page of a sample document is rendered to a grey-scale image, which becomes the only
    content of a new page of the same size.
    """
    out = pymupdf.open()
    with pymupdf.open(stream=sample_pdf(n_pages, seed=9)) as source:
        for page in source:
            picture = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
            scan = out.new_page(width=page.rect.width, height=page.rect.height)
            scan.insert_image(scan.rect, pixmap=picture)
    try:
        return _bytes(out)
    finally:
        out.close()


def truncated_pdf(fraction: float = 0.5, n_pages: int = 6) -> bytes:
    """The first ``fraction`` of a real ``n_pages``-page PDF, as left by a broken download."""
    data = sample_pdf(n_pages, seed=8)
    return data[: int(len(data) * fraction)]


def corrupt_pdf() -> bytes:
    """A valid PDF header followed by (deterministic) garbage and an end-of-file marker."""
    garbage = random.Random(13).randbytes(4096)
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + garbage + b"\n%%EOF\n"


def zero_page_pdf() -> bytes:
    """A well-formed PDF whose page tree is empty (PyMuPDF refuses to write one, so by hand)."""
    return _handmade_pdf(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    )


def tex_bitmap_font_pdf(lines: list[bytes]) -> bytes:
    """One page set in a Type 3 font as pdfTeX writes its bitmap (PK) fonts: glyphs named
    /a0 … /a255 with no Unicode map, so a reader gets each byte's code as is, and TeX's
    ligatures are control codes ("e\\x1bect" is "effect" in the T1 encoding). ``lines`` are
    bytes in the font's encoding, one line of the page each."""
    names = b" ".join(b"/a%d" % code for code in range(256))
    glyphs = b" ".join(b"/a%d 6 0 R" % code for code in range(256))
    box = b"500 0 0 0 400 600 d1 0 0 400 600 re f"
    text = (
        b"BT /F1 11 Tf 14 TL 72 720 Td "
        + b" ".join(
            b"(%s) '" % line.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
            for line in lines
        )
        + b" ET"
    )
    return _handmade_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
            b"<< /Type /Font /Subtype /Type3 /FontMatrix [0.001 0 0 0.001 0 0]"
            b" /FontBBox [0 0 400 600] /Resources << >> /FirstChar 0 /LastChar 255"
            b" /Widths [%s] /Encoding << /Type /Encoding /Differences [0 %s] >>"
            b" /CharProcs << %s >> >>" % (b" ".join([b"500"] * 256), names, glyphs),
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(box), box),
        ]
    )


def _handmade_pdf(objects: list[bytes]) -> bytes:
    """A PDF from raw object bodies (object 1 is the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def repairable_pdf(n_pages: int = 3, seed: int = 0) -> bytes:
    """:func:`sample_pdf` with a wrong ``startxref`` offset, the commonest damage in the wild:
    every object is intact, so readers rebuild the cross-reference table and show it all."""
    data = sample_pdf(n_pages, seed)
    at = data.rindex(b"startxref")
    return data[:at] + b"startxref\n17\n%%EOF\n"


def broken_page_pdf() -> bytes:
    """A 3-page sample whose page tree lists the tree itself where page 3 should be: the file
    opens and reports 3 pages, pages 1–2 read, and loading page 3 raises."""
    with pymupdf.open(stream=sample_pdf(3, seed=4)) as doc:
        tree = int(doc.xref_get_key(doc.pdf_catalog(), "Pages")[1].split()[0])
        kids = [page.xref for page in doc][:2]
        doc.xref_set_key(tree, "Kids", f"[{kids[0]} 0 R {kids[1]} 0 R {tree} 0 R]")
        return _bytes(doc)


def not_a_pdf() -> bytes:
    """A small PNG image: a real file of the wrong kind."""
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 32, 32), False)
    pixmap.clear_with(200)
    png: bytes = pixmap.tobytes("png")
    return png
