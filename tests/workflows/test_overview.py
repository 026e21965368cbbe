"""Which passages show what a document is about (workflows.overview), without a database."""

from __future__ import annotations

import uuid
from dataclasses import replace

from llm.prompt import defines, reads_as_prose
from storage.search import Hit
from workflows.overview import key_segments, opening, tells_a_topic, topic_passages

DOC = uuid.uuid4()


def _hit(text: str, heading: str | None = None, page: int = 1) -> Hit:
    return Hit(uuid.uuid4(), DOC, page, text, heading, 0.0, "A Manual")


TITLE_PAGE = _hit("A Manual\n\nVersion 2.1\n\nThe Team")
CONTENTS = _hit(
    "Table of Contents\n\n1 Getting started . . . . . . 1\n\n2 Using the tool properly "
    "and well . . . . . . 7",
    "Table of Contents",
)
NOTICE = _hit(
    "Permission is granted to make and distribute verbatim copies of this manual provided the "
    "copyright notice is preserved."
)
FOREWORD = _hit("Thanks go to the many people who tested early versions of this tool for us.")
INTRODUCTION = _hit(
    "This manual describes how to install the tool and how to run it every day.", "1 Introduction"
)


def test_the_opening_is_the_introduction_past_title_contents_and_notices() -> None:
    assert opening([TITLE_PAGE, CONTENTS, NOTICE, FOREWORD, INTRODUCTION]) == INTRODUCTION


def test_an_introduction_that_mentions_its_licence_is_no_notice() -> None:
    introduction = _hit(
        "GNU Tool is a language for numerical computations.\n\nIt runs in a graphical user "
        "interface or on the command line.\n\nIt is free software: you may redistribute it "
        "under the terms of the GNU General Public License.",
        "1 A Brief Introduction to the Tool",
    )
    assert opening([TITLE_PAGE, NOTICE, FOREWORD, introduction]) == introduction
    notice_page = _hit(f"Copyright 2024 The Team\n\n{NOTICE.content}\n\nSee the Preface.")
    assert opening([notice_page, FOREWORD]) == FOREWORD


def test_an_introduction_comes_before_a_preface() -> None:
    """A preface tells the book's history: "Octave was originally intended to be companion
    software for an undergraduate-level textbook…". The introduction says what it is about."""
    preface = _hit("This tool was first written as companion software for a course.", "Preface")
    assert opening([TITLE_PAGE, CONTENTS, preface, INTRODUCTION]) == INTRODUCTION
    assert opening([TITLE_PAGE, CONTENTS, FOREWORD, preface]) == preface


def test_a_title_that_says_introduction_is_the_title_page() -> None:
    title = "An Introduction to the Tool"
    title_page = replace(
        _hit(
            f"{title}\n\nNotes on a programming environment for data analysis and graphics\n\n"
            "Version 4.2 (2022-11-10)\n\nW. N. Venables, D. M. Smith and the Team",
            title,
        ),
        title=title,
    )
    preface = replace(
        _hit("This introduction is derived from notes written over many years.", "Preface"),
        title=title,
    )
    assert reads_as_prose(title_page.content)  # "… (2022-11-10) W." looks like a sentence
    assert opening([title_page, CONTENTS, preface]) == preface


def test_a_text_that_starts_under_its_title_opens_there() -> None:
    title = "The Declaration of Independence"
    first = replace(
        _hit(
            f"{title}\n\nWhen in the Course of human events, it becomes necessary for one "
            "people to dissolve the political bands which have connected them with another.",
            title,
        ),
        title=title,
    )
    assert opening([first, replace(FOREWORD, title=title)]) == first


def test_an_abstract_that_is_a_licence_notice_is_passed_over() -> None:
    notice = replace(NOTICE, heading="Abstract")
    assert opening([notice, CONTENTS, INTRODUCTION]) == INTRODUCTION


def test_without_an_introduction_the_opening_is_the_first_prose() -> None:
    assert opening([TITLE_PAGE, CONTENTS, NOTICE, FOREWORD]) == FOREWORD
    assert opening([TITLE_PAGE, CONTENTS, NOTICE]) is None


def test_a_table_of_contents_is_no_prose() -> None:
    assert not reads_as_prose(CONTENTS.content)
    assert not reads_as_prose(TITLE_PAGE.content)
    assert reads_as_prose(FOREWORD.content)


