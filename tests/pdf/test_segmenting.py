"""Segmenting rules on hand-written page texts (no PDF involved)."""

from __future__ import annotations

import pytest

from pdf import PageText, Segment, join_lines, segment_pages, split_sentences


def words(n: int, start: int = 0) -> str:
    """A sentence of ``n`` distinct words ("Word0 w1 w2 ... wN."), easy to locate."""
    return " ".join([f"W{start}"] + [f"w{i}" for i in range(start + 1, start + n)]) + "."


def paragraph(n_sentences: int, sentence_words: int = 12, start: int = 0) -> str:
    return " ".join(words(sentence_words, start + i * sentence_words) for i in range(n_sentences))


def flat(text: str) -> str:
    return " ".join(text.split())


def page_segments(segments: list[Segment], number: int) -> list[Segment]:
    return [c for c in segments if c.page == number]


# --- join_lines and sentences -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "joined"),
    [
        ("an exam-\nple of it", "an example of it"),
        ("an exam-  \n  ple", "an example"),
        ("soft\u00adhy\u00ad\nphen", "softhyphen"),
        ("Jean-\nPaul Sartre", "Jean-Paul Sartre"),  # a capital after the break: a real hyphen
        ("pages 12-\n14", "pages 12- 14"),  # digits: not a word break
        ("wrapped\nlines   and\ttabs\n", "wrapped lines and tabs"),
        ("naïve-\nté", "naïveté"),
        # Chinese and Japanese wrap anywhere and put no space between words.
        ("修改配置后必须重启服\n务才能生效。", "修改配置后必须重启服务才能生效。"),
        ("默认端口为 7788，\n请勿修改", "默认端口为 7788，请勿修改"),
        ("日志写入 /var/log\n目录", "日志写入 /var/log 目录"),
    ],
)
def test_join_lines_mends_hyphenation_and_wrapping(raw, joined):
    assert join_lines(raw) == joined


def test_sentences_keep_abbreviations_and_initials():
    text = (
        "Dr. Smith met J. R. Tolkien in 1925. See Fig. 3 for details, e.g. the map. "
        "It rained! Was it cold? Yes. “Quoted.” Then 3.5 mm of rain fell."
    )
    assert split_sentences(text) == [
        "Dr. Smith met J. R. Tolkien in 1925.",
        "See Fig. 3 for details, e.g. the map.",
        "It rained!",
        "Was it cold?",
        "Yes.",
        "“Quoted.”",
        "Then 3.5 mm of rain fell.",
    ]


def test_chinese_sentences_end_at_full_width_stops():
    text = "全量备份建议每周执行一次，增量备份每天一次。恢复会失败吗？会！Then English. 好。"
    assert split_sentences(text) == [
        "全量备份建议每周执行一次，增量备份每天一次。",
        "恢复会失败吗？",
        "会！",
        "Then English.",
        "好。",
    ]


def test_a_long_chinese_paragraph_is_cut_between_sentences():
    sentence = "星河数据库支持全量备份和增量备份，备份文件默认保留三十天。"  # 29 characters
    segments = segment_pages([PageText(1, sentence * 40, [])], segment_chars=300)
    assert len(segments) == 4
    assert all(s.text.replace(" ", "").endswith("。") for s in segments)
    assert "".join(s.text.replace(" ", "") for s in segments) == sentence * 40


# --- sizes and boundaries -----------------------------------------------------------------


def test_paragraphs_are_packed_and_cut_only_at_paragraph_boundaries():
    paragraphs = [paragraph(2, start=100 * i) for i in range(12)]  # ~150 chars each
    segments = segment_pages([PageText(1, "\n\n".join(paragraphs), [])], segment_chars=500)
    assert len(segments) > 3
    for segment in segments:
        assert len(segment.text) <= 500
        assert all(p in paragraphs for p in segment.text.split("\n\n"))  # whole paragraphs only
    assert all(len(c.text) >= 300 for c in segments[:-1])  # packed, not one paragraph each


