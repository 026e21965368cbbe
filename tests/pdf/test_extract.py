"""parse_pdf on real PDFs built by pdfgen: rejections, headings, pages, segments."""

from __future__ import annotations

import json
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pymupdf
import pytest

import pdfgen
from core.errors import DocumentRejected
from pdf import OcrFailed, ParsedPdf, extract, join_lines, ocr_available, parse_pdf, sniff_pdf

MAX_PAGES = 100


def parse(data: bytes, **options) -> ParsedPdf:
    options.setdefault("max_pages", MAX_PAGES)
    return parse_pdf(data, **options)


def rejection(data: bytes, **options) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        parse(data, **options)
    return caught.value


def flat(text: str) -> str:
    """Text as a segment holds it: paragraphs joined (hyphens mended), white space single."""
    return " ".join(join_lines(p) for p in text.split("\n\n") if p.strip())


def fact(page: int, content: list[list[tuple[str, str]]]) -> str:
    """The sentence sample_document puts on ``page`` and nowhere else."""
    text = " ".join(t for _, t in content[page - 1])
    found = re.search(rf"On page {page} the ledger of \w+ records exactly \d+ deliveries\.", text)
    assert found is not None
    return found.group(0)


# --- sniffing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", True),
        (b"\n\r\t  %PDF-1.4", True),  # leading white space
        (b"\xef\xbb\xbfjunk before the header %PDF-2.0", True),
        (b"x" * 1018 + b"%PDF-", True),  # starts inside the first 1024 bytes
        (b"x" * 1024 + b"%PDF-1.7", False),
        (b"", False),
        (b"%PDF", False),
        (b"hello, I am plain text", False),
    ],
)
def test_sniff_pdf(head, expected):
    assert sniff_pdf(head) is expected


def test_sniff_pdf_on_the_factory_files():
    assert sniff_pdf(pdfgen.sample_pdf(1)[:1024])
    assert not sniff_pdf(pdfgen.not_a_pdf()[:1024])


# --- rejections ---------------------------------------------------------------------------


def test_empty_file():
    error = rejection(b"")
    assert error.code == "empty" and "empty" in error.message


@pytest.mark.parametrize(
    "data",
    [pdfgen.not_a_pdf(), b"hello, I am plain text", b" " * 2000 + b"%PDF-1.7"],
    ids=["png", "text", "header-too-late"],
)
def test_not_a_pdf(data):
    error = rejection(data)
    assert error.code == "not_pdf" and "not a PDF" in error.message


@pytest.mark.parametrize(
    "make",
    [
        pdfgen.corrupt_pdf,
        pdfgen.zero_page_pdf,
        lambda: pdfgen.truncated_pdf(0.5),
        lambda: pdfgen.truncated_pdf(0.9),
        lambda: pdfgen.truncated_pdf(0.1),
        lambda: pdfgen.big_pdf(40)[:60_000],  # cut so badly that it does not even open
        pdfgen.broken_page_pdf,
    ],
    ids=[
        "garbage",
        "zero-pages",
        "truncated-50",
        "truncated-90",
        "truncated-10",
        "truncated-unopenable",
        "page-raises",
    ],
)
def test_corrupt(make):
    error = rejection(make())
    assert error.code == "corrupt"
    assert "damaged" in error.message and len(error.message) > 40


def test_a_truncated_file_opens_in_mupdf_but_is_still_rejected():
    # The reason for the policy: MuPDF repairs the file and shows every page, silently blank.
    data = pdfgen.truncated_pdf(0.5)
    with pymupdf.open(stream=data) as doc:
        assert doc.is_repaired and doc.page_count == 6
    error = rejection(data)
    assert "incomplete" in error.message and "page 1" in error.message


def test_a_page_that_cannot_be_loaded_is_named():
    error = rejection(pdfgen.broken_page_pdf())
    assert "page 3" in error.message


def test_a_repaired_file_with_everything_intact_is_accepted():
    data = pdfgen.repairable_pdf(3, seed=2)
    with pymupdf.open(stream=data) as doc:
        assert doc.is_repaired
    assert parse(data) == parse(pdfgen.sample_pdf(3, seed=2))


def test_encrypted():
    error = rejection(pdfgen.encrypted_pdf())
    assert error.code == "encrypted" and "password" in error.message


def test_owner_password_only_parses():
    data = pdfgen.owner_only_encrypted_pdf()
    with pymupdf.open(stream=data) as doc:
        assert doc.metadata["encryption"]  # really encrypted, yet opens without a password
    parsed = parse(data)
    assert parsed.page_count == 2 and parsed.segments
    assert "deliveries" in parsed.pages[0].text


