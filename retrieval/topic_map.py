"""A document's topic map: its segments clustered into topics and sub-topics, each labelled, and
an extractive guide to the document built from them.

Pure computation on vectors and texts; the topic-map agent stores the result.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.metrics import silhouette_score

from core import cjk

# Stored with every map: the sweep recomputes maps of older versions (workflows.topic_maps).
# 3: each topic names the segments its summary quotes (``key_segment_ids``).
VERSION = 3
MAX_TOPICS = 12
MAX_SUBTOPICS = 6
# A topic needs this many segments to be split into sub-topics: below it, the guide's second
# level would only repeat the first.
MIN_SEGMENTS_TO_SPLIT = 6
LABEL_TERMS = 3
KEY_SENTENCES = 2
# Silhouette is quadratic in the segments; a sample of this size chooses k as well.
SILHOUETTE_SAMPLE = 2000
# k-means of a bigger document runs on a sample of this many segments (a 10,000-segment manual:
# 25 s of CPU for its map otherwise); the centres of a few thousand are as good as of all.
CLUSTER_SAMPLE = 2000
# A heading labels a group only when it covers this share of the group's segments: a topic whose
# segments come from many sections is better described by its words.
HEADING_SHARE = 0.5
SEED = 0  # the same document always gets the same map
# A summary quotes, of the segments nearest a topic's centre (this many per sentence wanted),
# those whose first sentence reads as prose: PROSE_MIN_WORDS words, most of them plain.
CENTRAL_LOOK = 5
PROSE_MIN_WORDS = 6
PROSE_PLAIN_SHARE = 0.75
_PLAIN_WORD = re.compile(r"[(\"'“‘]?[^\W\d_]+(?:['’-][^\W\d_]+)*[)\"'”’.,;:!?]*")

# Words that make junk labels: English function words, the modal and archaic words of legal
# and formal prose, ordinals and number words, and page furniture.
STOP_WORDS = ENGLISH_STOP_WORDS | {
    "shall",
    "may",
    "might",
    "must",
    "upon",
    "unto",
    "thereof",
    "therein",
    "thereby",
    "whereof",
    "wherein",
    "whereas",
    "hereby",
    "herein",
    "said",
    "such",
    "also",
    "let",
    "made",
    "make",
    "like",
    "would",
    "could",
    "should",
    "every",
    "shalt",
    "hath",
    "doth",
    "thee",
    "thou",
    "thy",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "hundred",
    "thousand",
    "page",
    "pages",
    "chapter",
    "section",
    "article",
    "part",
    "contents",
    "continued",
    "appendix",
    "figure",
    "table",
    "tables",
    "fig",
    "vol",
    "etc",
    "ibid",
    "per",
    "via",
    "mr",
    "mrs",
    "dr",
    "http",
    "https",
    "www",
    "com",
    "org",
    "pdf",
    "copyright",
    "rights",
    "reserved",
}
# Words too vague to label a topic on their own (they may still be part of a phrase).
GENERIC_WORDS = frozenset(
    {
        "time",
        "times",
        "number",
        "provide",
        "provided",
        "different",
        "able",
        "according",
        "little",
        "certain",
        "way",
        "use",
        "used",
        "using",
        "given",
        "general",
        "case",
        "new",
        "good",
        "great",
        "long",
        "kept",
        "work",
        "day",
        "days",
        "year",
        "years",
        "thing",
        "things",
        "shown",
        "known",
        "following",
        "said",
        "including",
        "example",
        "important",
        "various",
        "whole",
        "likely",
        "possible",
        "usually",
        "often",
        "order",
        "place",
        "end",
        "set",
    }
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")
_ROMAN = re.compile(r"m{0,4}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
# "3", "2.1", "IV.", "A)" and the like before a heading's words; in Chinese "第二章", "一、".
_NUMBERING = re.compile(
    r"^\s*(?:(?:\d+(?:\.\d+)*|[IVXLCDM]+|[A-Z])[.):]?\s+"
    r"|第[\d一二三四五六七八九十百零]+[章节部篇条款]\s*|[一二三四五六七八九十]+、\s*)+"
)
# Headings that only say where, not what: "Section 2", "Article IV", "Amendment XX (1933)".
_STRUCTURAL = re.compile(
    r"^(?:section|article|chapter|part|amendment|clause|appendix|book|volume|lecture|lesson"
    r"|unit|page|schedule|annex|title|step|item)\s+(?:\d+|[ivxlcdm]+|[a-z])\b[.:]?"
    r"\s*(?:\([^)]*\))?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Segment:
    segment_id: str
    page: int
    heading: str | None
    text: str
    vector: list[float]


@dataclass(frozen=True)
class Subtopic:
    label: str
    terms: list[str]
    pages: list[int]
    segment_ids: list[str]
    headings: list[str]
    summary: str
    # The segments the summary's sentences come from, in reading order: a chat asked what the
    # document is about quotes them (workflows.overview).
    key_segment_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Topic(Subtopic):
    """A topic is described as its subtopics are, and has them."""

    subtopics: list[Subtopic] = field(default_factory=list)


@dataclass(frozen=True)
class TopicMap:
    title: str | None
    overview: str
    topics: list[Topic]
    guide: str = ""
    version: int = VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def topic_map(title: str | None, segments: list[Segment]) -> TopicMap:
    """Topics in reading order; the number of topics is the one whose k-means clustering
    separates the segments best (silhouette), between 1 and MAX_TOPICS. Topics of at least
    MIN_SEGMENTS_TO_SPLIT segments are split the same way into sub-topics, also in reading order."""
    if not segments:
        return TopicMap(
            title=title,
            overview="The document has no text.",
            topics=[],
            guide="The document has no text.",
        )
    words = _Words([c.text for c in segments])
    # float64: scikit-learn computes float32 distances by a slower path that upcasts them in
    # chunks (27 documents' maps: 4.2 → 3.9 s, the same maps).
    vectors = np.asarray([c.vector for c in segments], dtype=np.float64)
    groups = _groups(_cluster(vectors, MAX_TOPICS), range(len(segments)))
    terms = words.distinctive(groups, context=range(len(segments)))
    labels = _labels(segments, groups, terms, words, title)
    topics = [
        _topic(segments, vectors, words, members, label, group_terms, title)
        for members, label, group_terms in zip(groups, labels, terms, strict=True)
    ]
    return TopicMap(
        title=title, overview=_overview(title, topics), topics=topics, guide=_guide(title, topics)
    )


# --- clustering -------------------------------------------------------------------------------


def _cluster(vectors: np.ndarray, max_k: int) -> np.ndarray:
    n = len(vectors)
    if n < 4:
        return np.zeros(n, dtype=int)
    # A big document's centres are found on a sample, and every segment joins its nearest.
    sample = vectors
    if n > CLUSTER_SAMPLE:
        picked = np.random.default_rng(SEED).choice(n, CLUSTER_SAMPLE, replace=False)
        sample = vectors[np.sort(picked)]
    best_labels, best_score = np.zeros(n, dtype=int), -1.0
    for k in range(2, min(max_k, n - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=SEED).fit(sample).predict(vectors)
        if len(set(labels)) < 2:
            continue
        score = silhouette_score(
            vectors,
            labels,
            metric="cosine",
            sample_size=min(n, SILHOUETTE_SAMPLE),
            random_state=SEED,
        )
        if score > best_score:
            best_labels, best_score = labels, score
    return best_labels


def _groups(labels: np.ndarray, members: Sequence[int]) -> list[list[int]]:
    """Segment indexes per cluster, the clusters in reading order (segments come in reading order,
    so a group's first index is where the reader meets it first)."""
    by_cluster: dict[int, list[int]] = defaultdict(list)
    for label, index in zip(labels, members, strict=True):
        by_cluster[int(label)].append(index)
    return sorted(by_cluster.values(), key=lambda group: group[0])


# --- labels -----------------------------------------------------------------------------------


class _Words:
    """Unigrams and bigrams of content words per segment, and how they are usually spelled.

    A plural counts as its singular when the document uses both ("States", "State"), so a
    label never names the same thing twice."""

    def __init__(self, texts: Sequence[str]) -> None:
        tokens = [[m.lower() for m in _WORD.findall(t)] for t in texts]
        vocabulary = {w for words in tokens for w in words}
        self._fold = {
            w: w[:-1]
            for w in vocabulary
            if len(w) > 3 and w.endswith("s") and not w.endswith("ss") and w[:-1] in vocabulary
        }
        self.counts: list[Counter[str]] = [Counter(self._terms(words)) for words in tokens]
        self._spelling: dict[str, Counter[str]] = defaultdict(Counter)
        for text in texts:
            for word in _WORD.findall(text):
                self._spelling[self._fold.get(word.lower(), word.lower())][word] += 1

    def _terms(self, words: list[str]) -> list[str]:
        kept = [self._fold.get(w, w) if _content_word(w) else None for w in words]
        bigrams = [f"{a} {b}" for a, b in itertools.pairwise(kept) if a and b and a != b]
        # Generic words make empty labels alone, yet can carry a phrase ("new trial").
        return [w for w in kept if w and w not in GENERIC_WORDS] + bigrams

    def distinctive(
        self,
        groups: list[list[int]],
        *,
        context: Sequence[int],
        exclude: AbstractSet[str] = frozenset(),
    ) -> list[list[str]]:
        """Per group, the terms frequent in it and rare in the other segments of ``context``
        (class-based TF-IDF: term frequency in the group, inverse segment frequency in the
        context), a bigram replacing the words it is made of when it carries most of them.
        Terms sharing a word with ``exclude`` (the parent topic's label) are left out."""
        df: Counter[str] = Counter()
        for i in context:
            df.update(self.counts[i].keys())
        n = len(context)
        result = []
        for group in groups:
            tf: Counter[str] = Counter()
            for i in group:
                tf.update(self.counts[i])
            scores = {
                t: c * (np.log((1 + n) / (1 + df[t])) + 1)
                for t, c in tf.items()
                if exclude.isdisjoint(t.split())
            }
            ranked = sorted(scores, key=lambda t: (-scores[t], t))
            result.append(_pick_terms(ranked, tf, LABEL_TERMS * 2))
        return result

    def spelled(self, term: str) -> str:
        """The term as the document usually writes it ("Congress", "vice president")."""
        return " ".join(self._surface(word) for word in term.split())

    def _surface(self, word: str) -> str:
        forms = self._spelling.get(word)
        if not forms:
            return word
        best = max(forms, key=lambda f: (forms[f], f.islower()))
        # A word only ever in capitals comes from headings or acronyms set in caps.
        return word if best.isupper() and len(best) > 3 else best


def _content_word(word: str) -> bool:
    return len(word) >= 3 and word not in STOP_WORDS and not _ROMAN.fullmatch(word)


def _pick_terms(ranked: list[str], tf: Counter[str], limit: int) -> list[str]:
    picked: list[str] = []
    for term in ranked:
        if len(picked) >= limit:
            break
        words = term.split()
        overlapping = [p for p in picked if set(p.split()) & set(words)]
        if not overlapping:
            picked.append(term)
        elif (
            len(words) == 2
            and all(len(p.split()) == 1 for p in overlapping)
            and any(tf[term] >= 0.6 * tf[p] for p in overlapping)
        ):
            # A word that mostly occurs in this phrase: the phrase says more.
            picked = [p for p in picked if p not in overlapping] + [term]
    return picked


def clean_heading(heading: str | None, title: str | None = None) -> str | None:
    """A heading fit to label a topic: without its numbering, and None for one that only says
    where ("Section 2", "Article IV"), repeats the document's title, or is not words."""
    if not heading:
        return None
    text = _NUMBERING.sub("", " ".join(heading.split())).strip(" .:-–—")
    if (
        (len(_WORD.findall(text)) == 0 and not cjk.has_cjk(text))
        or len(text) > 80
        or _STRUCTURAL.fullmatch(text)
        or (title and text.casefold() == " ".join(title.split()).casefold())
    ):
        return None
    return text


def _labels(
    segments: list[Segment],
    groups: list[list[int]],
    terms: list[list[str]],
    words: _Words,
    title: str | None,
) -> list[str]:
    """A label per group, none twice: the group's dominant heading, else its distinctive
    words; a repeated heading gives way to the words, and repeated words to the pages."""
    by_words = [_terms_label(t, words) or "Untitled" for t in terms]
    labels = [
        _dominant_heading(segments, g, title) or w for g, w in zip(groups, by_words, strict=True)
    ]
    repeated = {label for label, n in Counter(labels).items() if n > 1}
    labels = [w if label in repeated else label for label, w in zip(labels, by_words, strict=True)]
    repeated = {label for label, n in Counter(labels).items() if n > 1}
    return [
        f"{label} (pages {_span(_pages(segments, g))})" if label in repeated else label
        for label, g in zip(labels, groups, strict=True)
    ]


def _dominant_heading(segments: list[Segment], members: list[int], title: str | None) -> str | None:
    counts = Counter(clean_heading(segments[i].heading, title) for i in members)
    counts.pop(None, None)
    if not counts:
        return None
    heading, count = counts.most_common(1)[0]
    return heading if count >= HEADING_SHARE * len(members) else None


def _terms_label(terms: list[str], words: _Words) -> str:
    shown = [words.spelled(t) for t in terms[:LABEL_TERMS]]
    if not shown:
        return ""
    text = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    return text[0].upper() + text[1:]


# --- topics, sub-topics and summaries ---------------------------------------------------------


def _topic(
    segments: list[Segment],
    vectors: np.ndarray,
    words: _Words,
    members: list[int],
    label: str,
    terms: list[str],
    title: str | None,
) -> Topic:
    central = _central(segments, vectors, members, KEY_SENTENCES)
    summary = [first_sentence(segments[i].text) for i in central]
    parent_words = {w for t in terms[:LABEL_TERMS] for w in t.split()}
    return Topic(
        label=label,
        terms=[words.spelled(t) for t in terms],
        pages=_pages(segments, members),
        segment_ids=[segments[i].segment_id for i in members],
        headings=_headings(segments, members),
        summary=" ".join(summary),
        key_segment_ids=[segments[i].segment_id for i in central],
        subtopics=_subtopics(
            segments, vectors, words, members, title, used=set(summary), parent_words=parent_words
        ),
    )


def _subtopics(
    segments: list[Segment],
    vectors: np.ndarray,
    words: _Words,
    members: list[int],
    title: str | None,
    *,
    used: set[str],
    parent_words: set[str],
) -> list[Subtopic]:
    if len(members) < MIN_SEGMENTS_TO_SPLIT:
        return []
    max_k = min(MAX_SUBTOPICS, len(members) // 2)
    groups = _groups(_cluster(vectors[members], max_k), members)
    if len(groups) < 2:
        return []
    # Words that tell the sub-topics apart, not those of the whole topic again.
    terms = words.distinctive(groups, context=members, exclude=parent_words)
    labels = _labels(segments, groups, terms, words, title)
    subtopics = []
    for group, label, group_terms in zip(groups, labels, terms, strict=True):
        central = _central(segments, vectors, group, 1, used=used)
        subtopics.append(
            Subtopic(
                label=label,
                terms=[words.spelled(t) for t in group_terms],
                pages=_pages(segments, group),
                segment_ids=[segments[i].segment_id for i in group],
                headings=_headings(segments, group),
                summary=" ".join(first_sentence(segments[i].text) for i in central),
                key_segment_ids=[segments[i].segment_id for i in central],
            )
        )
    return subtopics


def _pages(segments: list[Segment], members: list[int]) -> list[int]:
    return sorted({segments[i].page for i in members})


def _headings(segments: list[Segment], members: list[int]) -> list[str]:
    counts = Counter(heading for i in members if (heading := segments[i].heading))
    return [h for h, _ in counts.most_common(3)]


def _central(
    segments: list[Segment],
    vectors: np.ndarray,
    members: list[int],
    n: int,
    *,
    used: set[str] | None = None,
) -> list[int]:
    """The ``n`` segments closest to the group's centre with distinct first sentences, in
    reading order, those whose first sentence reads as prose first (a manual's central
    segment is often a command line, which summarises nothing); one whose first sentence is
    already in ``used`` (the parent topic's summary) is passed over."""
    group = vectors[members]
    centre = group.mean(axis=0)
    closest = [members[int(p)] for p in np.argsort(-(group @ centre), kind="stable")]
    firsts = {i: first_sentence(segments[i].text) for i in closest[: n * CENTRAL_LOOK]}
    ordered = sorted(firsts, key=lambda i: not _prose(firsts[i]))  # stable: closest first
    chosen: list[int] = []
    seen = set(used or ())
    for index in ordered + closest[n * CENTRAL_LOOK :]:
        sentence = firsts.get(index) or first_sentence(segments[index].text)
        if sentence and sentence not in seen:
            chosen.append(index)
            seen.add(sentence)
        if len(chosen) == n:
            break
    return sorted(chosen)


def _prose(sentence: str) -> bool:
    """Mostly plain words: not code ("CFLAGS=-O2 ./configure --with-x") or a list of names."""
    tokens = sentence.split()
    plain = sum(1 for t in tokens if _PLAIN_WORD.fullmatch(t))
    return len(tokens) >= PROSE_MIN_WORDS and plain >= PROSE_PLAIN_SHARE * len(tokens)


def first_sentence(text: str) -> str:
    """The first sentence of a segment's prose, past the title and heading lines it may open
    with (short paragraphs without a full stop)."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    prose = [p for p in paragraphs if p and (len(p) > 80 or p[-1] in '.!?;:"”。！？；：')]
    body = " ".join(prose or paragraphs)
    # Chinese and Japanese say as much in fewer characters, and put no space after a stop.
    match = re.match(r"(.{20,300}?[.!?])(\s|$)|(.{8,150}?[。！？])", body)
    if match:
        return match.group(1) or match.group(3)
    return body if len(body) <= 200 else body[:200].rsplit(" ", 1)[0] + " …"


# --- overview and guide -----------------------------------------------------------------------


def _overview(title: str | None, topics: list[Topic]) -> str:
    name = title or "This document"
    if len(topics) == 1:
        return f"{name} covers one topic: {topics[0].label} (pages {_span(topics[0].pages)})."
    parts = "; ".join(f"{t.label} (pages {_span(t.pages)})" for t in topics)
    return f"{name} covers {len(topics)} topics, in reading order: {parts}."


def _guide(title: str | None, topics: list[Topic]) -> str:
    """The map as an outline a reader can follow: numbered topics in reading order, each with
    its summary, and its sub-topics with theirs."""
    lines = [_overview(title, topics), ""]
    for n, topic in enumerate(topics, start=1):
        lines.append(f"{n}. {topic.label} (pages {_span(topic.pages)})")
        lines.append(f"   {topic.summary}")
        for m, sub in enumerate(topic.subtopics, start=1):
            lines.append(f"   {n}.{m} {sub.label} (pages {_span(sub.pages)}): {sub.summary}")
    return "\n".join(lines).rstrip()


def _span(pages: list[int], *, max_runs: int = 4) -> str:
    """Pages as runs: "3", "1–4", "1–3, 7, 9–12", and "… and N more pages" past a few runs."""
    runs: list[list[int]] = []
    for page in pages:
        if runs and page == runs[-1][-1] + 1:
            runs[-1].append(page)
        else:
            runs.append([page])
    shown = [str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs[:max_runs]]
    rest = sum(len(r) for r in runs[max_runs:])
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


__all__ = [
    "VERSION",
    "Segment",
    "Subtopic",
    "Topic",
    "TopicMap",
    "clean_heading",
    "first_sentence",
    "topic_map",
]