def test_a_huge_paragraph_is_split_on_sentences():
    text = paragraph(60)  # one paragraph, ~4 500 chars
    sentences = split_sentences(text)
    segments = segment_pages([PageText(1, text, [])], segment_chars=600)
    assert len(segments) >= 7
    for segment in segments:
        assert len(segment.text) <= 600
        assert segment.text.startswith("W") and segment.text.endswith(".")
        assert all(s in sentences for s in split_sentences(segment.text))
    assert flat(" ".join(c.text for c in segments)) == flat(text)


def test_a_sentence_longer_than_a_segment_is_split_between_words():
    text = " ".join(f"token{i}" for i in range(400))  # no punctuation at all
    segments = segment_pages([PageText(1, text, [])], segment_chars=300)
    assert all(len(c.text) <= 300 for c in segments)
    assert " ".join(c.text for c in segments) == text  # never mid-word: words survive intact


def test_a_word_longer_than_a_segment_is_cut_as_a_last_resort():
    blob = "x" * 250
    segments = segment_pages([PageText(1, f"see {blob} here", [])], segment_chars=100)
    assert all(len(c.text) <= 100 for c in segments)
    assert "".join(c.text for c in segments).replace(" ", "") == f"see{blob}here"


def test_a_tiny_tail_of_a_page_joins_the_segment_before_it():
    body = "\n\n".join([paragraph(4), paragraph(4, start=100)])
    tail = "Short end."
    pages = [PageText(1, f"{body}\n\n{tail}", []), PageText(2, "Next page.", [])]
    segments = segment_pages(pages, segment_chars=len(body))  # the body fills one segment exactly
    assert [c.text for c in page_segments(segments, 1)] == [f"{body}\n\n{tail}"]  # overshoots
    assert [c.text for c in page_segments(segments, 2)] == ["Next page."]  # never across pages


def test_a_tail_over_the_threshold_stays_a_segment():
    body = "\n\n".join([paragraph(4), paragraph(4, start=100)])
    tail = paragraph(2, start=900)
    assert len(tail) > 0.2 * len(body)
    segments = segment_pages([PageText(1, f"{body}\n\n{tail}", [])], segment_chars=len(body))
    assert [c.text for c in segments] == [body, tail]


# --- headings -----------------------------------------------------------------------------


def test_a_heading_starts_a_segment_and_is_carried_across_pages():
    pages = [
        PageText(
            1,
            f"Intro\n\n{paragraph(2)}\n\n2 Methods\n\n{paragraph(2, start=50)}",
            ["Intro", "2 Methods"],
        ),
        PageText(2, paragraph(3, start=100), []),
        PageText(3, f"2.1 Data\n\n{paragraph(2, start=200)}", ["2.1 Data"]),
    ]
    segments = segment_pages(pages, segment_chars=1000)
    assert [(c.page, c.heading, c.text.split("\n\n")[0]) for c in segments] == [
        (1, "Intro", "Intro"),
        (1, "2 Methods", "2 Methods"),  # the heading line opens its segment
        (2, "2 Methods", paragraph(3, start=100)),
        (3, "2.1 Data", "2.1 Data"),
    ]


def test_a_table_of_contents_heading_heads_only_the_pages_of_contents():
    """Chapter headings the extraction did not find leave the contents' heading in force; it
    names none of the chapters."""
    contents = "\n".join(f"{n}. Chapter {n} . . . . . . . . . {n * 4}" for n in range(1, 30))
    pages = [
        PageText(3, f"Table of Contents\n\n{contents}", ["Table of Contents"]),
        PageText(4, f"{contents}\n\n(continued)", []),
        PageText(5, f"1. Greetings!\n\n{paragraph(2)}", []),
        PageText(6, f"Contents\n\n{paragraph(1, start=50)}", ["Contents"]),
        PageText(7, paragraph(1, start=100), []),
    ]
    headings = {c.page: c.heading for c in segment_pages(pages, segment_chars=2000)}
    assert headings == {
        3: "Table of Contents",
        4: "Table of Contents",
        5: None,
        6: "Contents",
        7: None,
    }


def test_text_before_the_first_heading_has_no_heading():
    segments = segment_pages([PageText(1, f"{paragraph(1)}\n\nTitle\n\n{paragraph(1)}", ["Title"])])
    assert [c.heading for c in segments] == [None, "Title"]