def test_too_many_pages():
    data = pdfgen.big_pdf(12)
    error = rejection(data, max_pages=11)
    assert error.code == "too_many_pages"
    assert "12" in error.message and "11" in error.message
    assert parse(data, max_pages=12).page_count == 12


def test_image_only_pages_need_ocr():
    error = rejection(pdfgen.image_only_pdf(2))  # OCR off (parse_pdf's default)
    assert error.code == "needs_ocr" and "OCR" in error.message


def test_a_scanned_document_is_read_by_ocr():
    """Tesseract (Debian's tesseract-ocr, installed by `make install`) reads the scanned pages;
    nearly every word of the document they were scanned from comes back."""
    assert ocr_available()
    scanned = parse_pdf(pdfgen.image_only_pdf(2, dpi=150), max_pages=10, ocr_languages="eng")
    original = parse(pdfgen.sample_pdf(2, seed=9))
    assert scanned.page_count == 2 and scanned.segments
    for read, source in zip(scanned.pages, original.pages, strict=True):
        words = set(read.text.split())
        wanted = source.text.split()
        assert sum(w in words for w in wanted) >= 0.9 * len(wanted)


def test_a_page_with_a_text_layer_is_not_read_by_ocr(monkeypatch):
    def no_ocr(*args, **kwargs):
        raise AssertionError("OCR of a page that has text")

    monkeypatch.setattr(pymupdf.Page, "get_textpage_ocr", no_ocr)
    assert parse_pdf(pdfgen.sample_pdf(2), max_pages=10, ocr_languages="eng").segments


def test_ocr_in_a_language_that_is_not_installed_is_a_fault_not_a_rejection():
    with pytest.raises(OcrFailed, match="page 1"):
        parse_pdf(pdfgen.image_only_pdf(1), max_pages=10, ocr_languages="xyz")


def test_almost_no_text_needs_ocr_but_a_short_real_text_does_not():
    stamps = pdfgen.text_pdf([[("small", f"Scan {n}")] for n in range(1, 5)])
    assert rejection(stamps).code == "needs_ocr"
    note = pdfgen.text_pdf([[("p", "Please call the office before Friday.")]])
    assert parse(note).segments[0].text == "Please call the office before Friday."


def test_rejections_leave_no_mupdf_warnings_behind():
    # PyMuPDF keeps every MuPDF warning in a global list that only grows unless reset.
    rejection(pdfgen.truncated_pdf(0.5))
    assert pymupdf.TOOLS.mupdf_warnings(reset=False) == ""


# --- pages, headings, title ---------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_headings_are_exactly_the_headings(seed):
    content = pdfgen.sample_document(6, seed)
    parsed = parse(pdfgen.sample_pdf(6, seed))
    expected = [[text for kind, text in page if kind.startswith("h")] for page in content]
    assert [p.headings for p in parsed.pages] == expected


def test_page_text_follows_the_page_and_drops_page_numbers():
    content = pdfgen.sample_document(3, seed=3)
    parsed = parse(pdfgen.sample_pdf(3, seed=3))
    for page, blocks in zip(parsed.pages, content, strict=True):
        assert flat(page.text) == " ".join(text for _, text in blocks)
        paragraphs = page.text.split("\n\n")
        assert len(paragraphs) == len(blocks)  # one per block; the footer number is gone
        assert paragraphs[-1].split("\n")[-1] != str(page.number)


def _lines_pdf(lines: list[tuple[float, float, str]]) -> bytes:
    """One page of these lines, each at (x, baseline y), 12 pt Helvetica."""
    doc = pymupdf.open()
    page = doc.new_page()
    for x, y, text in lines:
        page.insert_text((x, y), text, fontsize=12)
    return doc.tobytes()


def test_a_sentence_that_mupdf_cuts_into_two_blocks_is_one_paragraph():
    """MuPDF starts a block where the indent changes (a hanging indent, a bullet's text): a
    sentence, even a hyphenated word, would be cut in two paragraphs and two quotes."""
    data = _lines_pdf(
        [
            (72, 130, "The input files all have the format of a matrix, preceded by its di-"),
            (100, 147, "mensions, which say how many numbers are read from the rest"),
            (100, 164, "of the file, all of them integers"),
            (72, 200, "each line far below starts a paragraph of its own, and"),  # a wide gap
            (72, 217, "a sentence that has ended."),
            (100, 234, "next to a new indent, a new paragraph too."),  # after a full stop
        ]
    )
    assert parse(data).pages[0].text.split("\n\n") == [
        "The input files all have the format of a matrix, preceded by its di-\n"
        "mensions, which say how many numbers are read from the rest\nof the file, all of "
        "them integers",
        "each line far below starts a paragraph of its own, and\na sentence that has ended.",
        "next to a new indent, a new paragraph too.",
    ]
    assert "preceded by its dimensions, which say" in parse(data).segments[0].text


