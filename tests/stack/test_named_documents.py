"""A question that names a document by its title or file name in common words ("What does
the letter ask for?" of letter.pdf) is searched in that document, on the real stack: its
words are not the letter's, and another document that has them is not what was asked about.
"Who wrote the … paper?" and "When was it published?" are answered from the title page of the
document they name.
"""

from __future__ import annotations

import pytest

from tests.stack.answers import ask, ready_document

pytestmark = pytest.mark.stack

GUIDE = [
    [
        ("h1", "Keeper's Guide"),
        (
            "p",
            "The lamp burns paraffin and its wick is trimmed every four hours. Spare wicks are "
            "kept in the store room below the lantern, beside the paraffin cans.",
        ),
    ]
]
LETTER = [
    [
        ("p", "Dear Mr. Fenwick,"),
        (
            "p",
            "The parcel of lamp wicks you sent in March arrived soaked by the rain, and none of "
            "them will burn. Please send a new box by the next boat.",
        ),
        ("p", "Yours sincerely, Martha Quayle"),
    ]
]
OTHER_LETTER = [
    [
        ("p", "Dear Ms. Quayle,"),
        ("p", "The wicks were lost at sea when the boat sank off the point."),
        ("p", "Yours sincerely, Tobias Fenwick"),
    ]
]
OTHER_PAPER = [
    [
        ("h1", "Paraffin Lamps at Sea"),
        ("p", "Rowena J. Blackwood"),
        ("p", "Harbour Town, June 2001"),
    ]
]
PAPER = [
    [
        ("h1", "Paraffin Lamps at Sea"),
        ("p", "Martha Quayle and Tobias K. Fenwick"),
        ("p", "Gull Point, March 2019"),
        ("h2", "Abstract"),
        (
            "p",
            "We measured how long a paraffin lamp burns on one wick in a lighthouse lantern, and "
            "how the keeper's watch is planned around trimming it.",
        ),
    ]
]


async def test_a_question_about_the_letter_is_answered_from_the_letter(api, tenant):
    # Another tenant's letter.pdf is never the one named.
    await ready_document(api(f"{tenant}-other"), OTHER_LETTER, "letter.pdf")
    client = api(tenant)
    guide = await ready_document(client, GUIDE, "keepers-guide.pdf")
    letter = await ready_document(client, LETTER, "letter.pdf")
    question = "Where are the spare wicks kept, according to the letter?"
    # The guide says where spare wicks are kept; the letter, asked about, does not.
    answer, cited = await ask(client, question.replace(", according to the letter", ""))
    assert {d for d, _ in cited} == {guide}, answer
    answer, cited = await ask(client, question)
    assert guide not in {d for d, _ in cited}, answer
    answer, cited = await ask(client, "What happened to the wicks, says the letter?")
    assert {d for d, _ in cited} == {letter} and "soaked by the rain" in answer, answer
    # The chat's own scope still holds: the letter is not in it.
    answer, cited = await ask(client, question, document_ids=[guide])
    assert {d for d, _ in cited} == {guide}, answer


async def test_who_wrote_a_paper_and_when_is_told_by_its_title_page(api, tenant):
    await ready_document(api(f"{tenant}-other"), OTHER_PAPER, "paraffin-lamps.pdf")
    client = api(tenant)
    await ready_document(client, GUIDE, "keepers-guide.pdf")
    paper = await ready_document(client, PAPER, "paraffin-lamps.pdf")
    answer, cited = await ask(client, "Who wrote the paper on paraffin lamps?")
    assert answer.startswith("Martha Quayle and Tobias K. Fenwick"), answer
    assert cited == {(paper, 1)}
    answer, cited = await ask(client, "When was the paper on paraffin lamps published?")
    assert answer.startswith("Gull Point, March 2019"), answer
    assert cited == {(paper, 1)}