def test_key_segments_are_the_largest_topics_in_reading_order() -> None:
    ids = [str(uuid.uuid4()) for _ in range(4)]
    topic_map = {
        "topics": [
            {"segment_ids": ["a"], "key_segment_ids": [ids[0]]},
            {"segment_ids": ["b", "c", "d"], "key_segment_ids": [ids[1], ids[3]]},
            {"segment_ids": ["e", "f"], "key_segment_ids": [ids[2]]},
            {"segment_ids": ["g", "h", "i", "j"]},  # a map computed before it named them
        ]
    }
    # the largest named nothing (a map computed before topics were named): the next ones
    assert key_segments(topic_map, 1) == [uuid.UUID(ids[1])]
    assert key_segments(topic_map, 2) == [uuid.UUID(ids[1]), uuid.UUID(ids[2])]
    assert key_segments(topic_map, 3) == [uuid.UUID(ids[0]), uuid.UUID(ids[1]), uuid.UUID(ids[2])]
    # A topic whose passage is not kept gives its place to the next largest.
    assert key_segments(topic_map, 2, keep=lambda key: key != uuid.UUID(ids[1])) == [
        uuid.UUID(ids[0]),
        uuid.UUID(ids[2]),
    ]


def test_back_matter_and_notices_tell_no_topic() -> None:
    assert tells_a_topic(INTRODUCTION)
    assert not tells_a_topic(NOTICE)
    for heading in (
        "Appendix A GNU Free Documentation License",
        "Engraving bibliography",
        "References",
        "Index",
        "22 Acknowledgements",
        "University of Colorado Engraving music bibliography",
        "21 Licence details",
        "Function index",
    ):
        passage = _hit("Harold M Johnson. How to write music manuscript, a handbook.", heading)
        assert not tells_a_topic(passage), heading
    for heading in ("Setup", "Managing licenses", "3.4 References and pointers", "Indexing"):
        passage = _hit("The license key is entered in the settings dialog.", heading)
        assert tells_a_topic(passage), heading


def test_what_a_subject_is_opens_where_a_sentence_says_so() -> None:
    """ "What is nauty?": its guide says so under "How to use this Guide", and its
    introduction is about the program that drives it."""
    guide = _hit(
        "0 How to use this Guide\n\nnauty (no automorphisms, yes?) is a set of procedures for "
        "determining the automorphism group of a graph.",
        "0 How to use this Guide",
    )
    introduction = _hit(
        "nauty and Traces come with a primitive interactive interface dreadnaut.", "1 Introduction"
    )
    assert opening([TITLE_PAGE, guide, introduction], ["nauti"]) == guide
    assert opening([TITLE_PAGE, guide, introduction]) == introduction  # no subject asked
    assert opening([TITLE_PAGE, guide, introduction], ["dreadnaut"]) == introduction
    assert defines(["bash", "shell"], "The Bash shell is a command language interpreter.")
    assert not defines(["bash"], "The default is a login shell for bash.")


def test_a_topic_in_back_matter_gives_its_place_to_the_next_largest() -> None:
    """What an overview reads of a topic map: the essay's bibliography was its second largest
    topic; the third takes its place, and the opening is not quoted twice."""
    engraving = _hit("Engraving is the art of music typography, done by hand.", "2 Engraving")
    sources = _hit("Harold M Johnson. How to write music manuscript, a handbook.", "Bibliography")
    spacing = _hit("Notes are spaced by their duration, not by their number.", "3 Spacing")
    repeated = _hit("This essay discusses automatic music engraving in the program.", "About")
    topic_map = {
        "topics": [
            {"segment_ids": list("abcdef"), "key_segment_ids": [str(engraving.segment_id)]},
            {"segment_ids": list("ghijk"), "key_segment_ids": [str(sources.segment_id)]},
            {"segment_ids": list("lmno"), "key_segment_ids": [str(repeated.segment_id)]},
            {"segment_ids": list("pqr"), "key_segment_ids": [str(spacing.segment_id)]},
        ]
    }
    found = [engraving, sources, repeated, spacing]
    assert topic_passages(topic_map, found, 2, besides=repeated) == [engraving, spacing]
    assert topic_passages(topic_map, found, 2, besides=None) == [engraving, repeated]
    assert topic_passages(topic_map, found[:1], 2, besides=None) == [engraving]  # not read
