"""Topic maps: clusters, two levels, labels a reader can use, and a guide in reading order."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest

import retrieval.topic_map
from ops.eval.retrieval import load_corpus, render
from pdf import parse_pdf
from retrieval import LocalEmbedder
from retrieval.topic_map import (
    MIN_SEGMENTS_TO_SPLIT,
    STOP_WORDS,
    VERSION,
    Segment,
    TopicMap,
    clean_heading,
    first_sentence,
    topic_map,
)
from storage.topic_maps import _current_shape

# Three subjects, each with two sub-subjects: its own words and its own direction in space.
SUBJECTS = {
    "bees": (["hive", "queen", "honey"], ["swarm", "smoke", "veil"]),
    "ships": (["hull", "keel", "timber"], ["sail", "mast", "rigging"]),
    "clocks": (["pendulum", "escapement", "wheel"], ["dial", "hands", "chime"]),
}


def _vector(subject: int, sub: int, i: int) -> list[float]:
    v = np.zeros(16)
    v[subject * 5] = 10.0
    v[subject * 5 + 1 + sub] = 4.0
    v += np.random.default_rng([subject, sub, i]).normal(size=16) * 0.5  # no two alike
    return (v / np.linalg.norm(v)).tolist()


def _segments() -> list[Segment]:
    """Four segments per sub-subject, subjects in blocks of pages (as a book has chapters)."""
    segments, page = [], 1
    for s, (name, parts) in enumerate(SUBJECTS.items()):
        for sub, words in enumerate(parts):
            for i in range(4):
                text = (
                    f"Section {s + 1}.{sub + 1}\n\nThe {words[0]} and the {words[1]} shall be "
                    f"kept by the {words[2]} of page {page} in 1887. The {words[0]} of the "
                    f"{name} upon the {words[1]} III."
                )
                segments.append(
                    Segment(f"{name}-{sub}-{i}", page, f"{s + 1} Chapter", text, _vector(s, sub, i))
                )
                page += i % 2
    return segments


def _label_words(label: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+", label.lower().replace(" and ", " "))


def test_no_text_gives_an_empty_map():
    result = topic_map("Empty", [])
    assert result.topics == []
    assert result.overview == result.guide == "The document has no text."


def test_topics_split_into_subtopics_covering_every_segment_once():
    segments = _segments()
    result = topic_map("Crafts", segments)
    assert len(result.topics) == len(SUBJECTS)
    pages = {c.segment_id: c.page for c in segments}
    covered = [sid for t in result.topics for sid in t.segment_ids]
    assert sorted(covered) == sorted(pages)
    for topic in result.topics:
        assert len({sid.split("-")[0] for sid in topic.segment_ids}) == 1
        assert len(topic.subtopics) == 2
        in_subtopics = [sid for s in topic.subtopics for sid in s.segment_ids]
        assert sorted(in_subtopics) == sorted(topic.segment_ids)
        for sub in topic.subtopics:
            assert len({sid.rsplit("-", 1)[0] for sid in sub.segment_ids}) == 1
            assert sub.pages == sorted({pages[s] for s in sub.segment_ids})
            assert sub.label and sub.summary
            assert sub.summary not in topic.summary  # says something the topic did not
        starts = [s.pages[0] for s in topic.subtopics]
        assert starts == sorted(starts)  # reading order inside the topic too
    starts = [t.pages[0] for t in result.topics]
    assert starts == sorted(starts)


def test_a_big_document_is_clustered_on_a_sample_and_every_segment_placed(
    monkeypatch: pytest.MonkeyPatch,
):
    # Over CLUSTER_SAMPLE segments the centres come from a sample; every segment still lands in
    # the topic of its subject, once, and the same map comes out every time.
    monkeypatch.setattr(retrieval.topic_map, "CLUSTER_SAMPLE", 30)
    fitted: list[int] = []

    class Recorded(retrieval.topic_map.KMeans):
        def fit(self, x, *args, **kwargs):
            fitted.append(len(x))
            return super().fit(x, *args, **kwargs)

    monkeypatch.setattr(retrieval.topic_map, "KMeans", Recorded)
    segments = [
        Segment(f"{c.segment_id}-copy{n}", c.page + 100 * n, c.heading, c.text, c.vector)
        for n in range(3)
        for c in _segments()
    ]
    assert len(segments) > 2 * 30
    result = topic_map("Crafts", segments)
    assert len(result.topics) == len(SUBJECTS)
    covered = [sid for t in result.topics for sid in t.segment_ids]
    assert sorted(covered) == sorted(c.segment_id for c in segments)
    for topic in result.topics:
        assert len({sid.split("-")[0] for sid in topic.segment_ids}) == 1
    assert topic_map("Crafts", segments) == result
    assert max(fitted) == 30  # the centres came from samples


def test_labels_are_words_of_the_topic_not_junk():
    result = topic_map("Crafts", _segments())
    labels = [t.label for t in result.topics]
    sublabels = [s.label for t in result.topics for s in t.subtopics]
    assert len(set(labels)) == len(labels) and len(set(sublabels)) == len(sublabels)
    for topic, (name, parts) in zip(result.topics, SUBJECTS.items(), strict=True):
        # The generic numbered heading does not label; the subject's own words do.
        assert set(_label_words(topic.label)) & {name, *parts[0], *parts[1]}, topic.label
        for sub, words in zip(topic.subtopics, parts, strict=True):
            assert set(_label_words(sub.label)) <= {*words, name}, sub.label
    for label in labels + sublabels:
        for word in _label_words(label):
            assert word not in STOP_WORDS and not word.isdigit(), label
            assert word not in {"iii", "page", "section", "chapter"}, label


def test_small_topics_are_not_split():
    segments = [c for c in _segments() if c.segment_id.endswith(("-0", "-1"))][
        :MIN_SEGMENTS_TO_SPLIT
    ]
    result = topic_map(None, segments)
    assert all(len(t.segment_ids) < MIN_SEGMENTS_TO_SPLIT for t in result.topics)
    assert all(t.subtopics == [] for t in result.topics)


def test_the_guide_is_an_outline_in_reading_order():
    result = topic_map("Crafts", _segments())
    lines = result.guide.splitlines()
    assert lines[0] == result.overview
    outline = [ln.strip() for ln in lines if re.match(r"\s*\d+(\.\d+)? ?", ln)]
    expected = []
    for n, topic in enumerate(result.topics, start=1):
        expected.append(f"{n}. {topic.label} (pages ")
        expected += [f"{n}.{m} {s.label} (pages " for m, s in enumerate(topic.subtopics, 1)]
    assert [ln[: len(e)] for ln, e in zip(outline, expected, strict=True)] == expected
    for topic in result.topics:
        assert topic.label in result.overview


def test_the_map_serialises_with_its_version_and_the_old_fields():
    data = topic_map("Crafts", _segments()).to_dict()
    assert data["version"] == VERSION
    assert set(data) >= {"title", "overview", "topics", "guide"}
    topic = data["topics"][0]
    assert set(topic) >= {"label", "terms", "pages", "segment_ids", "headings", "summary"}
    assert set(topic["subtopics"][0]) == {
        "label",
        "terms",
        "pages",
        "segment_ids",
        "headings",
        "summary",
        "key_segment_ids",
    }


def test_each_summary_names_the_segments_it_quotes():
    segments = _segments()
    texts = {s.segment_id: s.text for s in segments}
    result = topic_map("Crafts", segments)
    for part in [*result.topics, *(s for t in result.topics for s in t.subtopics)]:
        assert part.key_segment_ids and set(part.key_segment_ids) <= set(part.segment_ids)
        quoted = [first_sentence(texts[sid]) for sid in part.key_segment_ids]
        assert part.summary == " ".join(quoted)


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("3 Regional Differences", "Regional Differences"),
        ("16.1 Training Apprentices", "Training Apprentices"),
        ("IV. The Judiciary", "The Judiciary"),
        ("Section 2", None),
        ("Article VII", None),
        ("Amendment XX (1933)", None),
        ("12", None),
        ("Notes on Mills", None),  # the document's title
        ("The Causes of Faction", "The Causes of Faction"),
        ("第二章 安装与配置", "安装与配置"),
        ("三、备份与恢复", "备份与恢复"),
        (None, None),
    ],
)
def test_clean_heading(heading, expected):
    assert clean_heading(heading, "Notes on  Mills") == expected


def test_first_sentence_skips_title_and_heading_lines():
    text = "Notes on Mills\n\n1 Introduction\n\nThe mill ground corn for the parish. Then more."
    assert first_sentence(text) == "The mill ground corn for the parish."
    assert first_sentence("word " * 100).endswith(" …")
    chinese = "第一章 系统概述\n\n本手册介绍星河数据库的安装与运维。星河数据库支持标准 SQL 查询。"
    assert first_sentence(chinese) == "本手册介绍星河数据库的安装与运维。"


def test_a_real_document_gets_two_levels_and_clean_labels():
    """The Constitution (eval corpus): numbered 'Section n' headings, 'shall' everywhere."""
    document = load_corpus()["constitution"]
    pdf = render({"constitution": document})["constitution"]
    parsed = parse_pdf(pdf, max_pages=100, segment_chars=1200)
    result = _map_with_local_vectors(document.title, parsed.segments)
    assert len(result.topics) >= 2
    assert any(t.subtopics for t in result.topics)
    labels = [t.label for t in result.topics] + [
        s.label for t in result.topics for s in t.subtopics
    ]
    for label in labels:
        assert not re.fullmatch(r"(Section|Article) \w+", label), label
        for word in _label_words(label):
            assert word not in STOP_WORDS and not word.isdigit(), label
    assert len(set(t.label for t in result.topics)) == len(result.topics)


def _map_with_local_vectors(title: str, segments) -> TopicMap:
    embedder = LocalEmbedder()
    vectors = asyncio.run(embedder.embed_documents([c.text for c in segments]))
    return topic_map(
        title,
        [
            Segment(str(c.seq), c.page, c.heading, c.text, v)
            for c, v in zip(segments, vectors, strict=True)
        ],
    )


def test_a_map_of_version_1_is_served_in_todays_shape():
    old = {
        "title": "T",
        "overview": "T covers one topic: A (pages 1).",
        "topics": [
            {
                "label": "A",
                "terms": [],
                "pages": [1],
                "segment_ids": ["s"],
                "headings": [],
                "summary": "S.",
            }
        ],
    }
    shaped = _current_shape(old)
    assert shaped["version"] == 1
    assert shaped["guide"] == old["overview"]
    assert shaped["topics"][0]["subtopics"] == []
    assert _current_shape({**old, "version": 2, "guide": "G"})["guide"] == "G"