def test_a_sentence_set_tight_across_two_blocks_is_one_paragraph():
    """Tight leading (a slide's bullets) makes the boxes of two lines overlap a little; the
    wrapped line is still right below the one it goes on from."""
    data = _lines_pdf(
        [
            (72, 130, "- OK: Allows the user to close a view after"),
            (100, 146, "editing the model."),  # 16 points down: the boxes overlap
            (72, 162, "- Cancel: Allows the user to close a view"),
        ]
    )
    lines = extract._lines(pymupdf.open(stream=data)[0].get_text("dict"))
    first, second = list(lines)[:2]
    assert first.block != second.block and second.y0 < first.y1  # the case in question
    assert parse(data).pages[0].text.split("\n\n") == [
        "- OK: Allows the user to close a view after\nediting the model.\n"
        "- Cancel: Allows the user to close a view"
    ]


def test_each_row_of_a_table_is_a_paragraph_with_the_lines_its_cells_wrap_onto():
    """A table's rows would run together into one long "sentence" ("k kill … s sync … u
    remount …"), and no answer could quote the row that answers."""
    data = _lines_pdf(
        [
            (72, 130, "Some prose that introduces the table below it."),
            (72, 160, "k"),
            (150, 160, "kill all processes on the current console"),
            (72, 175, "s"),
            (150, 175, "sync all mounted filesystems to avoid"),
            (150, 190, "data corruption"),  # the cell wraps
            (72, 205, "u"),
            (150, 205, "remount all mounted filesystems read-only"),
            (72, 220, "restore the keyboard: r"),  # one piece, at the table's left edge
        ]
    )
    paragraphs = [join_lines(p) for p in parse(data).pages[0].text.split("\n\n")]
    assert paragraphs[-4:] == [
        "k kill all processes on the current console",
        "s sync all mounted filesystems to avoid data corruption",
        "u remount all mounted filesystems read-only",
        "restore the keyboard: r",
    ]


def test_lines_split_at_wide_spaces_anywhere_stay_one_paragraph():
    """MuPDF also splits a line of prose at a wide justified space; such pieces start
    anywhere, not in a column, and the paragraph stays whole."""
    data = _lines_pdf(
        [
            (72, 160, "The pieces of"),
            (190, 160, "these lines are"),
            (72, 175, "not in columns:"),
            (230, 175, "each gap is"),
            (72, 190, "somewhere else on"),
            (290, 190, "the line."),
        ]
    )
    assert parse(data).pages[0].text.count("\n\n") == 0
    assert extract._is_table([[190.0], [230.0], [290.0]]) is False
    assert extract._is_table([[150.0], [], [150.5], [151.0]]) is True


def test_control_characters_are_no_text():
    """A bullet in a font of its own encoding comes out as the C1 control "\x88"."""
    assert extract._JUNK_CHARS.sub("", "\x88 The input\x9f files\x07") == " The input files"


def test_tex_ligatures_without_a_unicode_map_are_read_as_letters():
    """pdfTeX's bitmap fonts give their ligatures as control codes (T1: 27-31, OT1: 11-15);
    dropped as junk, "effect" read "eect" and "fit" read "t", and nobody found them. Codes
    that stand apart from letters (big brackets of a formula) are still no text."""
    data = pdfgen.tex_bitmap_font_pdf(
        [
            b"The e\x1bect of the \x1crst \x1dow was signi\x1ccant: the sta\x1b",
            b"found the coe\x1ecients in the o\x1ece, and ba\x1fed (OT1: \x0crm \x0bect).",
            b"Formula \x0c\x0c 1 / n \x10 X \x11 = 2, \x0c\x0c\xb5(A)\x0c\x0c",
        ]
    )
    text = parse(data).pages[0].text
    assert "The effect of the first flow was significant: the staff" in text
    assert "found the coefficients in the office, and baffled (OT1: firm ffect)." in text
    assert "Formula 1 / n X = 2, \xb5(A)" in text  # a math font's bars, next to a Greek mu


