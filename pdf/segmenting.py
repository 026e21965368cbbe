"""Page-aware segmenting: pages of text in, retrieval-sized segments out.

The rules, and why:

- A segment never crosses a page, so every segment cites exactly one page; but the last
  sentence of a page that runs on to the next is finished there (up to ``CARRIED_MAX_CHARS``
  of the next page), so that it is found and quoted whole.
- A heading starts a new segment and is repeated at the top of its text, so a segment read alone
  (by a re-ranker, or quoted to a user) says what it is about. The heading in force is carried
  over page breaks into the next page's segments (``Segment.heading``).
- Segments aim at ``segment_chars`` characters: whole paragraphs when they fit, otherwise whole
  sentences, otherwise whole words. Only a single "word" longer than a segment (a URL, a hash) is
  ever cut, because there is nothing better to do with it.
- A tiny piece left over (under ``TAIL_FRACTION`` of a segment) joins the segment before it on the
  same page and in the same section, instead of becoming a segment too small to retrieve well.
  A new section that happens to be short keeps its own segment: its heading matters more.
- Lines wrapped inside a paragraph are joined, and words hyphenated across a line end are
  mended ("exam-\\nple" → "example"), because embedding models and search read words, not
  line boxes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.cjk import CJK_WRAPS, has_cjk

__all__ = [
    "LEADER_DOTS",
    "TAIL_FRACTION",
    "PageText",
    "Segment",
    "join_lines",
    "segment_pages",
    "split_sentences",
]

TAIL_FRACTION = 0.2
"""Pieces smaller than this share of ``segment_chars`` are merged into the segment before them."""
CARRIED_MAX_CHARS = 300
"""The longest end of a sentence that is carried back from the next page (``_ended``)."""

# Below half a segment, a paragraph that does not fit is split on sentences to fill the segment up
# rather than leaving it this small.
_FILL_FRACTION = 0.5

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\f\v]*\n\s*")
# A table of contents' heading heads only its own pages: carried on, it would head every
# segment of a document whose chapter headings were not found ("Table of Contents" over all of a
# tutorial's sections). A page of contents has lines with leader dots ("2. Warming up . . . 7").
_CONTENTS_HEADING = re.compile(r"(?:table\s+of\s+)?contents", re.IGNORECASE)
LEADER_DOTS = re.compile(r"(?:\.\s?){4,}")
# A letter, a hyphen (ASCII, soft or Unicode), a line break, a letter.
_HYPHENATED = re.compile(r"([^\W\d_])[-\u00ad\u2010][ \t]*\n[ \t]*(?=([^\W\d_]))")
# A sentence end: terminal punctuation, optional closing quotes/brackets, then white space;
# or a full-width one (。！？), after which Chinese and Japanese leave no space.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*\s+|[。！？]+[”’」』）]*\s*")
# Words after which a full stop rarely ends a sentence.
_ABBREVIATIONS = frozenset(
    [
        "al",
        "approx",
        "art",
        "cf",
        "ch",
        "col",
        "dr",
        "e.g",
        "eq",
        "eqs",
        "fig",
        "figs",
        "i.e",
        "inc",
        "jr",
        "ltd",
        "mr",
        "mrs",
        "ms",
        "no",
        "nos",
        "p",
        "pp",
        "prof",
        "ref",
        "refs",
        "sec",
        "sect",
        "sr",
        "st",
        "vol",
        "vols",
        "vs",
    ]
)


@dataclass(frozen=True)
class PageText:
    """One page of a document: its text and the headings on it."""

    number: int  # 1-based
    # Plain text in reading order: paragraphs separated by a blank line, the lines of a
    # paragraph by "\n", white space inside lines collapsed to single spaces.
    text: str
    headings: list[str] = field(default_factory=list)  # in page order, each as join_lines gives


@dataclass(frozen=True)
class Segment:
    """A piece of a document sized for retrieval; it always comes from exactly one page."""

    seq: int  # 0-based order within the document
    page: int  # 1-based page number
    heading: str | None  # the section heading in force, carried across pages
    text: str


def join_lines(paragraph: str) -> str:
    """One paragraph on one line: mend hyphenated words, join wrapped lines, tidy spaces.

    "exam-\\nple" becomes "example"; a hyphen before a capital stays ("Jean-\\nPaul" →
    "Jean-Paul"), since that is almost always a real hyphen; a soft hyphen always goes. A line
    wrapped between two Chinese or Japanese characters joins with no space ("重启服\\n务" →
    "重启服务"): those scripts put none between words.
    """

    def mend(match: re.Match[str]) -> str:
        hyphen = match.group(0)[1]
        keep = hyphen != "\u00ad" and not match.group(2).islower()
        return match.group(1) + ("-" if keep else "")

    # A hyphen is mended only at a line break: one paragraph in three has none (segmenting
    # joins every paragraph of a document, so this is hot).
    mended = paragraph
    if "\n" in paragraph:
        mended = _HYPHENATED.sub(mend, mended)
        if has_cjk(mended):
            mended = CJK_WRAPS.sub("", mended)
    return " ".join(mended.replace("\u00ad", "").split())  # white space single, none at the ends


def split_sentences(text: str) -> list[str]:
    """Split one paragraph into sentences, keeping abbreviations and initials intact."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end < len(text) and _ends_sentence(text[start : match.start() + 1], text[end]):
            sentences.append(text[start:end].strip())
            start = end
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _ends_sentence(before: str, next_char: str) -> bool:
    if before[-1] in "。！？":
        return True
    starts = next_char.isupper() or next_char.isdigit() or next_char in "\"'“‘(«["
    if not (starts or has_cjk(next_char)):
        return False  # "e.g. the" or "3.5 mm": the next word does not start a sentence
    if not before.endswith("."):
        return True  # "!" and "?" always end one
    word = before.rsplit(None, 1)[-1].rstrip(".").lstrip("(\"'“‘").lower()
    is_initial = len(word) == 1 and word.isalpha()  # "J. Smith"
    return not (is_initial or word in _ABBREVIATIONS)


