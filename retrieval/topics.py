"""A document's topic map: its chunks clustered into topics, each labelled, and an extractive
guide to the document built from them.

Pure computation on vectors and texts; the topic-map agent stores the result.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score

MAX_TOPICS = 12
LABEL_TERMS = 3
KEY_SENTENCES = 2
SEED = 0  # the same document always gets the same map


@dataclass(frozen=True)
class Chunk:
    segment_id: str
    page: int
    heading: str | None
    text: str
    vector: list[float]


@dataclass(frozen=True)
class Topic:
    label: str
    terms: list[str]
    pages: list[int]
    segment_ids: list[str]
    headings: list[str]
    summary: str


@dataclass(frozen=True)
class TopicMap:
    title: str | None
    overview: str
    topics: list[Topic]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def topic_map(title: str | None, chunks: list[Chunk]) -> TopicMap:
    """Topics in reading order (by first page); the number of topics is the one whose k-means
    clustering separates the chunks best (silhouette), between 1 and MAX_TOPICS."""
    if not chunks:
        return TopicMap(title=title, overview="The document has no text.", topics=[])
    vectors = np.asarray([c.vector for c in chunks], dtype=np.float32)
    labels = _cluster(vectors)
    terms = _distinctive_terms([c.text for c in chunks], labels)
    in_reading_order = sorted(set(labels), key=lambda k: _first_page(chunks, labels, k))
    topics = [_topic(chunks, vectors, labels, k, terms[k]) for k in in_reading_order]
    return TopicMap(title=title, overview=_overview(title, topics), topics=topics)


def _cluster(vectors: np.ndarray) -> np.ndarray:
    n = len(vectors)
    if n < 4:
        return np.zeros(n, dtype=int)
    best_labels, best_score = np.zeros(n, dtype=int), -1.0
    for k in range(2, min(MAX_TOPICS, n - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=SEED).fit_predict(vectors)
        if len(set(labels)) < 2:
            continue
        score = silhouette_score(vectors, labels, metric="cosine")
        if score > best_score:
            best_labels, best_score = labels, score
    return best_labels


def _distinctive_terms(texts: list[str], labels: np.ndarray) -> dict[int, list[str]]:
    """Words frequent in a topic and rare in the others (class-based TF-IDF)."""
    clusters = sorted(set(labels))
    joined = [" ".join(t for t, label in zip(texts, labels, strict=True) if label == k)
              for k in clusters]  # fmt: skip
    tfidf = TfidfVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z-]{2,}\b",
                            sublinear_tf=True)  # fmt: skip
    try:
        matrix = tfidf.fit_transform(joined).toarray()
    except ValueError:  # only stop words
        return {k: [] for k in clusters}
    vocabulary = np.asarray(tfidf.get_feature_names_out())
    return {k: list(vocabulary[np.argsort(-row)[:LABEL_TERMS * 2]])
            for k, row in zip(clusters, matrix, strict=True)}  # fmt: skip


def _topic(chunks, vectors, labels, cluster: int, terms: list[str]) -> Topic:
    members = [i for i, label in enumerate(labels) if label == cluster]
    headings = [h for h, _ in Counter(chunks[i].heading for i in members
                                      if chunks[i].heading).most_common(3)]  # fmt: skip
    label = headings[0] if headings else ", ".join(terms[:LABEL_TERMS]).capitalize()
    return Topic(
        label=label or "Untitled",
        terms=terms[:LABEL_TERMS * 2],
        pages=sorted({chunks[i].page for i in members}),
        segment_ids=[chunks[i].segment_id for i in members],
        headings=headings,
        summary=" ".join(_central_sentences([chunks[i] for i in members], vectors[members])),
    )


def _central_sentences(members: list[Chunk], vectors: np.ndarray) -> list[str]:
    """The sentences of the chunks closest to the topic's centre, in reading order."""
    centre = vectors.mean(axis=0)
    nearest = np.argsort(-(vectors @ centre))[:KEY_SENTENCES]
    sentences = []
    for i in sorted(nearest):
        sentence = _first_sentence(members[i].text, skip=members[i].heading)
        if sentence and sentence not in sentences:
            sentences.append(sentence)
    return sentences


def _first_sentence(text: str, *, skip: str | None) -> str:
    body = text[len(skip):] if skip and text.startswith(skip) else text
    body = " ".join(body.split())
    match = re.match(r"(.{20,300}?[.!?])(\s|$)", body)
    return match.group(1) if match else body[:200]


def _first_page(chunks: list[Chunk], labels: np.ndarray, cluster: int) -> int:
    return min(c.page for c, label in zip(chunks, labels, strict=True) if label == cluster)


def _overview(title: str | None, topics: list[Topic]) -> str:
    name = title or "This document"
    if len(topics) == 1:
        return f"{name} covers one topic: {topics[0].label} (pages {_span(topics[0].pages)})."
    parts = "; ".join(f"{t.label} (pages {_span(t.pages)})" for t in topics)
    return f"{name} covers {len(topics)} topics, in reading order: {parts}."


def _span(pages: list[int]) -> str:
    return str(pages[0]) if len(pages) == 1 else f"{pages[0]}–{pages[-1]}"


__all__ = ["Chunk", "Topic", "TopicMap", "topic_map"]