def test_bold_line_at_body_size_is_a_heading_but_a_bold_paragraph_is_not():
    bold_paragraph = " ".join(["This whole paragraph is set in bold type"] * 8)
    data = pdfgen.text_pdf(
        [
            [
                ("h4", "Safety Notes"),
                ("p", "Wear gloves at all times. " * 30),
                ("h4", bold_paragraph),
                ("p", "Keep the furnace door shut. " * 30),
            ]
        ]
    )
    assert parse(data).pages[0].headings == ["Safety Notes"]


@pytest.mark.parametrize(
    "line",
    [
        "Figure 2 Flow through the weir",
        "Introduction . . . . . . . . 3",
        "For example:",
        "This short bold line is a sentence.",
    ],
)
def test_captions_contents_lines_and_sentences_are_not_headings(line):
    data = pdfgen.text_pdf(
        [
            [
                ("h2", "Results"),
                ("p", "The weir held. " * 40),
                ("h3", line),
                ("p", "The flow was steady. " * 40),
            ]
        ]
    )
    assert parse(data).pages[0].headings == ["Results"]


def test_uniform_text_has_no_headings():
    data = pdfgen.text_pdf([[("p", "Short line"), ("p", "Another line of text here " * 20)]])
    parsed = parse(data)
    assert parsed.pages[0].headings == [] and parsed.title is None
    assert {c.heading for c in parsed.segments} == {None}


def test_running_headers_are_neither_text_nor_headings():
    pages = [[("h2", f"Part {n}"), ("p", f"Body text of part {n}. " * 20)] for n in range(1, 6)]
    parsed = parse(pdfgen.text_pdf(pages, running_header="ACME Annual Report 2024"))
    assert all("ACME" not in p.text for p in parsed.pages)
    assert [p.headings for p in parsed.pages] == [[f"Part {n}"] for n in range(1, 6)]


def _manual(headers: list[str], *, header_y: float = 70) -> bytes:
    """Pages of a manual: a running header at ``header_y`` (deeper than a bare page number),
    then a bold topic heading and prose."""
    with pymupdf.open() as doc:
        for n, header in enumerate(headers, 1):
            page = doc.new_page()  # 595 x 842
            page.insert_text((72, header_y), header, fontname="helv", fontsize=9)
            page.insert_text((72, 120), f"Topic {n}", fontname="hebo", fontsize=14)
            body = f"Prose about topic number {n} that runs on for a while."
            page.insert_textbox(pymupdf.Rect(72, 140, 520, 700), body * 8, fontsize=11)
        return doc.tobytes()


def test_running_headers_with_the_page_number_are_neither_text_nor_headings():
    # "160 gnuplot 5.4" / "gnuplot 5.4 161", "70 CallExternal" / "cbind 75": the words of the
    # header change with the section, the number follows the page's (here with an offset, as
    # after a front matter); such headers sit a little deeper than bare page numbers.
    sections = ["Overview", "Overview", "Plotting", "Plotting", "Fitting", "Styles", "Styles"]
    headers = [f"{n + 30} {s}" if n % 2 else f"{s} {n + 30}" for n, s in enumerate(sections, 1)]
    parsed = parse(_manual(headers))
    assert all(s not in page.text for page in parsed.pages for s in sections)
    assert [p.headings for p in parsed.pages] == [[f"Topic {n}"] for n in range(1, 8)]


def test_a_running_header_of_chapter_and_section_is_told_by_its_place():
    # "CHAPTER 3. CHOOSING A DEBIAN … 3.2. BUT WHAT ABOUT KNOPPIX": no page number, and its
    # words change with the section, but it sits in the same place on every page.
    sections = ["WHAT IT IS", "WHO MAKES IT", "GETTING IT", "INSTALLING IT", "CHOOSING"]
    headers = [f"CHAPTER {1 + n // 3}. … {sections[n // 2]} …" for n in range(7)]
    parsed = parse(_manual(headers, header_y=40))
    assert all("CHAPTER" not in page.text for page in parsed.pages)
    assert [p.headings for p in parsed.pages] == [[f"Topic {n}"] for n in range(1, 8)]