def test_a_short_new_section_keeps_its_own_segment():
    text = f"{paragraph(6)}\n\nLast Words\n\nThe end."
    segments = segment_pages([PageText(1, text, ["Last Words"])], segment_chars=500)
    assert segments[-1].heading == "Last Words"
    assert segments[-1].text == "Last Words\n\nThe end."


def test_headings_in_a_row_share_one_segment_under_the_nearest():
    text = f"2 Methods\n\n2.1 Data\n\n{paragraph(2)}"
    segments = segment_pages([PageText(1, text, ["2 Methods", "2.1 Data"])])
    assert len(segments) == 1
    assert segments[0].heading == "2.1 Data"
    assert segments[0].text.startswith("2 Methods\n\n2.1 Data\n\nW0")


def test_a_lone_heading_at_the_foot_of_a_page_keeps_its_text_and_leads_the_next_page():
    pages = [
        PageText(1, f"{paragraph(3)}\n\n3 Results", ["3 Results"]),
        PageText(2, paragraph(3, start=300), []),
    ]
    segments = segment_pages(pages, segment_chars=1000)
    assert [(c.page, c.heading) for c in segments] == [(1, None), (2, "3 Results")]
    assert segments[0].text.endswith("\n\n3 Results")


def test_a_wrapped_heading_matches_its_joined_form():
    text = f"A Rather Long Heading That\nWraps Over Two Lines\n\n{paragraph(1)}"
    segments = segment_pages(
        [PageText(1, text, ["A Rather Long Heading That Wraps Over Two Lines"])]
    )
    assert segments[0].heading == "A Rather Long Heading That Wraps Over Two Lines"


def test_heading_text_repeated_in_the_body_is_matched_once_in_order():
    text = f"Summary\n\n{paragraph(1)}\n\nSummary"  # the second one is body text
    segments = segment_pages([PageText(1, text, ["Summary"])])
    assert [c.heading for c in segments] == ["Summary"]
    assert segments[0].text.startswith("Summary\n\nW0") and segments[0].text.endswith("Summary")


# --- pages and sequence -------------------------------------------------------------------


def test_empty_pages_give_no_segments_and_seq_counts_the_document():
    pages = [
        PageText(1, paragraph(2), []),
        PageText(2, "", []),
        PageText(3, " \n\n ", []),
        PageText(4, paragraph(2, start=40), []),
    ]
    segments = segment_pages(pages)
    assert [(c.seq, c.page) for c in segments] == [(0, 1), (1, 4)]


def test_segments_are_dehyphenated_and_joined():
    segments = segment_pages([PageText(1, "An exam-\nple of wrapped\ntext.", [])])
    assert segments[0].text == "An example of wrapped text."


def test_segment_chars_must_be_positive():
    with pytest.raises(ValueError, match="segment_chars"):
        segment_pages([], segment_chars=0)


def test_a_sentence_that_runs_on_to_the_next_page_is_finished_on_its_own():
    pages = [
        PageText(1, "draft Set up for a draft copy: page numbering starts at a high"),
        PageText(2, "number, black marks for overfull boxes. The final option is for print."),
        PageText(3, "Its numbers come from the issue's first exam-"),
        PageText(4, "ple page.\n\nA second paragraph."),
    ]
    texts = [s.text for s in segment_pages(pages)]
    assert texts[0] == (
        "draft Set up for a draft copy: page numbering starts at a high number, black marks"
        " for overfull boxes."
    )
    assert texts[1].startswith("number, black marks for overfull boxes.")  # kept, as read there
    assert texts[2] == "Its numbers come from the issue's first example page."


@pytest.mark.parametrize(
    ("ending", "opening"),
    [
        ("A page that ends its sentence.", "then goes on."),  # the sentence was whole
        ("A page that ends mid-way", "The next page starts a sentence."),  # not a run-on
        ("A page that ends mid-way", "then runs " + "on and on " * 40 + "to its end."),  # too long
        ("A page that ends mid-way", "then a list item without its end"),  # no end to carry
    ],
)
def test_only_the_end_of_a_sentence_cut_by_the_page_is_carried_back(ending, opening):
    segments = segment_pages([PageText(1, ending), PageText(2, opening)])
    assert segments[0].text == ending