def segment_pages(pages: list[PageText], *, segment_chars: int = 1200) -> list[Segment]:
    """Cut pages into segments of about ``segment_chars`` characters; see the module docstring."""
    if segment_chars < 1:
        raise ValueError(f"segment_chars must be positive, not {segment_chars}")
    segments: list[Segment] = []
    heading: str | None = None
    for page, following in zip(pages, [*pages[1:], None], strict=True):
        if heading and _CONTENTS_HEADING.fullmatch(heading) and not _is_contents(page):
            heading = None
        builder = _PageSegments(page.number, heading, segment_chars)
        paragraphs = list(_paragraphs(page))
        if paragraphs and following is not None and not paragraphs[-1][0]:
            paragraphs[-1] = (False, _ended(paragraphs[-1][1], following))
        for is_heading, paragraph in paragraphs:
            if is_heading:
                builder.add_heading(paragraph)
            else:
                builder.add_paragraph(paragraph)
        heading = builder.heading
        for draft in builder.finish():
            segments.append(Segment(len(segments), page.number, draft.heading, draft.text))
    return segments


def _ended(paragraph: str, following: PageText) -> str:
    """The page's last paragraph with the end of its last sentence, when that runs on to the
    next page: "… the author need not explicitly set it): page numbering starts at a high" |
    "number, black marks for overfull boxes." A page break falls mid-sentence in a third to
    half of a paper's pages; cut there, the sentence is found and quoted by its first half.
    The next page keeps its own text (its first segment begins mid-sentence, as before)."""
    if not (paragraph[-1].isalpha() or paragraph[-1] in ",-"):  # a word or a clause goes on
        return paragraph
    opening = join_lines(_PARAGRAPH_BREAK.split(following.text, maxsplit=1)[0])
    if not opening[:1].islower() or opening in map(join_lines, following.headings):
        return paragraph
    end = split_sentences(opening)[0]
    if len(end) > CARRIED_MAX_CHARS or end[-1] not in ".!?:":
        return paragraph
    return join_lines(f"{paragraph}\n{end}")


def _is_contents(page: PageText) -> bool:
    return len(LEADER_DOTS.findall(page.text)) > 1