def test_a_running_header_that_moves_a_point_is_still_in_its_place():
    # The French Debian FAQ's header sits a point lower on pages whose section title has an
    # accented capital ("… SYSTÈME DE …"): neither place alone is the habit of its pages.
    sections = ["QU’EST-CE", "SYSTÈME DE", "ÉLÉMENTS", "CONFIGURER", "DÉPANNER", "AIDE", "FIN"]
    with pymupdf.open() as doc:
        for n, section in enumerate(sections, 1):
            page = doc.new_page()
            header = f"CHAPITRE {n}. {section} … {n}.2. LA SUITE"
            page.insert_text((72, 40 if n % 2 else 41.2), header, fontname="helv", fontsize=9)
            page.insert_text((72, 120), f"Sujet {n}", fontname="hebo", fontsize=14)
            body = f"Un texte sur le sujet numéro {n} qui continue un moment. "
            page.insert_textbox(pymupdf.Rect(72, 140, 520, 700), body * 8, fontsize=11)
        data = doc.tobytes()
    parsed = parse(data)
    assert all("CHAPITRE" not in page.text for page in parsed.pages)
    assert [p.headings for p in parsed.pages] == [[f"Sujet {n}"] for n in range(1, 8)]


def test_the_first_line_of_pages_with_narrow_margins_stays():
    # Text from the very top of the page, its first line in the same place on every page.
    words = ["river", "stone", "bridge", "lantern", "meadow", "harbour", "orchard", "quarry"]
    with pymupdf.open() as doc:
        for n in range(1, 6):
            page = doc.new_page()
            body = " ".join(random.Random(n).choices(words, k=600))
            page.insert_textbox(pymupdf.Rect(20, 20, 575, 820), body, fontsize=11)
        data = doc.tobytes()
    parsed = parse(data)
    firsts = [" ".join(random.Random(n).choices(words, k=600)[:5]) for n in range(1, 6)]
    texts = [page.text[: len(first)] for page, first in zip(parsed.pages, firsts, strict=True)]
    assert texts == firsts


def test_text_crowding_the_top_margin_is_not_a_running_header():
    # Ten lines of small print at the top of every page: the last one, set apart from the
    # body below, sits in the same place on every page, but a margin this full is text.
    words = ["tide", "gauge", "reading", "harbour", "pilot", "notice", "buoy", "channel"]
    with pymupdf.open() as doc:
        for n in range(1, 6):
            page = doc.new_page()  # 595 x 842: the top 8 % ends at 67 pt
            for row in range(10):
                line = " ".join(random.Random(n * 100 + row).choices(words, k=8))
                page.insert_text((72, 12 + 5 * row), line, fontsize=5)
            body = f"Body of page {n} with its own words about the harbour. " * 8
            page.insert_textbox(pymupdf.Rect(72, 120, 520, 700), body, fontsize=10)
        data = doc.tobytes()
    parsed = parse(data)
    last_lines = [" ".join(random.Random(n * 100 + 9).choices(words, k=8)) for n in range(1, 6)]
    assert [last in page.text for page, last in zip(parsed.pages, last_lines, strict=True)] == [
        True
    ] * 5


def test_a_number_at_the_end_of_a_top_line_is_not_taken_for_a_page_number():
    # Lines near the top ending in numbers that do not follow the pages stay text.
    headers = ["Release 7", "Release 7", "Release 12", "Step 3", "Step 1", "Step 9"]
    parsed = parse(_manual(headers))
    assert [h in p.text for p, h in zip(parsed.pages, headers, strict=True)] == [True] * 6


def test_a_heading_that_wraps_after_a_comma_is_one_heading():
    # The Debian FAQ's questions are its headings, and long ones wrap after a comma.
    with pymupdf.open() as doc:
        page = doc.new_page()
        heading = "7.7 What is an Essential, Required, Important,\nor Extra package?"
        page.insert_text((72, 100), heading, fontname="hebo", fontsize=14)
        body = "Each package is assigned a priority by the maintainers. " * 6
        page.insert_textbox(pymupdf.Rect(72, 140, 520, 400), body, fontsize=10)
        page.insert_text(
            (72, 420), "A list, in big type,\nthat ends.", fontname="hebo", fontsize=14
        )
        data = doc.tobytes()
    assert parse(data).pages[0].headings == [
        "7.7 What is an Essential, Required, Important, or Extra package?"
    ]


def test_a_title_that_wraps_is_one_heading_whatever_its_lines_weights_or_last_character():
    """A word in a code font makes a title's line not bold, and a title may break after its
    colon: the lines right below each other in the title's size are still one title."""
    with pymupdf.open() as doc:
        page = doc.new_page()
        x = 72.0
        for text, font in (("Instructions for Using the ", "hebo"), ("llncs ", "cour")):
            page.insert_text((x, 100), text, fontname=font, fontsize=16)
            x += pymupdf.get_text_length(text, fontname=font, fontsize=16)
        page.insert_text((x, 100), "Class for", fontname="hebo", fontsize=16)
        page.insert_text((72, 120), "Computer Science Papers", fontname="hebo", fontsize=16)
        body = "The class extends the article class of LaTeX. " * 8
        page.insert_textbox(pymupdf.Rect(72, 150, 520, 400), body, fontsize=10)
        page.insert_text((72, 430), "Manuscript Title:\nwith Forced Linebreak", fontsize=14)
        page.insert_textbox(pymupdf.Rect(72, 480, 520, 700), body, fontsize=10)
        data = doc.tobytes()
    parsed = parse(data)
    assert parsed.pages[0].headings == [
        "Instructions for Using the llncs Class for Computer Science Papers",
        "Manuscript Title: with Forced Linebreak",
    ]
    assert parsed.title == "Instructions for Using the llncs Class for Computer Science Papers"


def test_a_faq_question_that_wraps_onto_a_code_word_is_one_heading():
    with pymupdf.open() as doc:
        page = doc.new_page()
        question = "9. Why is nothing plotted except axes when I plot an object with many"
        page.insert_text((72, 100), question, fontname="hebo", fontsize=12)
        page.insert_text((72, 114), "NAs?", fontname="cour", fontsize=12)
        body = "Isolated points surrounded by NA values do not form lines. " * 6
        page.insert_textbox(pymupdf.Rect(72, 130, 520, 400), body, fontsize=10.9)
        data = doc.tobytes()
    assert parse(data).pages[0].headings == [f"{question} NAs?"]


def test_a_big_line_on_every_page_is_not_a_heading():
    pages = [
        [("h1", "Acme Corporation"), ("h2", f"Part {n}"), ("p", "Text. " * 40)] for n in range(1, 6)
    ]
    parsed = parse(pdfgen.text_pdf(pages))
    assert [p.headings for p in parsed.pages] == [[f"Part {n}"] for n in range(1, 6)]
    assert "Acme Corporation" in parsed.segments[0].text  # still text, just not a heading


def test_a_heading_split_at_a_wide_gap_and_rotated_margin_text():
    # MuPDF splits "2.1<wide gap>Methods" into two lines; a rotated margin note (as on arXiv
    # preprints) spans the page height. Neither may hide the heading.
    with pymupdf.open() as doc:
        page = doc.new_page()
        writer = pymupdf.TextWriter(page.rect)
        bold, regular = pymupdf.Font("hebo"), pymupdf.Font("helv")
        writer.append((72, 100), "2.1", font=bold, fontsize=14)
        writer.append((150, 100), "Methods", font=bold, fontsize=14)
        writer.append(
            (72, 130), "We measured the flow twice a day. " * 8, font=regular, fontsize=11
        )
        writer.write_text(page)
        page.insert_text((30, 700), "arXiv:2101.00001v1 [cs.CL] 1 Jan 2021", rotate=90, fontsize=20)
        data = doc.tobytes()
    parsed = parse(data)
    assert parsed.pages[0].headings == ["2.1 Methods"]
    assert "arXiv:2101.00001v1" in parsed.pages[0].text


def test_two_columns_keep_their_headings_and_table_rows_are_not_headings():
    with pymupdf.open() as doc:
        page = doc.new_page()
        writer = pymupdf.TextWriter(page.rect)
        bold, regular = pymupdf.Font("hebo"), pymupdf.Font("helv")
        writer.append((50, 100), "3 Results", font=bold, fontsize=15)
        for row in range(30):  # two columns of body text, the heading beside the right one
            y = 80 + row * 14
            if y > 110:
                writer.append((50, y), "left column text goes on", font=regular, fontsize=11)
            writer.append((310, y), "right column text goes on", font=regular, fontsize=11)
        for x, cell in [(50, "Region"), (150, "Revenue"), (250, "Growth")]:  # a table header
            writer.append((x, 540), cell, font=bold, fontsize=11)
            writer.append((x, 556), "North 12", font=regular, fontsize=11)
        writer.write_text(page)
        data = doc.tobytes()
    assert parse(data).pages[0].headings == ["3 Results"]


def _deck(titles: list[str], *, width: float = 720, height: float = 540) -> bytes:
    """Slides whose titles (28 pt) are smaller than their bullets (32 pt), as some
    PowerPoint templates set them; the first slide's title is large and bold."""
    with pymupdf.open() as doc:
        for n, title in enumerate(titles):
            page = doc.new_page(width=width, height=height)
            size, font = (44, "hebo") if n == 0 else (28, "helv")
            page.insert_text((40, 60), title, fontsize=size, fontname=font)
            for row in range(3):
                page.insert_text(
                    (40, 150 + 60 * row),
                    f"• bullet {row} of {title.lower()}",
                    fontsize=32,
                    fontname="helv",
                )
        return doc.tobytes()