def _paragraphs(page: PageText) -> Iterator[tuple[bool, str]]:
    """The page's paragraphs, one line each, flagged when they are one of its headings."""
    pending = [join_lines(h) for h in page.headings]
    for raw in _PARAGRAPH_BREAK.split(page.text):
        paragraph = join_lines(raw)
        if not paragraph:
            continue
        # Headings are listed in page order, so only the next one can match.
        is_heading = bool(pending) and paragraph == pending[0]
        if is_heading:
            pending.pop(0)
        yield is_heading, paragraph


@dataclass
class _Draft:
    heading: str | None
    text: str = ""
    opens_section: bool = False  # starts with its heading line
    body: bool = False  # holds more than heading lines

    def add(self, piece: str, *, new_paragraph: bool) -> None:
        separator = ("\n\n" if new_paragraph else " ") if self.text else ""
        self.text += separator + piece


class _PageSegments:
    """Packs the paragraphs of one page into drafts of segments."""

    def __init__(self, page: int, heading: str | None, limit: int) -> None:
        self.page = page
        self.heading = heading
        self.limit = limit
        self.drafts: list[_Draft] = []
        self.current: _Draft | None = None

    def add_heading(self, heading: str) -> None:
        if len(heading) > self.limit:  # not a heading anyone could use; keep it as text
            self.add_paragraph(heading)
            return
        self.heading = heading
        current = self.current
        if current is not None and current.opens_section and not current.body:
            # "2 Methods" straight followed by "2.1 Data": one segment, under the nearest one.
            current.add(heading, new_paragraph=True)
            current.heading = heading
            return
        self._flush()
        self.current = _Draft(heading, heading, opens_section=True)

    def add_paragraph(self, paragraph: str) -> None:
        current = self._open()
        if self._fits(current, paragraph, new_paragraph=True):
            self._append(paragraph, new_paragraph=True)
            return
        if len(paragraph) <= self.limit and len(current.text) >= self.limit * _FILL_FRACTION:
            self._flush()  # a paragraph boundary is the best place to cut
            self._append(paragraph, new_paragraph=True)
            return
        first = True
        for piece in _pieces(paragraph, self.limit):
            if not self._fits(self._open(), piece, new_paragraph=first):
                self._flush()
            self._append(piece, new_paragraph=first)
            first = False

    def finish(self) -> list[_Draft]:
        self._flush()
        return self.drafts

    def _open(self) -> _Draft:
        if self.current is None:
            self.current = _Draft(self.heading)
        return self.current

    def _fits(self, draft: _Draft, piece: str, *, new_paragraph: bool) -> bool:
        separator = (2 if new_paragraph else 1) if draft.text else 0
        return len(draft.text) + separator + len(piece) <= self.limit

    def _append(self, piece: str, *, new_paragraph: bool) -> None:
        draft = self._open()
        draft.add(piece, new_paragraph=new_paragraph)
        draft.body = True

    def _flush(self) -> None:
        draft, self.current = self.current, None
        if draft is None or not draft.text:
            return
        previous = self.drafts[-1] if self.drafts else None
        if previous is not None and self._merges_into(draft, previous):
            previous.add(draft.text, new_paragraph=True)
            return
        self.drafts.append(draft)

    def _merges_into(self, draft: _Draft, previous: _Draft) -> bool:
        if len(draft.text) >= self.limit * TAIL_FRACTION:
            return False
        if not draft.body:
            return True  # a lone heading at the foot of a page: keep its text, lose nothing
        return not draft.opens_section and draft.heading == previous.heading


def _pieces(paragraph: str, limit: int) -> Iterator[str]:
    """Sentences of the paragraph, each cut into word runs of at most ``limit`` if needed."""
    for sentence in split_sentences(paragraph):
        if len(sentence) <= limit:
            yield sentence
        else:
            yield from _word_runs(sentence, limit)


def _word_runs(text: str, limit: int) -> Iterator[str]:
    run = ""
    for word in text.split():
        while len(word) > limit:  # one "word" longer than a segment: nothing better than a cut
            if run:
                yield run
                run = ""
            yield word[:limit]
            word = word[limit:]
        if run and len(run) + 1 + len(word) > limit:
            yield run
            run = ""
        run = f"{run} {word}" if run else word
    if run:
        yield run