def test_each_slide_is_headed_by_its_title_even_in_a_smaller_font():
    titles = ["Traits User Interface", "Defining a Model", "Defining a View", "Handlers"]
    parsed = parse(_deck(titles))
    assert [p.headings for p in parsed.pages] == [[t] for t in titles]
    assert [s.heading for s in parsed.segments][1:] == titles[1:]  # not the first slide's


def test_portrait_pages_keep_the_size_rule():
    titles = ["Report", "Defining a Model", "Defining a View", "Handlers"]
    parsed = parse(_deck(titles, width=540, height=720))  # the same pages, upright
    assert [p.headings for p in parsed.pages][1:] == [[], [], []]


def test_title_from_metadata_else_first_heading():
    content = [[("h1", "Field Guide"), ("p", "Birds of the coast and how to tell them apart.")]]
    assert parse(pdfgen.text_pdf(content, title="Coastal Birds")).title == "Coastal Birds"
    assert parse(pdfgen.text_pdf(content)).title == "Field Guide"
    for file_name in ("report.docx", "apssamp.dvi", "scheme1a.eps", "notes.html"):
        assert parse(pdfgen.text_pdf(content, title=file_name)).title == "Field Guide"


def test_a_manual_page_is_titled_by_its_name_line():
    """groff's PDF of a manual page has no title, and its first heading is "NAME"."""
    content = [
        [
            ("h2", "NAME"),
            ("p", "dot − filter for drawing directed graphs"),
            ("h2", "SYNOPSIS"),
            ("p", "dot [options] [files]"),
        ]
    ]
    assert parse(pdfgen.text_pdf(content)).title == "dot − filter for drawing directed graphs"
    # A "NAME" with nothing under it keeps the heading as the title, as any first heading.
    bare = [[("h2", "NAME"), ("h2", "SYNOPSIS"), ("p", "dot [options] [files] for graphs.")]]
    assert parse(pdfgen.text_pdf(bare)).title == "NAME"


@pytest.mark.parametrize(
    "placeholder", ["Slide 1", "Presentation1", "Untitled", "Document 3", "No Title Given"]
)
def test_an_authoring_tools_placeholder_title_gives_way_to_the_first_heading(placeholder):
    # PowerPoint writes "Slide 1" when nobody titled the deck (Debian's traits_ui_slides.pdf).
    content = [[("h1", "Traits User Interface"), ("p", "A tutorial in slides, with examples.")]]
    assert parse(pdfgen.text_pdf(content, title=placeholder)).title == "Traits User Interface"
    assert parse(pdfgen.text_pdf(content, title="Slides for a talk")).title == "Slides for a talk"


# --- segments -------------------------------------------------------------------------------


def test_a_sentence_unique_to_a_page_is_cited_with_that_page():
    content = pdfgen.sample_document(5, seed=11)
    parsed = parse(pdfgen.sample_pdf(5, seed=11))
    for page in range(1, 6):
        sentence = fact(page, content)
        holders = [c.page for c in parsed.segments if sentence in c.text]
        assert holders == [page]


def test_segments_never_cross_pages_and_cover_each_page_in_order():
    parsed = parse(pdfgen.sample_pdf(8, seed=4), segment_chars=400)
    for page in parsed.pages:
        segments = [c for c in parsed.segments if c.page == page.number]
        assert segments, page.number
        # Contiguous pieces of this page, in order, together all of it: nothing crosses over.
        assert " ".join(flat(c.text) for c in segments) == flat(page.text)
    assert [c.seq for c in parsed.segments] == list(range(len(parsed.segments)))
    assert [c.page for c in parsed.segments] == sorted(c.page for c in parsed.segments)


def test_headings_are_carried_into_segments_across_pages():
    pages = [
        [("h2", "2 Methods"), ("p", "We sampled forty ponds in spring. " * 12)],
        [("p", "Each pond was visited twice a week. " * 12)],  # continues section 2
        [("h3", "2.1 Water Quality"), ("p", "Nitrate was measured on site. " * 12)],
        [("p", "Results were logged by hand. " * 12)],
    ]
    parsed = parse(pdfgen.text_pdf(pages), segment_chars=300)
    headings = {
        page: {c.heading for c in parsed.segments if c.page == page} for page in (1, 2, 3, 4)
    }
    assert headings == {
        1: {"2 Methods"},
        2: {"2 Methods"},
        3: {"2.1 Water Quality"},
        4: {"2.1 Water Quality"},
    }
    assert parsed.segments[0].text.startswith("2 Methods\n\nWe sampled")
    assert next(c for c in parsed.segments if c.page == 3).text.startswith("2.1 Water Quality\n\n")


@pytest.mark.parametrize("segment_chars", [300, 800, 1200])
def test_segment_sizes_are_near_the_target(segment_chars):
    parsed = parse(pdfgen.big_pdf(60, seed=2), segment_chars=segment_chars)
    sizes = [len(c.text) for c in parsed.segments]
    assert max(sizes) <= segment_chars * 1.25  # at most a small merged tail over the target
    # Pages hold ~600–1 700 characters, so full-size segments are the rule when they fit.
    filled = [s for s in sizes if s >= segment_chars * 0.5]
    assert len(filled) >= len(sizes) * (0.7 if segment_chars < 800 else 0.4)


def test_hyphenated_words_are_mended_in_segments():
    data = pdfgen.text_pdf(
        [
            [
                (
                    "p",
                    "This is an exam-\nple of a word broken across two lines, and Jean-\nPaul "
                    "kept his hyphen when the text was joined again.",
                )
            ]
        ]
    )
    parsed = parse(data)
    assert "exam-\nple" in parsed.pages[0].text  # the page text keeps its lines
    assert "an example of a word broken across two lines, and Jean-Paul kept" in (
        parsed.segments[0].text
    )


# --- serialisation, determinism, speed, threads -------------------------------------------


def test_to_json_round_trips():
    content = [[("h1", "Café naïve – “quotes”"), ("p", "Ünïcödé text " * 5)]]
    parsed = parse(pdfgen.text_pdf(content, title="Tïtle"))
    raw = parsed.to_json()
    assert isinstance(raw, bytes)
    data = json.loads(raw)
    assert data == parsed.to_dict()
    assert data["page_count"] == 1 and data["title"] == "Tïtle"
    assert data["pages"][0]["headings"] == ["Café naïve – “quotes”"]
    assert data["segments"][0] == {
        "seq": 0,
        "page": 1,
        "heading": "Café naïve – “quotes”",
        "text": parsed.segments[0].text,
    }
    assert data["metadata"]["title"] == "Tïtle"
    assert ParsedPdf.from_json(raw) == parsed

    # Results stored before version 2 called the segments "chunks": they still read the same.
    old = {k: v for k, v in data.items() if k != "segments"}
    old |= {"schema_version": 1, "chunks": data["segments"]}
    assert ParsedPdf.from_json(json.dumps(old)) == parsed


def test_parsing_is_deterministic_and_documents_differ():
    first = parse(pdfgen.sample_pdf(4, seed=1)).to_json()
    assert parse(pdfgen.sample_pdf(4, seed=1)).to_json() == first
    assert parse(pdfgen.sample_pdf(4, seed=2)).to_json() != first


def test_parallel_threads_get_the_same_results():
    files = [pdfgen.sample_pdf(4, seed=s) for s in range(6)]
    expected = [parse(f) for f in files]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(parse, files * 3)) == expected * 3


def test_parses_take_turns_on_mupdf():
    # PyMuPDF must never run on two threads at once; a crash is too random to test for, so
    # check that parse_pdf waits while another thread holds the lock.
    data = pdfgen.sample_pdf(1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with extract._MUPDF_LOCK:
            waiting = pool.submit(parse, data)
            time.sleep(0.3)
            assert not waiting.done()
        assert waiting.result(timeout=30).page_count == 1


def test_a_long_document_parses_fast():
    data = pdfgen.big_pdf(500)
    started = time.perf_counter()
    parsed = parse(data, max_pages=1000)
    elapsed = time.perf_counter() - started
    assert parsed.page_count == 500 and len(parsed.segments) >= 500
    assert elapsed < 5.0, f"{500 / elapsed:.0f} pages/s"  # ~2 000 pages/s on a laptop core


def test_options_set_with_typographic_hyphens_read_as_typed() -> None:
    """groff and TeX set "-K" and "--persist" with a minus sign or a typographic hyphen, which
    nobody types in a question: read as hyphens, they are found by the option. A dash between
    words stays."""
    doc = pymupdf.open()
    page = doc.new_page()
    lines = ["Pick it with \u2010K neato.", "Keep it: \u2010\u2010persist \u2010 twice."]
    for y, line in zip((72, 90), lines, strict=True):
        page.insert_text((72, y), line, fontname="china-s", fontsize=11)
    text = parse(doc.tobytes()).pages[0].text
    assert "Pick it with -K neato." in text and "Keep it: --persist \u2010 twice." in text, text
