from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from core.cjk import CJK_CHAR
from llm._text import question_words, term_of
from llm.events import Delta, Finished
from llm.local import (
    LEADING_MARGIN,
    MIN_COVERAGE,
    MIN_EVIDENCE_SCORE,
    MIN_MEANING,
    NOT_FOUND,
    NOT_FOUND_IN,
    LocalExtractive,
    best_coverage,
    not_found,
)
from llm.prompt import Evidence, Prompt, Turn, is_refusal

HANDBOOK = [
    Evidence(
        "seg-leave",
        "doc-hr",
        12,
        "Employees accrue 25 days of paid annual leave per calendar year. Unused leave "
        "of up to five days may be carried over into the first quarter of the next year. "
        "Requests for leave are approved by the line manager.",
        0.82,
        title="handbook.pdf",
    ),
    Evidence(
        "seg-remote",
        "doc-hr",
        14,
        "Staff may work remotely for up to three days a week. Remote work from another "
        "country needs written approval from the HR department, because of tax rules.",
        0.64,
        title="handbook.pdf",
    ),
    Evidence(
        "seg-expenses",
        "doc-fin",
        3,
        "Travel expenses are reimbursed within 30 days of submitting the receipts. "
        "Economy class is the default for flights shorter than six hours.",
        0.51,
        title="finance.pdf",
    ),
]

ROUTER = [
    Evidence(
        "seg-x200",
        "doc-x200",
        2,
        "The X200 router supports WiFi 6 and has four gigabit ports. "
        "The X200 costs 129 euros and ships with a two-year warranty.",
        0.9,
    ),
    Evidence(
        "seg-x300",
        "doc-x300",
        2,
        "The X300 mesh system covers up to 400 square metres. It is sold in packs of three. "
        "A pack of three X300 units costs 299 euros.",
        0.7,
    ),
]

# Calibration of MIN_COVERAGE: questions the evidence answers, in the users' own words...
ANSWERABLE = [
    ("How many days of annual leave do employees get?", HANDBOOK),
    ("Can unused leave be carried over to next year?", HANDBOOK),
    ("Who approves leave requests?", HANDBOOK),
    ("How many days a week can staff work remotely?", HANDBOOK),
    ("Do I need approval to work remotely from another country?", HANDBOOK),
    ("When are travel expenses reimbursed?", HANDBOOK),
    ("What class are flights booked in?", HANDBOOK),
    ("How much does the X200 router cost?", ROUTER),
    ("Which WiFi standard does the X200 support?", ROUTER),
    ("What area does the X300 mesh cover?", ROUTER),
]
# ...and questions near the same topics that it does not answer.
UNANSWERABLE = [
    ("What is the parental leave policy for fathers?", HANDBOOK),
    ("Is there a company pension plan?", HANDBOOK),
    ("How do I reset my laptop password?", HANDBOOK),
    ("What is the dress code in the office?", HANDBOOK),
    ("Who is the chief executive officer?", HANDBOOK),
    ("Does the X200 support Bluetooth speakers?", ROUTER),
    ("What is the capital of Mongolia?", ROUTER),
    ("How do I configure a VPN tunnel?", ROUTER),
    ("What colour is the X300 casing?", ROUTER),
    ("Can I pay with a credit card?", ROUTER),
]


async def run(prompt: Prompt, max_tokens: int = 800) -> tuple[list[Delta], Finished]:
    deltas: list[Delta] = []
    async for event in LocalExtractive().stream(prompt, max_tokens=max_tokens):
        if isinstance(event, Delta):
            deltas.append(event)
        else:
            return deltas, event
    raise AssertionError("no Finished event")


def by_segment(evidence: list[Evidence]) -> dict[str, Evidence]:
    return {e.segment_id: e for e in evidence}


@pytest.mark.parametrize(("question", "evidence"), ANSWERABLE)
async def test_answers_with_verbatim_quotes_and_right_pages(
    question: str, evidence: list[Evidence]
) -> None:
    deltas, done = await run(Prompt(question, evidence))
    assert done.text != NOT_FOUND and done.citations and done.found
    assert "".join(d.text for d in deltas) == done.text
    segments = by_segment(evidence)
    for citation in done.citations:
        source = segments[citation.segment_id]
        assert citation.quote in source.text  # verbatim
        assert (citation.document_id, citation.page) == (source.document_id, source.page)
        # The quoted sentence is what the answer says.
        assert citation.quote.rstrip(".").split()[0] in done.text
    assert "[1]" in done.text or "[2]" in done.text or "[3]" in done.text


async def test_the_answer_is_the_sentence_that_answers() -> None:
    _, done = await run(Prompt("How much does the X200 router cost?", ROUTER))
    assert "129 euros" in done.text and "X300" not in done.text
    quotes = [(c.segment_id, c.quote) for c in done.citations]
    assert ("seg-x200", "The X200 costs 129 euros and ships with a two-year warranty.") in quotes


async def test_sources_are_numbered_in_the_order_the_answer_quotes_them() -> None:
    # The answer lies in the third passage retrieved (all three scored alike by the
    # re-ranker): the reader still sees [1], not [3].
    alike = [replace(e, score=0.82 - i * 0.01) for i, e in enumerate(HANDBOOK)]
    _, done = await run(Prompt("How soon are travel expenses reimbursed?", alike))
    assert done.text.endswith("[1].") and "[3]" not in done.text
    first = done.citations[0]
    assert (first.marker, first.segment_id) == (1, "seg-expenses")
    markers = [c.marker for c in done.citations]
    assert markers == sorted(markers) and set(markers) == set(range(1, max(markers) + 1))


async def test_a_passage_read_before_is_cited_where_it_ranks_now() -> None:
    # Passages are read once and remembered; the same passage at another rank is still
    # cited from there, as are passages with the same text under another heading.
    question = "How much does the X200 router cost?"
    _, first = await run(Prompt(question, ROUTER))
    moved = [replace(e, score=0.9 - i * 0.01) for i, e in enumerate([HANDBOOK[0], *ROUTER])]
    _, again = await run(Prompt(question, moved))
    assert [c.segment_id for c in again.citations] == [c.segment_id for c in first.citations]
    assert "129 euros" in again.text


@pytest.mark.parametrize(("question", "evidence"), UNANSWERABLE)
async def test_says_it_does_not_know_without_good_evidence(
    question: str, evidence: list[Evidence]
) -> None:
    # As the re-ranker scores passages that do not answer: below the confidence bar.
    unconvincing = [replace(e, score=MIN_EVIDENCE_SCORE - 0.05) for e in evidence]
    _, done = await run(Prompt(question, unconvincing))
    assert done.text == NOT_FOUND
    assert done.citations == [] and done.found is False


async def test_a_question_in_other_words_is_answered_when_retrieval_is_confident() -> None:
    question = "How long may a worker stay away from the office in a normal week?"
    evidence = [replace(HANDBOOK[1], score=0.6), replace(HANDBOOK[0], score=0.2)]
    assert best_coverage(Prompt(question, evidence)) < MIN_COVERAGE  # few words in common
    _, done = await run(Prompt(question, evidence))
    assert "three days a week" in done.text
    assert {c.segment_id for c in done.citations} == {"seg-remote"}
    doubtful = [replace(e, score=MIN_EVIDENCE_SCORE - 0.05) for e in evidence]
    _, refused = await run(Prompt(question, doubtful))
    assert refused.text == NOT_FOUND


async def test_an_answer_from_meaning_quotes_more_than_one_passage() -> None:
    """Worded unlike the text, the question is answered by the sentences closest in meaning:
    at most two of one passage, so that the next passage's best sentence is quoted (and
    cited) rather than a third of the first."""
    question = "How long may a worker stay away from the office in a normal week?"
    remote = Evidence(
        "seg-remote",
        "doc-hr",
        14,
        "Staff may work remotely for up to three days a week. Remote employees keep their "
        "regular hours at home. Home working needs the sign-off of a manager.",
        0.6,
    )
    office = Evidence(
        "seg-office", "doc-hr", 15, "Employees accrue paid annual leave every calendar year.", 0.55
    )
    assert best_coverage(Prompt(question, [remote, office])) < MIN_COVERAGE
    _, done = await run(Prompt(question, [remote, office]))
    cited = [c.segment_id for c in done.citations]
    assert "three days a week" in done.text
    assert cited.count("seg-remote") <= 2 and "seg-office" in cited


async def test_an_answer_from_meaning_quotes_each_close_passage_first() -> None:
    """Two passages with two close sentences each would fill the answer between them; each
    passage's best sentence comes first, so the third passage is quoted (and cited) too."""
    question = "How long may a worker stay away from the office in a normal week?"
    first = Evidence(
        "seg-a",
        "doc-hr",
        14,
        "Staff may work remotely for up to three days a week. Remote employees keep their "
        "regular hours at home.",
        0.6,
    )
    second = Evidence(
        "seg-b",
        "doc-hr",
        15,
        "Home working is allowed on up to three days in each week. Remote staff keep their "
        "usual hours.",
        0.58,
    )
    third = Evidence(
        "seg-c", "doc-hr", 16, "Employees accrue paid annual leave every calendar year.", 0.56
    )
    evidence = [first, second, third]
    assert best_coverage(Prompt(question, evidence)) < MIN_COVERAGE
    _, done = await run(Prompt(question, evidence))
    assert {c.segment_id for c in done.citations} == {"seg-a", "seg-b", "seg-c"}


async def test_a_figure_s_labels_are_not_quoted_from_meaning() -> None:
    """A plot's labels come out of the PDF as lines of a word or two ("Survival", "Responders
    Non-responders"): all topic, so closest in meaning to a question on it, and no answer."""
    question = "What goes wrong when you compare the survival of responders with the others?"
    figure = Evidence(
        "seg-fig",
        "doc-cox",
        3,
        "Years post diagnosis\n\nSurvival\n\nResponders Non-responders\n\nWhat is most "
        "surprising about this error is the size of the false effect that is produced.",
        0.6,
    )
    text = Evidence(
        "seg-text",
        "doc-cox",
        2,
        "The problem arises because any early deaths will all be assigned to the "
        "non-responder group, even deaths that have nothing to do with the condition.",
        0.58,
    )
    assert best_coverage(Prompt(question, [figure, text])) < MIN_COVERAGE
    _, done = await run(Prompt(question, [figure, text]))
    assert "early deaths" in done.text and "false effect" in done.text
    assert "Survival" not in done.text and "Responders" not in done.text


async def test_a_stray_question_is_not_answered_from_meaning_when_no_passage_shares_a_term():
    """ops/eval/offtopic.py: "How can I improve my sleep at night?" of technical manuals got
    the sentence nearest in meaning, however far, when the re-ranker scored a passage over
    the bar. The question in other words above shares "week" with its passage; this one
    shares nothing with any."""
    confident = [replace(e, score=0.6) for e in HANDBOOK]
    _, done = await run(Prompt("How can I improve my sleep at night?", confident))
    assert done.text == NOT_FOUND and done.citations == []


async def test_a_question_far_in_meaning_from_every_passage_is_not_answered_from_meaning():
    """A stray question whose passages share a word with it and score over the bar ("How do
    I bake sourdough bread at home?" over a manual that says "home"): the re-ranker's encoder
    puts them far from it in meaning (``Evidence.meaning``), and that decides."""
    question = "How long may a worker stay away from the office in a normal week?"
    evidence = [replace(HANDBOOK[1], score=0.6), replace(HANDBOOK[0], score=0.2)]
    far = [replace(e, meaning=MIN_MEANING - 0.05) for e in evidence]
    _, refused = await run(Prompt(question, far))
    assert refused.text == NOT_FOUND and refused.citations == []
    # Close enough in one of the best passages, or not known (no encoder): answered.
    for meanings in ((MIN_MEANING + 0.05, 0.1), (None, None)):
        known = [replace(e, meaning=m) for e, m in zip(evidence, meanings, strict=True)]
        _, done = await run(Prompt(question, known))
        assert "three days a week" in done.text


def test_threshold_separates_the_calibration_sets() -> None:
    answerable = [best_coverage(Prompt(q, e)) for q, e in ANSWERABLE]
    unanswerable = [best_coverage(Prompt(q, e)) for q, e in UNANSWERABLE]
    # No unanswerable question is quoted from shared words (not a knife edge either); an
    # answerable one below the threshold is answered from meaning (the test above).
    assert max(unanswerable) < MIN_COVERAGE - 0.05
    assert sum(c >= MIN_COVERAGE for c in answerable) >= len(answerable) - 1


async def test_no_evidence_at_all() -> None:
    deltas, done = await run(Prompt("How many days of leave?", []))
    assert done.text == NOT_FOUND and done.citations == [] and deltas


async def test_a_follow_up_uses_the_previous_question() -> None:
    history = [
        Turn("user", "Tell me about the X300 mesh system."),
        Turn("assistant", "The X300 mesh system covers up to 400 square metres [1]."),
    ]
    # A follow-up is searched with the question before it, so both products come back close.
    close = [ROUTER[0], replace(ROUTER[1], score=ROUTER[0].score - 0.02)]
    _, alone = await run(Prompt("And how much does it cost?", close))
    _, follow_up = await run(Prompt("And how much does it cost?", close, history))
    assert "129 euros" in alone.text  # without the history: the best-ranked price
    assert "299 euros" in follow_up.text and "129" not in follow_up.text
    assert {c.segment_id for c in follow_up.citations} == {"seg-x300"}


async def test_a_follow_up_about_another_thing_is_answered_about_that_thing() -> None:
    history = [
        Turn("user", "How does CamlIDL map a C struct to Caml?"),
        Turn("assistant", "IDL structs are mapped to Caml record types [1]."),
    ]
    structs = Evidence(
        "seg-structs", "doc-idl", 10, "IDL structs are mapped to Caml record types.", 0.62
    )
    unions = Evidence(
        "seg-unions", "doc-idl", 12, "IDL unions are translated to Caml sum types.", 0.6
    )
    _, done = await run(Prompt("And what about unions?", [structs, unions], history))
    assert done.text == "IDL unions are translated to Caml sum types [1]."
    assert [c.segment_id for c in done.citations] == ["seg-unions"]
    # Said in other words, the new thing is still answered.
    asked = [Turn("user", "How far does the X300 mesh system reach?"), Turn("assistant", "…")]
    prices = [replace(ROUTER[1], text="The X300 mesh system costs 299 euros.")]
    _, done = await run(Prompt("And what about the price?", prices, asked))
    assert "299 euros" in done.text


async def test_shared_words_are_read_only_in_the_passages_scored_like_the_best() -> None:
    question = "Which ports and warranty does the X200 router have?"
    best = Evidence("seg-ports", "doc-x200", 2, "The X200 router has four gigabit ports.", 0.9)
    fuller = Evidence(
        "seg-both",
        "doc-x200",
        3,
        "Each router has four gigabit ports and a two-year warranty.",
        0.9 - LEADING_MARGIN - 0.1,
    )
    _, done = await run(Prompt(question, [best, fuller]))
    assert {c.segment_id for c in done.citations} == {"seg-ports"}
    # Scored alike, the passage that says more of what was asked is quoted.
    alike = replace(
        fuller,
        text="The X200 router has four gigabit ports and a two-year warranty.",
        score=0.9 - LEADING_MARGIN / 2,
    )
    _, done = await run(Prompt(question, [best, alike]))
    assert "seg-both" in {c.segment_id for c in done.citations}


async def test_a_lower_passage_that_says_all_that_was_asked_is_read_when_the_best_do_not():
    """ "What does Alt-SysRq followed by u do?": the best passage says what Alt-SysRq is, a
    table's row below it says what u does, under the header "key following Alt-SysRq"."""
    about = Evidence(
        "seg-about",
        "doc-ref",
        177,
        "Pressing Alt-SysRq (PrtScr) followed by one keys does the magic of rescuing control "
        "of the system.",
        0.72,
    )
    table = Evidence(
        "seg-table",
        "doc-ref",
        178,
        "key following Alt-SysRq description of action\n\nk kill all processes on the current "
        "virtual console (SAK)\n\ns sync all mounted filesystems to avoid data corruption\n\n"
        "u remount all mounted filesystems read-only (umount)\n\nr restore the keyboard from "
        "raw mode after X crashes",
        0.72 - LEADING_MARGIN - 0.09,
    )
    _, done = await run(Prompt("What does Alt-SysRq followed by u do?", [about, table]))
    assert done.text.startswith("u remount all mounted filesystems read-only"), done.text
    assert [c.segment_id for c in done.citations] == ["seg-table"]
    # Below the best three passages, it is not read.
    others = [replace(about, segment_id=f"seg-{i}", score=0.7 - i / 100) for i in range(3)]
    _, done = await run(Prompt("What does Alt-SysRq followed by u do?", [about, *others, table]))
    assert "seg-table" not in {c.segment_id for c in done.citations}, done.text


async def test_a_full_question_ignores_unrelated_history() -> None:
    history = [Turn("user", "Tell me about the X300 mesh system.")]
    _, done = await run(
        Prompt("Which WiFi standard does the X200 router support?", ROUTER, history)
    )
    assert "WiFi 6" in done.text and "X300" not in done.text


async def test_streams_word_by_word() -> None:
    deltas, done = await run(Prompt("How many days of annual leave do employees get?", HANDBOOK))
    assert len(deltas) == len(done.text.split()) >= 8
    assert all(d.text.strip() and " " not in d.text.strip() for d in deltas)
    assert all(d.text.endswith(" ") for d in deltas[:-1])


async def test_max_tokens_cuts_the_stream() -> None:
    deltas, done = await run(Prompt("How many days of annual leave?", HANDBOOK), max_tokens=5)
    assert 1 <= len(deltas) <= 5 and done.usage.tokens_out <= 5


async def test_usage_is_estimated_and_free() -> None:
    _, done = await run(Prompt("How many days of annual leave?", HANDBOOK))
    assert done.usage.model == "local:extractive" and done.usage.estimated
    assert done.usage.tokens_in > 50 and done.usage.tokens_out > 5
    assert done.usage.cost_usd == 0.0


async def test_concurrent_chats_each_get_their_first_word_before_any_answer_ends() -> None:
    """Chats share the orchestrator's event loop: the model yields between words, so no chat
    waits for another's whole answer before its own first word (its speed is measured by
    ops/bench/chat.py, not asserted here)."""
    evidence = HANDBOOK * 4  # 12 passages, as the orchestrator sends at most
    events: list[tuple[str, int]] = []

    async def answer(chat: int) -> None:
        stream = LocalExtractive().stream(
            Prompt("Who approves leave requests?", evidence), max_tokens=800
        )
        async for event in stream:
            if isinstance(event, Finished):
                events.append(("done", chat))
            elif not any(e == ("first", chat) for e in events):
                events.append(("first", chat))

    await asyncio.gather(*(answer(chat) for chat in range(10)))
    kinds = [kind for kind, _ in events]
    assert kinds.count("first") == kinds.count("done") == 10
    assert kinds.index("done") > max(i for i, kind in enumerate(kinds) if kind == "first")


# --- grounding: the sentences must carry what was asked, not only its topic ----------------

CLUSTER = [
    Evidence(
        "seg-committee",
        "doc-gov",
        7,
        "The steering committee meets every month. Four decisions of the committee were "
        "published last year. The committee has seven members, elected for two years.",
        0.7,
        title="governance.pdf",
    ),
    Evidence(
        "seg-arch",
        "doc-ports",
        3,
        "The release ships binary packages for amd64 and i386. Support for the m68k "
        "architecture was dropped in the Etch release.",
        0.6,
        title="ports.pdf",
    ),
]


async def test_a_question_for_a_number_is_answered_by_the_sentence_with_that_number() -> None:
    _, done = await run(Prompt("How many members sit on the steering committee?", CLUSTER))
    assert "seven members" in done.text and "Four decisions" not in done.text


async def test_a_number_of_something_else_does_not_answer_how_many() -> None:
    without = [
        replace(
            CLUSTER[0],
            text=CLUSTER[0].text.replace(
                " The committee has seven members, elected for two years.", ""
            ),
        )
    ]
    _, done = await run(Prompt("How many members sit on the steering committee?", without))
    assert done.text == NOT_FOUND and done.citations == []


async def test_a_code_the_question_names_must_be_in_the_quoted_passage() -> None:
    _, found = await run(Prompt("Which release dropped the m68k architecture?", CLUSTER))
    assert "Etch" in found.text
    _, missing = await run(Prompt("In which release did arm64 become an architecture?", CLUSTER))
    assert missing.text == NOT_FOUND and missing.citations == []


async def test_two_codes_told_by_two_passages_are_answered_from_them() -> None:
    """A list's entries can fall in two passages: neither names both codes the question asks
    about, and together they answer it. A passage that names neither does not."""
    special = [
        Evidence(
            "seg-star",
            "doc-bash",
            28,
            "* ($*) Expands to the positional parameters, starting from one, as a single word.",
            0.46,
        ),
        Evidence(
            "seg-at",
            "doc-bash",
            29,
            "@ ($@) Expands to the positional parameters, starting from one, each a separate word.",
            0.45,
        ),
        Evidence(
            "seg-eps",
            "doc-xfig",
            16,
            "There is very little difference between a postscript file and an eps file.",
            0.47,
        ),
    ]
    _, done = await run(Prompt("What is the difference between $* and $@?", special))
    assert {c.segment_id for c in done.citations} <= {"seg-star", "seg-at"}, done.text
    assert done.citations and "postscript" not in done.text
    _, alone = await run(Prompt("What is the difference between $* and $@?", special[1:]))
    assert alone.text == NOT_FOUND  # $* is in no passage


async def test_a_sentence_that_only_points_elsewhere_is_not_an_answer() -> None:
    usage = [
        Evidence(
            "seg-usage",
            "doc-lily",
            6,
            "See [Advanced command line options for LilyPond], page 6. "
            "-f, --format=format sets the format of the output files: ps, pdf, png or svg.",
            0.55,
        )
    ]
    _, done = await run(Prompt("How do I get PNG output from lilypond on the command line?", usage))
    assert done.text.startswith("-f, --format"), done.text
    book = [
        Evidence(
            "seg-book",
            "doc-lily",
            26,
            "If you are not familiar with the lilypond-book program, please refer to Chapter 3 "
            "[Running lilypond-book], page 23. The lilypond-book program puts pictures of "
            "music into a document: it runs lilypond on the snippets of music it finds.",
            0.55,
        )
    ]
    _, done = await run(Prompt("What does the lilypond-book program do?", book))
    assert done.text.startswith("The lilypond-book program puts"), done.text


async def test_a_definition_list_s_term_line_is_read_with_its_description() -> None:
    """In a reference's list of parameters the default is on the term's own line; the
    description below it says what the parameter is. A question for the default is answered
    from the two, the line quoted first; a question the description answers alone, from it."""
    parameters = Evidence(
        "seg-smcp",
        "doc-glpk",
        41,
        "Control parameters\n\nThis paragraph describes the control parameters of the simplex "
        "solver.\n\nint msg_lev (default: GLP_MSG_ALL)\n\nMessage level for terminal output."
        "\n\ndouble tol_bnd (default: 1e-7)\n\nTolerance used to check if the basic solution "
        "is primal feasible.\n\ndouble tol_dj (default: 1e-7)\n\nTolerance used to check if "
        "the basic solution is dual feasible.",
        0.6,
        heading="Control parameters",
    )
    _, done = await run(
        Prompt("What is the default tolerance for primal feasibility?", [parameters])
    )
    assert done.text.startswith(
        "double tol_bnd (default: 1e-7) Tolerance used to check if the "
        "basic solution is primal feasible"
    ), done.text
    assert all(c.quote in parameters.text for c in done.citations)  # verbatim
    _, plain = await run(
        Prompt("What does the tolerance for primal feasibility check?", [parameters])
    )
    assert plain.text.startswith("Tolerance used to check if the basic solution is primal"), (
        plain.text
    )


async def test_a_table_s_row_answers_read_with_its_header_and_caption() -> None:
    """Rows end no sentence and are short: alone, each reads like a heading. In a table they
    are the answer, whole ("$? all newer prerequisites" is no question), and the header row
    and caption say what their cells are ("automatic variable")."""
    make = Evidence(
        "seg-make",
        "doc-ref",
        257,
        "automatic variable value\n\n$@ target\n\n$< first prerequisite\n\n$? all newer "
        "prerequisites\n\n$^ all prerequisites\n\nTable 12.17: List of make automatic variables",
        0.6,
        heading="automatic variable value",
    )
    prose = Evidence(
        "seg-rules",
        "doc-ref",
        256,
        "Upon execution of make(1), make reads the rule file, Makefile, and updates a target "
        "if it depends on prerequisite files that have been modified since the target was.",
        0.5,
        heading="12.6.1 Make",
    )
    question = "Inside a Makefile rule, which automatic variable holds the first prerequisite?"
    _, done = await run(Prompt(question, [make, prose]))
    assert done.text.startswith("$< first prerequisite"), done.text
    assert done.citations[0].segment_id == "seg-make"
    _, newer = await run(Prompt("Which automatic variable lists the newer prerequisites?", [make]))
    assert newer.text.startswith("$? all newer prerequisites"), newer.text
    lone = replace(make, text="automatic variable value\n\n$< first prerequisite")
    _, refused = await run(Prompt(question, [lone]))
    assert refused.found is False, refused.text  # one short line is a heading, not a table


async def test_a_lead_in_quoted_with_the_row_it_leads_to_is_not_continued_with_the_first():
    """ "… the following built-in functions …:" promises what follows; the row quoted after it
    keeps the promise, and the table's first row is not quoted too."""
    functions = Evidence(
        "seg-functions",
        "doc-gmpl",
        14,
        "3.1.5 Function references\n\nIn MathProg there exist the following built-in "
        "functions which may be used in numeric expressions:\n\nabs(x) |x|, absolute value of "
        "x\n\natan(x) arctan x, principal value of the arc tangent of x\n\nceil(x) smallest "
        "integer not less than x\n\nlog10(x) common (decimal) logarithm of x",
        0.6,
        heading="3.1.5 Function references",
    )
    question = "Which MathProg function gives the smallest integer not less than x?"
    _, done = await run(Prompt(question, [functions]))
    assert "ceil(x) smallest integer not less than x" in done.text, done.text
    assert "abs(x)" not in done.text


async def test_sentences_that_share_the_question_s_words_alike_are_told_apart_by_meaning():
    """Two rows of one table have the same words of the question; the one that says "twice"
    answers "double", and is quoted first."""
    fonts = Evidence(
        "seg-enhanced",
        "doc-gnuplot",
        34,
        "Control Example Explanation\n\n{/Times abc} abc print abc in font Times at current "
        "size\n\n{/Times*2 abc} abc print abc in font Times at twice current size\n\n"
        "{/Times:Italic abc} abc print abc in font Times with style italic\n\n"
        "Table 3: Enhanced text control codes",
        0.6,
        heading="Enhanced text mode",
    )
    question = "How do I print in font Times at double the current size?"
    _, done = await run(Prompt(question, [fonts]))
    assert done.text.startswith("{/Times*2 abc} abc print abc in font Times at twice"), done.text


async def test_a_question_that_names_a_document_is_answered_from_it() -> None:
    """ "bash" is a common word, and no name to the other checks; it is the name of the
    manual, which the evidence has, under a passage of another manual that says the rest."""
    glpk = Evidence(
        "seg-exact",
        "doc-glpk",
        45,
        "It is similar to glp_simplex, but it uses arithmetic of rational numbers, which is "
        "exact, unlike floating-point arithmetic.",
        0.55,
        heading="glp exact",
        title="GNU Linear Programming Kit",
    )
    bash = Evidence(
        "seg-arith",
        "doc-bash",
        36,
        "The shell allows arithmetic expressions to be evaluated, as one of the shell "
        "expansions. Evaluation is done in fixed-width integers with no check for overflow.",
        0.5,
        heading="6.5 Shell Arithmetic",
        title="Bash Reference Manual",
    )
    _, done = await run(Prompt("Can bash do floating-point arithmetic?", [glpk, bash]))
    assert {c.segment_id for c in done.citations} == {"seg-arith"}, done.text
    _, other = await run(Prompt("Is there exact floating-point arithmetic?", [glpk, bash]))
    assert "seg-exact" in [c.segment_id for c in other.citations], other.text


async def test_what_a_thing_is_is_answered_by_the_sentence_that_says_so() -> None:
    """The best passage only mentions it, and shares more of the question's words; a lower
    one says what it is."""
    options = Evidence(
        "seg-options",
        "doc-bash",
        87,
        "-l Make this shell act as if it had been directly invoked by login, as a login shell.",
        0.62,
    )
    invocation = Evidence(
        "seg-invocation",
        "doc-bash",
        98,
        "A login shell is one whose first character of argument zero is '-', or one invoked "
        "with the --login option. An interactive shell is one started without arguments.",
        0.55,
    )
    _, done = await run(Prompt("What is a login shell?", [options, invocation]))
    assert done.text.startswith("A login shell is one whose first character"), done.text
    _, other = await run(Prompt("What does -l do?", [options, invocation]))
    assert other.text.startswith("-l Make this shell act"), other.text


async def test_what_a_thing_does_is_answered_by_the_sentence_that_says_so() -> None:
    templates = Evidence(
        "seg-templates",
        "doc-lily",
        41,
        "These templates are for use with lilypond-book. They show the program's input.",
        0.7,
    )
    running = Evidence(
        "seg-running",
        "doc-lily",
        26,
        "If you want to add pictures of music to a document, you can do it by hand. "
        "lilypond-book provides a way to automate this process: it extracts snippets of music "
        "from your document and runs lilypond on them.",
        0.63,
    )
    _, done = await run(Prompt("What does the lilypond-book program do?", [templates, running]))
    assert done.text.startswith("lilypond-book provides a way to automate"), done.text
    # asked later in a conversation, the same
    earlier = [Turn("user", "What is lilypond?"), Turn("assistant", "A music typesetter.")]
    _, later = await run(
        Prompt("What does the lilypond-book program do?", [templates, running], history=earlier)
    )
    assert later.text == done.text


async def test_a_name_no_passage_has_is_not_answered_from_meaning_alone() -> None:
    # Close in meaning to the handbook, worded unlike it, about a thing it never names.
    confident = [replace(e, score=0.6) for e in HANDBOOK]
    _, done = await run(Prompt("Can I book trips through Expedia?", confident))
    assert done.text == NOT_FOUND


async def test_an_uncommon_word_another_passage_has_must_be_in_the_answer_from_meaning() -> None:
    """The near miss "When will Debian trixie be released?" was answered from a page about
    Debian's releases that never says trixie, while a lower passage did: the question is
    about that thing, and the close passages answer another question."""
    question = "How long may a worker stay away from the office in a normal week on flexitime?"
    flexitime = Evidence(
        "seg-flex", "doc-hr", 30, "The flexitime scheme sets core hours from ten to four.", 0.2
    )
    evidence = [replace(HANDBOOK[1], score=0.6), replace(HANDBOOK[0], score=0.3), flexitime]
    assert best_coverage(Prompt(question, evidence)) < MIN_COVERAGE  # answered from meaning
    _, refused = await run(Prompt(question, evidence))
    assert refused.text == NOT_FOUND and refused.citations == []
    # No passage says it: a word of the question's own, which the meaning answers.
    _, done = await run(Prompt(question, evidence[:2]))
    assert "three days a week" in done.text


async def test_a_word_english_does_not_know_and_no_passage_has_is_not_answered_from_meaning():
    """The near miss "What is the default swappiness value on a Debian system?" was answered
    from a page about Debian's defaults: a lower-case name no passage has, like "Expedia"."""
    question = "How long may a worker stay away from the office in a normal week on hotdesking?"
    evidence = [replace(HANDBOOK[1], score=0.6), replace(HANDBOOK[0], score=0.2)]
    assert best_coverage(Prompt(question, evidence)) < MIN_COVERAGE  # answered from meaning
    _, refused = await run(Prompt(question, evidence))
    assert refused.text == NOT_FOUND and refused.citations == []
    # Typos of the passages' words are read as those words.
    typos = "How long may a worker stay away from the office in a normal week, workng remotly?"
    _, done = await run(Prompt(typos, evidence))
    assert "three days a week" in done.text


async def test_a_question_for_a_default_is_answered_by_a_sentence_that_states_it() -> None:
    """The near misses "What page size does it use by default?" over a paper that gives page
    sizes but no default: a sentence on the topic that never says what holds when nothing is
    set does not answer."""
    _, found = await run(Prompt("Which class is the default for short flights?", HANDBOOK))
    assert "Economy class is the default" in found.text
    without = [
        replace(e, text=e.text.replace("Economy class is the default for", "Economy class suits"))
        for e in HANDBOOK
    ]
    _, missing = await run(Prompt("Which class is the default for short flights?", without))
    assert missing.text == NOT_FOUND and missing.citations == []


async def test_a_question_for_a_limit_is_answered_by_a_sentence_that_states_one() -> None:
    question = "What is the largest page size the hash package allows?"
    pages = Evidence(
        "seg-pages",
        "doc-hash",
        7,
        "The hash package sets the default page size to 256 bytes. Each page holds a bucket.",
        0.7,
    )
    _, done = await run(Prompt(question, [pages]))
    assert done.text == NOT_FOUND  # a page size, but not the largest one allowed
    stated = replace(pages, text=pages.text + " The page size may be at most 32768 bytes.")
    _, done = await run(Prompt(question, [stated]))
    assert "at most 32768 bytes" in done.text


async def test_a_question_for_a_price_is_not_answered_by_another_number() -> None:
    """The near miss "How much does a commercial licence cost?" over a paper that gives the
    vendor's version numbers and years but no price."""
    release = [
        Evidence(
            "seg-vendor",
            "doc-db",
            1,
            "Sleepycat released version 2.1 of the database in 1997. The company sells "
            "commercial licences and support.",
            0.7,
            title="db.pdf",
        )
    ]
    _, refused = await run(Prompt("How much does a commercial licence cost?", release))
    assert refused.text == NOT_FOUND
    priced = [replace(release[0], text=release[0].text + " A commercial licence costs $900.")]
    _, found = await run(Prompt("How much does a commercial licence cost?", priced))
    assert "$900" in found.text


# What workflows.overview gives a question about whole documents: each document's opening,
# then a passage per main topic, in that order.
OPENINGS = [
    Evidence(
        "seg-intro",
        "doc-guide",
        3,
        "Introduction\n\nThis guide explains how to run the Gull Point lighthouse. It covers the "
        "lamp, the logbook and the keeper's duties. Read it before your first watch.",
        1.0,
        heading="Introduction",
        title="Keeper's Guide",
    ),
    Evidence(
        "seg-lamp",
        "doc-guide",
        9,
        "1.2 Lamp . . . . . . 4\n\nThe lamp burns paraffin and is trimmed every four hours. "
        "Spare wicks are kept in the store.",
        0.99,
        title="Keeper's Guide",
    ),
    Evidence(
        "seg-bread",
        "doc-bread",
        1,
        "Rye bread needs a sourdough starter fed the night before. Bake it for fifty minutes.",
        0.98,
        title="Baking Notes",
    ),
]


async def _overview(evidence: list[Evidence], question: str = "What are these about?"):
    pieces = [
        p
        async for p in LocalExtractive().stream(
            Prompt(question, evidence=evidence, overview=True), max_tokens=500
        )
    ]
    done = pieces[-1]
    assert isinstance(done, Finished)
    return done


async def test_what_a_document_is_about_is_its_opening_and_its_topics() -> None:
    done = await _overview(OPENINGS[:2], "What is this guide about?")
    assert done.text == (
        "This guide explains how to run the Gull Point lighthouse. It covers the lamp, the "
        "logbook and the keeper's duties [1]. The lamp burns paraffin and is trimmed every "
        "four hours [2]."
    )  # the table of contents' line and the headings are no sentences to quote
    assert [(c.segment_id, c.page, c.marker) for c in done.citations] == [
        ("seg-intro", 3, 1),
        ("seg-intro", 3, 1),
        ("seg-lamp", 9, 2),
    ]
    assert done.found


async def test_several_documents_are_each_named_and_quoted_more_briefly() -> None:
    done = await _overview(OPENINGS)
    assert done.text == (
        "Keeper's Guide: This guide explains how to run the Gull Point lighthouse [1]. The lamp "
        "burns paraffin and is trimmed every four hours [2].\n\n"
        "Baking Notes: Rye bread needs a sourdough starter fed the night before [3]."
    )
    assert [c.segment_id for c in done.citations] == ["seg-intro", "seg-lamp", "seg-bread"]


async def test_an_overview_does_not_quote_the_tail_of_a_sentence() -> None:
    """Segments overlap mid-sentence: a topic's passage may open on the end of one."""
    tail = replace(
        OPENINGS[1],
        text="1.2 Lamp\n\nevery four hours by the keeper. Spare wicks are kept in the store.",
    )
    done = await _overview([OPENINGS[0], tail], "What is this guide about?")
    assert done.text.endswith("Spare wicks are kept in the store [2].")
    assert "every four hours" not in done.text
    # A name written in lower case opens a sentence of its own.
    named = replace(tail, text="gnuplot plots the lamp's hours. Spare wicks are kept in the store.")
    done = await _overview([OPENINGS[0], named], "What is this guide about?")
    assert done.text.endswith("gnuplot plots the lamp's hours [2].")


async def test_an_overview_without_prose_says_it_found_nothing() -> None:
    contents = replace(OPENINGS[1], text="1.1 Lamp . . . . 4\n\n1.2 Logbook . . . . 7")
    done = await _overview([contents])
    assert done.text == NOT_FOUND and not done.citations and not done.found


async def test_a_table_of_contents_is_never_quoted() -> None:
    """Its lines hold the question's words (they are the headings) and answer nothing."""
    contents = Evidence(
        "seg-toc",
        "doc-faq",
        2,
        "Table of Contents\n\n2.4 How can R be obtained? . . . . . . 4 2.8 How can I cite R? "
        ". . . . . . 6 2.9 What documentation exists for R? . . . . . 7",
        0.9,
        title="R FAQ",
    )
    answer = Evidence(
        "seg-cite",
        "doc-faq",
        6,
        "To cite R in publications, use the citation strings that citation() prints.",
        0.85,
        title="R FAQ",
    )
    pieces = [
        p
        async for p in LocalExtractive().stream(
            Prompt("How can I cite R in a paper?", evidence=[contents, answer]), max_tokens=300
        )
    ]
    finished = pieces[-1]
    assert isinstance(finished, Finished)
    assert [c.segment_id for c in finished.citations] == ["seg-cite"], finished.text


@pytest.mark.parametrize("heading", ["", "4.2 Leave\n\n"])
async def test_a_quote_from_a_passage_that_starts_mid_sentence_says_so(heading: str) -> None:
    """A segment can begin where the page before left off (under its section's heading, or
    not); the quote is verbatim all the same."""
    cut = Evidence(
        "seg-cut",
        "doc-hr",
        13,
        f"{heading}carried over into the first quarter of the next year, up to five days of "
        "leave. Requests are approved by the line manager.",
        0.9,
        title="handbook.pdf",
    )
    pieces = [
        p
        async for p in LocalExtractive().stream(
            Prompt("How many days of leave can be carried over?", evidence=[cut]), max_tokens=300
        )
    ]
    done = pieces[-1]
    assert isinstance(done, Finished)
    assert done.text.startswith("…carried over into the first quarter"), done.text
    assert done.citations[0].quote.startswith("carried over into the first quarter")


# --- Chinese ----------------------------------------------------------------------------------

# A manual in Chinese: no spaces between words, so terms are character pairs (core.cjk).
MANUAL_ZH = [
    Evidence(
        "seg-config",
        "doc-zh",
        2,
        "第二章 安装与配置\n\n配置文件位于 /etc/xinghe/server.conf。数据库的最大连接数由参数 "
        "max_connections 控制，默认值为 500。如果需要修改监听端口，请设置参数 listen_port，"
        "默认端口为 7788。",
        0.62,
        heading="第二章 安装与配置",
        title="星河数据库运维手册",
    ),
    Evidence(
        "seg-backup",
        "doc-zh",
        3,
        "第三章 备份与恢复\n\n全量备份建议每周执行一次，增量备份建议每天执行一次。备份文件默认保留 "
        "30 天，过期后由后台任务自动删除。",
        0.55,
        heading="第三章 备份与恢复",
        title="星河数据库运维手册",
    ),
    Evidence(
        "seg-monitor",
        "doc-zh",
        4,
        "第四章 监控与告警\n\n运维人员可以使用 xinghe-admin status 命令查看每个节点的状态。当磁盘"
        "使用率超过百分之八十五时，系统会发出告警。",
        0.5,
        heading="第四章 监控与告警",
        title="星河数据库运维手册",
    ),
]


@pytest.mark.parametrize(
    ("question", "answer", "page"),
    [
        ("数据库的最大连接数是多少？", "默认值为 500", 2),
        ("默认端口是多少？", "默认端口为 7788", 2),
        ("备份文件保留多久？", "保留 30 天", 3),
        ("全量备份应该多久做一次？", "全量备份建议每周执行一次", 3),
        # "看节" and "点状" straddle words ("查看" "节点" "状态"): no sentence has them.
        ("如何查看节点状态？", "xinghe-admin status", 4),
        ("磁盘使用率超过多少会告警？", "百分之八十五", 4),
    ],
)
async def test_a_chinese_question_is_answered_from_the_sentence_that_says_it(
    question: str, answer: str, page: int
) -> None:
    # Retrieval ranks the answer's passage first, as the stack does for each of these.
    evidence = sorted(
        (replace(e, score=0.62 if e.page == page else 0.5) for e in MANUAL_ZH),
        key=lambda e: -e.score,
    )
    deltas, done = await run(Prompt(question, evidence))
    assert done.found and answer in done.text
    assert [c.page for c in done.citations] == [page]
    assert "".join(d.text for d in deltas) == done.text
    # Streamed two characters at a time, not a whole sentence in one piece.
    assert all(len(CJK_CHAR.findall(d.text)) <= 2 for d in deltas)


@pytest.mark.parametrize(
    "question",
    [
        "如何配置 SSL 加密？",
        "今天天气怎么样？",
        # A program named in Latin letters that no passage names.
        "pgbouncer 能和星河数据库一起用吗？",
        # More Latin letters than characters, and still a question in Chinese.
        "pgbouncer 的 pool_mode 默认是什么？",
        # A quantity of another thing: "百分之八十五" is no interval, "500" no memory.
        "告警多久发送一次？",
        "监听端口需要多少内存？",
    ],
)
async def test_a_chinese_question_the_manual_does_not_answer_is_refused(question: str) -> None:
    _, done = await run(Prompt(question, [replace(e, score=0.3) for e in MANUAL_ZH]))
    assert done.text == NOT_FOUND_IN["zh"] and not done.found  # said in Chinese


async def test_a_chinese_quantity_is_of_what_the_question_opens_with() -> None:
    pipes = Evidence(
        "seg-pipe",
        "doc-ref",
        41,
        "1.2.8 命名管道\n\n你把内容放进了文件，它从另一端出来。管道的大小始终是零，它不存储数据。",
        0.6,
        heading="1.2.8 命名管道",
    )
    nodes = Evidence(
        "seg-nodes",
        "doc-ref",
        2,
        "2 安装\n\n每台存储节点至少需要 16 GB 内存。时钟偏差超过 500 毫秒时，协调节点会拒绝写入。",
        0.6,
        heading="2 安装",
    )
    # The sentence goes on about the pipe its heading names.
    _, done = await run(Prompt("命名管道的大小是多少？", [pipes]))
    assert "管道的大小始终是零" in done.text
    # A storage node's memory is not a coordinator's, nor 500 ms memory.
    _, done = await run(Prompt("协调节点需要多少内存？", [nodes]))
    assert done.text == NOT_FOUND_IN["zh"]
    _, done = await run(Prompt("存储节点需要多少内存？", [nodes]))
    assert "16 GB 内存" in done.text


async def test_chinese_sentences_are_joined_and_marked_as_chinese_is_written() -> None:
    _, done = await run(Prompt("这份手册讲的是什么？", MANUAL_ZH[1:2], overview=True))
    assert done.text == (
        "全量备份建议每周执行一次，增量备份建议每天执行一次。"  # no space after 。
        "备份文件默认保留 30 天，过期后由后台任务自动删除[1]。"  # the marker inside the 。
    )


async def test_a_sentence_that_leads_in_is_quoted_with_what_it_introduces() -> None:
    """Alone, "…use the left division operator:" promises what it does not show."""
    solving = Evidence(
        "seg-solve",
        "doc-octave",
        24,
        "Systems of linear equations are ubiquitous in numerical analysis. To solve the set of "
        "linear equations Ax = b, use the left division operator:\nx = A \\ b\nThis is "
        "conceptually equivalent to inverting the matrix, but avoids computing the inverse.",
        0.8,
    )
    _, done = await run(Prompt("How do I solve the linear equations Ax = b?", [solving]))
    assert "use the left division operator: x = A \\ b [1]" in done.text
    assert [c.quote for c in done.citations][-2:] == [
        "To solve the set of linear equations Ax = b, use the left division operator:",
        "x = A \\ b",
    ]


async def test_a_difference_is_answered_by_what_each_is() -> None:
    """The sentence that says what a library is matches the question's words best (it says
    "packages" too); the answer needs the one that says what a package is as well."""
    faq = Evidence(
        "seg-faq",
        "doc-rfaq",
        40,
        "7.29 What is the difference between package and library?\n\nA package is a "
        "standardized collection of material extending R, e.g. providing code, data, or "
        "documentation. A library is a place (directory) where R knows to find packages it "
        "can use (i.e., which were installed).",
        0.6,
    )
    question = "What is the difference between a package and a library in R?"
    _, done = await run(Prompt(question, [faq]))
    assert done.text.startswith("A package is a standardized collection"), done.text
    assert "A library is a place (directory)" in done.text, done.text
    # Without a sentence that says what a package is, shared words answer as before.
    library = replace(faq, text=faq.text.replace("A package is a", "Packages are"))
    _, done = await run(Prompt(question, [library]))
    assert "A library is a place (directory)" in done.text, done.text


async def test_a_sentence_cut_off_is_quoted_with_what_completes_it() -> None:
    """ "… the command is" ends on a word no sentence ends on: what follows, in a paragraph of
    its own, completes it. The paragraphs of this passage end on no stop, as a table's rows
    do: the sentence that follows is counted the same way as the one quoted."""
    helping = Evidence(
        "seg-help",
        "doc-r",
        10,
        "1.7 Getting help with functions and features\n\nR has an inbuilt help facility "
        "similar to the man facility of UNIX. To get more information on any specific named "
        "function, for example solve, the command is\n\n> help(solve)\n\nAn alternative "
        "is\n\n> ?solve\n\nFor a feature specified by special characters, the argument must "
        "be enclosed in double or single quotes.",
        0.64,
    )
    _, done = await run(Prompt("How do I get help on a function in R?", [helping]))
    assert "the command is > help(solve) [1]" in done.text, done.text
    ended = replace(helping, text=helping.text.replace("the command is", "use the command."))
    _, done = await run(Prompt("How do I get help on a function in R?", [ended]))
    assert "help(solve)" not in done.text, done.text


@pytest.mark.parametrize(
    ("question", "text", "answer"),
    [
        (
            "Can the compiler be used on Windows?",
            "Frequently asked questions\n\nCan the compiler be used on Windows? Yes, it runs on "
            "Windows 10 and later. Earlier versions are not supported.",
            "Can the compiler be used on Windows? Yes, it runs on Windows 10 and later [1].",
        ),
        (
            "试用期的员工能休年假吗？",
            "问：试用期内可以休年假吗？答：可以。试用期计入工作年限。",
            "问：试用期内可以休年假吗？答：可以。",
        ),
    ],
)
async def test_a_question_in_the_document_is_quoted_with_its_answer(
    question: str, text: str, answer: str
) -> None:
    """A FAQ's own question matches best and answers nothing: the next sentence does."""
    faq = Evidence("seg-faq", "doc-faq", 3, text, 0.8)
    _, done = await run(Prompt(question, [faq]))
    assert done.text.startswith(answer)


async def test_a_question_in_a_list_of_questions_is_not_continued_by_the_next() -> None:
    contents = Evidence(
        "seg-faq",
        "doc-faq",
        2,
        "Common questions\n\nCan the compiler be used on Windows? Does it need a licence key?",
        0.8,
    )
    _, done = await run(Prompt("Can the compiler be used on Windows?", [contents]))
    assert "licence" not in done.text


async def test_a_sentence_is_quoted_with_the_next_when_that_goes_on_from_it() -> None:
    """The FAQ's sentence that matches states the problem; the next ("In that case …") says
    what to do about it, and is what the user asked for."""
    faq = Evidence(
        "seg-faq",
        "doc-zoo",
        14,
        "15. How can I speed up zoo?\n\nThe main area where you might notice slowness is if you "
        "do indexing of zoo objects in an inner loop. In that case extract the data and time "
        "components prior to the loop. Since most calculations in R use the whole object "
        "approach there are relatively few instances of this.",
        0.66,
    )
    _, done = await run(
        Prompt("Indexing a zoo object inside a loop is slow. What can I do?", [faq])
    )
    assert "indexing of zoo objects in an inner loop. In that case extract the data" in done.text
    _, done = await run(Prompt("When might I notice slowness with zoo?", [faq]))
    assert "inner loop" in done.text and "relatively few" not in done.text


async def test_a_british_spelling_answers_a_question_in_american_spelling() -> None:
    paper = Evidence(
        "seg-r",
        "doc-sandwich",
        2,
        "The packages sandwich and lmtest are required for the applications in this paper. "
        "Both R itself and the sandwich package are available at no cost under the terms of "
        "the general public licence (GPL) from CRAN.",
        0.42,
    )
    _, done = await run(Prompt("Which license is the sandwich package distributed under?", [paper]))
    assert done.text.startswith("Both R itself and the sandwich package")


# One passage, a question, and what the answer must quote with the sentence that matches.
QUOTED_WITH = {
    # cut off by a display: the command shown below the sentence is its end
    "display": (
        "How do I give an abbreviated title for the running head?",
        "If a long title does not fit in the single line of the running head, a warning is "
        "generated. You can specify an abbreviated title for the running head with the command"
        "\n\n\\titlerunning{<Your abbreviated contribution title>}\n\nAn optional subtitle "
        "may also be added.",
        "with the command \\titlerunning{<Your abbreviated contribution title>}",
    ),
    # a slide's subtitle that only says the question again: its steps answer it
    "echo": (
        "How do blocks help in perfect phylogeny haplotyping?",
        "The Integrated Approach\n\nHow blocks help in perfect phylogeny haplotyping.\n\n"
        "1 Partition the site set into overlapping contiguous blocks.\n\n2 Compute a perfect "
        "phylogeny for each block and combine them.",
        "Partition the site set into overlapping contiguous blocks",
    ),
    # a Chinese sentence that points at what follows ("通过下列方式") ends in "。"
    "points ahead": (
        "怎么备份硬盘的主引导记录？",
        "传统PC 中位于主IDE 硬盘第一扇区的主引导记录（MBR）的磁盘映像可以使用dd(1) 通过下列方式"
        "建立。\n\n# dd if=/dev/hda of=mbr.img bs=512 count=1\n\n如果你使用SCSI 设备作为启动硬盘，"
        "你需要使用“/dev/sda”替代“/dev/hda”。",
        "# dd if=/dev/hda of=mbr.img bs=512 count=1",
    ),
    # and a Japanese one ("次のようにすると")
    "points ahead, Japanese": (
        "ISO9660 イメージを手動でマウントするにはどうしますか？",
        "もし”cd.iso” の内容がISO9660 イメージの場合、次のようにするとそれを”/cdrom” に手動で"
        "マウントできます。\n\n# mount -t iso9660 -o ro,loop cd.iso /cdrom\n\nティップ 現代的な"
        "デスクトップシステムではリムーバブルメディアを自動的にマウントします。",
        "# mount -t iso9660 -o ro,loop cd.iso /cdrom",
    ),
    # a paper size has a name, not a number ("\\lowercase{#1}" has one)
    "paper size": (
        "What paper size should I use for APS journals?",
        "This file may be formatted in either the preprint or reprint style. Either format may "
        "be used for submission purposes. letter sized paper should be used when submitting "
        "to APS journals. Note that \\lowercase{#1} keeps a word in lower case.",
        "letter sized paper should be used",
    ),
}


@pytest.mark.parametrize(("question", "passage", "quoted"), QUOTED_WITH.values(), ids=QUOTED_WITH)
async def test_the_answer_quotes_what_completes_the_matching_sentence(
    question: str, passage: str, quoted: str
) -> None:
    _, done = await run(Prompt(question, [Evidence("seg-1", "doc-1", 2, passage, 0.7)]))
    assert quoted in done.text


# Japanese: particles and endings in hiragana are cut out, the kanji and katakana compared.
GUIDE_JA = [
    Evidence(
        "seg-ja-config",
        "doc-ja",
        2,
        "第2章 設定\n\n設定ファイルは /etc/xinghe/server.conf にあります。最大接続数はパラメータ "
        "max_connections で指定し、デフォルト値は500です。設定を変更した後は、サービスを再起動"
        "する必要があります。",
        0.6,
        heading="第2章 設定",
    ),
    Evidence(
        "seg-ja-backup",
        "doc-ja",
        3,
        "第3章 バックアップ\n\nフルバックアップは毎週1回、増分バックアップは毎日1回の実行を推奨"
        "します。バックアップファイルは30日間保存され、期限が過ぎると自動的に削除されます。",
        0.4,
        heading="第3章 バックアップ",
    ),
]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("最大接続数はいくつですか？", "デフォルト値は500です"),
        ("設定を変更したら何をする必要がありますか？", "サービスを再起動する必要があります"),
    ],
)
async def test_a_japanese_question_is_answered_from_the_sentence_that_says_it(
    question: str, answer: str
) -> None:
    _, done = await run(Prompt(question, GUIDE_JA))
    assert done.found and answer in done.text and [c.page for c in done.citations] == [2]
    assert "バックアップ" not in done.text


@pytest.mark.parametrize(
    "question",
    [
        "SSLの設定方法は？",
        # an uncommon loanword in katakana is a name too ("バックアップ" is common)
        "バックアップはクラウドストレージに保存できますか？",
        # a duration: "30日間" is how long files are kept, not how long a restart takes
        "サービスの再起動には何分かかりますか？",
    ],
)
async def test_a_name_the_passages_lack_is_not_answered_in_japanese_either(question: str) -> None:
    _, done = await run(Prompt(question, GUIDE_JA))
    assert done.text == NOT_FOUND_IN["ja"] and not done.found


async def test_a_description_names_the_term_it_describes() -> None:
    """In a list of options or parameters the description does not say what it describes:
    "If nonnegative, commands whose … have timing statistics printed" answers "How do I get
    timing statistics?" only with its term line above, "REPORTTIME". A list's item or a
    table's row under a line is not that line's description."""
    parameters = Evidence(
        "seg-params",
        "doc-zsh",
        103,
        "15.6 Parameters Used By The Shell\n\nREADNULLCMD\n\nThe command name to assume if a "
        "single input redirection is specified with no command.\n\nREPORTTIME\n\nIf "
        "nonnegative, commands whose combined user and system execution times (measured in "
        "seconds) are greater than this value have timing statistics printed for them.",
        0.6,
        heading="15.6 Parameters Used By The Shell",
    )
    _, done = await run(
        Prompt("How do I get timing statistics printed for commands that run long?", [parameters])
    )
    assert done.text.startswith("REPORTTIME If nonnegative, commands whose"), done.text
    listed = replace(
        parameters, text=parameters.text.replace("REPORTTIME\n\nIf", "apt show package\n\n• If")
    )
    _, done = await run(
        Prompt("How do I get timing statistics printed for commands that run long?", [listed])
    )
    assert done.text.startswith("• If nonnegative"), done.text


async def test_the_next_sentence_scored_almost_as_well_goes_on_from_the_first() -> None:
    """ "… but by default will not use them." is followed by how to: quoted with it, though it
    adds no word of the question."""
    trig = Evidence(
        "seg-trig",
        "doc-maxima",
        44,
        "Maxima is aware of the Half Angle relations, but by default will not use them. There "
        "is a variable which can be set called halfangles, and when that is set to true Maxima "
        "will use the Half Angle relations.\n\n(%i4) sin(a/2);",
        0.6,
    )
    _, done = await run(Prompt("How do I make Maxima use the Half Angle relations?", [trig]))
    assert "called halfangles" in done.text, done.text


async def test_which_release_is_answered_with_the_heading_that_says_it() -> None:
    """Release notes say the release in the heading over the sentence that answers."""
    notes = Evidence(
        "seg-notes",
        "doc-notes",
        12,
        "23 Release 0.2.5\n\nContains some deep changes even if the list of changes is small."
        "\n\n• Basic support for Chinese, Japanese, and Korean (CJK) languages. The CJK "
        "package must be installed.\n\n• Preamble code refactored.",
        0.7,
        heading="23 Release 0.2.5",
        title="Release Notes for dblatex",
    )
    question = "In which release did dblatex get basic support for Chinese, Japanese and Korean?"
    _, done = await run(Prompt(question, [notes]))
    assert done.text.startswith("23 Release 0.2.5 • Basic support for Chinese"), done.text
    assert all(c.quote in notes.text for c in done.citations)  # verbatim
    asked = "Did dblatex get support for Chinese, Japanese and Korean?"
    _, plain = await run(Prompt(asked, [notes]))
    assert plain.text.startswith("• Basic support for Chinese"), plain.text


async def test_a_name_no_passage_says_is_not_answered_by_shared_words() -> None:
    """ "How do I set dblatex to produce EPUB as its output format?" shares most of its words
    with a sentence on choosing the output format, in a passage that never says EPUB."""
    formats = Evidence(
        "seg-formats",
        "doc-dblatex",
        25,
        "dblatex transforms your DocBook documents to DVI, PostScript or PDF. The output "
        "format to produce is set with the option -t.",
        0.7,
    )
    asked = "How do I set dblatex to produce EPUB as its output format?"
    _, done = await run(Prompt(asked, [formats]))
    assert not done.found and not done.citations, done.text
    _, done = await run(Prompt(asked.replace("EPUB", "PDF"), [formats]))
    assert "set with the option -t" in done.text, done.text


async def test_a_number_below_the_best_passages_is_of_the_thing_the_question_names() -> None:
    """A question for a count is answered by a number in any passage, not only the best three;
    one of those below them must say the name the question does: gnuplot's "<level> = 1, the
    default" does not answer how many levels the Undo button keeps."""
    views = [
        Evidence(
            "v1",
            "doc-traits",
            19,
            "View Buttons\n\nViews support a standard set of optional buttons: OK closes the "
            "window, Undo reverts the last change, Revert reverts all changes.",
            0.45,
        ),
        Evidence(
            "v2",
            "doc-traits",
            22,
            "A View has three primary types of content: the editors, the buttons, and the menus.",
            0.40,
        ),
        Evidence(
            "v3",
            "doc-traits",
            23,
            "The Undo and Redo buttons appear in the bottom of the window when the view is modal.",
            0.36,
        ),
    ]
    clipping = Evidence(
        "g1",
        "doc-gnuplot",
        156,
        "Clipping\n\nThe option <level> = 1, the default, will get rid of out-of-range points "
        "as well.",
        0.31,
    )
    asked = "How many undo levels does the Undo button keep by default?"
    _, done = await run(Prompt(asked, [*views, clipping]))
    assert not done.found, done.text
    levels = Evidence(
        "v4", "doc-traits", 31, "The Undo button keeps 20 levels of changes by default.", 0.31
    )
    _, done = await run(Prompt(asked, [*views, levels]))
    assert done.text.startswith("The Undo button keeps 20 levels"), done.text


async def test_every_sentence_of_a_description_names_its_term() -> None:
    """The answer may be the second sentence of a description: "Otherwise '>!' or '>|' must
    be used to truncate a file." is said of CLOBBER, the line above the first."""
    options = Evidence(
        "seg-options",
        "doc-zsh",
        117,
        "16.2.6 Input/Output\n\nAPPEND_CREATE\n\nThis option only applies when NO_CLOBBER is "
        "in effect.\n\nCLOBBER (+C)\n\nAllows '>' redirection to truncate "
        "existing files. Otherwise '>!' or '>|' must be used to truncate a file.\n\nCORRECT "
        "(-0)\n\nTry to correct the spelling of commands.",
        0.6,
        heading="16.2.6 Input/Output",
    )
    _, done = await run(Prompt("What must be used to truncate a file otherwise?", [options]))
    assert done.text.startswith("CLOBBER (+C) "), done.text
    assert "Otherwise '>!' or '>|' must be used" in done.text, done.text


# The Debian FAQ in French and German (debian-faq-fr, debian-faq-de 11.1), and the Debian
# Reference in Spanish: questions in the languages of Europe are read in their own words.
FAQ_FR = [
    Evidence(
        "seg-fr-cron",
        "doc-fr",
        53,
        "9.5 Puis-je mettre à jour automatiquement le système ?\n\nOui. Vous pouvez utiliser"
        " cron-apt ; cet outil met à jour le système à intervalle régulier en utilisant un"
        " cron. Par défaut, il met juste à jour la liste des paquets et télécharge les nouveaux"
        " paquets mais ne les installe pas.",
        0.5,
        heading="9.5 Puis-je mettre à jour automatiquement le système ?",
    ),
    Evidence(
        "seg-fr-clean",
        "doc-fr",
        52,
        "9.1.2 apt-get et apt-cdrom\n\nVeuillez noter que, quand vous installez un paquet, les"
        " archives sont conservées dans un sous-répertoire de /var. Pour ne pas saturer votre"
        " partition, vous devriez supprimer les archives en utilisant apt-get clean et apt-get"
        " autoclean.",
        0.45,
        heading="9.1.2 apt-get et apt-cdrom",
    ),
]
FAQ_DE = [
    Evidence(
        "seg-de-clean",
        "doc-de",
        54,
        "9.1.2 apt-get und apt-cdrom\n\nEs ist zu beachten, dass die Pakete, nachdem sie"
        " heruntergeladen und installiert wurden, immer noch in /var/cache/apt/archives liegen."
        " Um die Partition vor Überfüllung zu bewahren, sollten Sie daran denken, solche"
        " Dateien mit apt-get clean oder apt-get autoclean zu löschen.",
        0.5,
        heading="9.1.2 apt-get und apt-cdrom",
    ),
    Evidence(
        "seg-de-cron",
        "doc-de",
        55,
        "9.5 Kann ich mein System automatisch aktualisieren?\n\nJa. Sie können cron-apt"
        " benutzen; dieses Werkzeug aktualisiert über einen cron-Job regelmäßig das System."
        " Standardmäßig aktualisiert es lediglich die Paketliste und lädt neue Pakete herunter,"
        " installiert sie aber nicht.",
        0.45,
        heading="9.5 Kann ich mein System automatisch aktualisieren?",
    ),
]
REFERENCE_ES = [
    Evidence(
        "seg-es-dev",
        "doc-es",
        44,
        "/dev/null lectura devuelve el «carácter de final de archivo (EOF)»\n/dev/zero lectura"
        " devuelve «el carácter \\0 (NUL)» (difiere del número cero representado en ASCII)\n"
        "/dev/full escritura devuelve el error de disco lleno (ENOSPC)",
        0.5,
        heading="1.2.11. Archivos de dispositivos especiales",
    ),
]


@pytest.mark.parametrize(
    ("question", "evidence", "answer", "page"),
    [
        # "remplit" and "débarrasser" are French words, not names the passage lacks.
        (
            "Ma partition /var se remplit d'archives de paquets téléchargées, comment m'en"
            " débarrasser ?",
            FAQ_FR,
            "apt-get clean",
            52,
        ),
        ("Par défaut, est-ce que cron-apt installe les nouveaux paquets ?", FAQ_FR, "ne les", 53),
        # "Paketarchiven" is a compound of two German words, not a name.
        (
            "Meine /var-Partition läuft mit heruntergeladenen Paketarchiven voll. Wie werde ich"
            " sie los?",
            FAQ_DE,
            "apt-get clean",
            54,
        ),
        # "¿Qué" opens the question: it is no name.
        ("¿Qué devuelve /dev/zero cuando se lee?", REFERENCE_ES, "NUL", 44),
    ],
)
async def test_a_question_in_french_german_or_spanish_is_answered_in_its_own_words(
    question: str, evidence: list[Evidence], answer: str, page: int
) -> None:
    _, done = await run(Prompt(question, evidence))
    assert done.found and answer in done.text
    assert page in [c.page for c in done.citations]


@pytest.mark.parametrize(
    ("question", "evidence", "language"),
    [
        # A quantity, a limit and a default the passages do not give, and a name they lack.
        ("Combien de temps dure une mise à jour avec cron-apt ?", FAQ_FR, "fr"),
        ("Quelle est la taille maximale des archives dans /var ?", FAQ_FR, "fr"),
        ("Depuis quelle version l'architecture ia64 est-elle abandonnée ?", FAQ_FR, "fr"),
        ("Wie oft läuft cron-apt standardmäßig?", FAQ_DE, "de"),
        ("Wie lange dauert apt-get clean?", FAQ_DE, "de"),
        ("¿Cuál es el tamaño máximo de /dev/zero?", REFERENCE_ES, "es"),
    ],
)
async def test_what_the_passages_do_not_say_is_refused_in_the_askers_language(
    question: str, evidence: list[Evidence], language: str
) -> None:
    _, done = await run(Prompt(question, evidence))
    assert done.text == NOT_FOUND_IN[language] and not done.found


def test_the_refusal_is_in_the_language_of_the_question() -> None:
    assert not_found("Qui a fondé Debian ?") == NOT_FOUND_IN["fr"]
    assert not_found("Wer hat Debian gegründet?") == NOT_FOUND_IN["de"]
    assert not_found("¿Quién fundó Debian?") == NOT_FOUND_IN["es"]
    assert not_found("Chi ha fondato il progetto Debian?") == NOT_FOUND_IN["it"]
    assert not_found("Quem fundou o projeto Debian?") == NOT_FOUND_IN["pt"]
    assert not_found("Wie heeft het Debian-project opgericht?") == NOT_FOUND_IN["nl"]
    # Not Spanish for the one word "Debian" that a Spanish list has too.
    assert not_found("Кто возглавлял Debian в 2010 году?") == NOT_FOUND_IN["ru"]
    assert not_found("Хто заснував Debian?") == NOT_FOUND_IN["uk"]
    assert not_found("ما هو Debian؟") == NOT_FOUND
    assert not_found("Who founded Debian?") == NOT_FOUND
    for refusal in NOT_FOUND_IN.values():
        assert is_refusal(refusal)  # a remote model saying it is passed through as a refusal


LEADERS = [
    Evidence(
        "seg-leaders",
        "doc-history",
        8,
        "The project has had several leaders since its beginnings in 1993.\n\n"
        "Ian founded the project in August 1993 and led it until March 1996.\n\n"
        "Bdale led the project from April 2002 until April 2003.\n\n"
        "Martin led the project from March 2003 until March 2005.\n\n"
        "Anne led the project from April 2005 until April 2006.",
        0.63,
        title="A Brief History",
    ),
    Evidence(
        "seg-fire",
        "doc-history",
        17,
        "Around 08:00 on November 20th, 2002, the network centre caught fire. The building "
        "burnt to the ground, and the servers it hosted were rebuilt elsewhere.",
        0.5,
        title="A Brief History",
    ),
]


async def test_a_year_the_passages_do_not_reach_is_refused() -> None:
    """A year is asked about as a version is: "Who led the project in 2025?" is not answered
    by the leaders of other years, nor the fire's toll by another year's developers."""
    _, done = await run(Prompt("Who led the project in 2025?", LEADERS))
    assert done.text == NOT_FOUND and not done.found
    _, done = await run(Prompt("How many developers died in the November 2002 fire?", LEADERS))
    assert done.text == NOT_FOUND and not done.found


async def test_a_year_within_a_stated_span_is_answered() -> None:
    _, done = await run(Prompt("Who led the project in 2004?", LEADERS))
    assert done.text.startswith("Martin led the project from March 2003 until March 2005")
    assert "Bdale" not in done.text


async def test_the_format_of_a_number_is_answered_by_the_sentence_that_gives_it() -> None:
    """ "What is the format of a version number?" asks for no number: it is answered by the
    sentence that gives the format, which has none."""
    policy = [
        Evidence(
            "seg-version",
            "doc-policy",
            48,
            "5.6.12 Version\n\nThe version number of a package. The format is: "
            "[epoch:]upstream_version[-debian_revision].\n\nThe three components here are:",
            0.77,
            "5.6.12 Version",
            title="Policy Manual",
        ),
        Evidence(
            "seg-format",
            "doc-policy",
            52,
            "In .changes files, this field declares the format version of that file. The "
            "format described in this document is 1.8.",
            0.71,
            "5.6.16 Format",
            title="Policy Manual",
        ),
    ]
    _, done = await run(Prompt("What is the format of a package version number?", policy))
    assert "[epoch:]upstream_version[-debian_revision]" in done.text
    assert {c.page for c in done.citations} == {48}


async def test_which_thing_is_told_by_the_opening_of_the_sentences_paragraph() -> None:
    """A history's paragraph is about the release its opening names; the sentence that says
    what was introduced does not say in which release."""
    releases = [
        Evidence(
            "seg-releases",
            "doc-history",
            9,
            "Debian 2.0 Hamm (July 24th, 1998): Named for the piggy-bank in the movies. This "
            "release made the transition to libc6.\n\nDebian 2.1 Slink (March 9th, 1999): "
            "Named for the slinky-dog in the movie. Two more architectures were added. The key "
            "technical innovation was the introduction of apt, a new package management "
            "interface.",
            0.6,
            title="A Brief History",
        )
    ]
    _, done = await run(Prompt("Which release introduced apt?", releases))
    assert (
        "Debian 2.1 Slink (March 9th, 1999): Named for the slinky-dog in the movie. The key "
        "technical innovation was the introduction of apt"
    ) in done.text, done.text
    # "When" wants the year the sentence leaves to its paragraph's opening.
    etch = [
        Evidence(
            "seg-etch",
            "doc-history",
            10,
            "Debian 4.0 Etch (8 April 2007): named for the sketch toy in the movie. One "
            "architecture was added in this release: AMD64, and official support for m68k was "
            "dropped.",
            0.6,
            title="A Brief History",
        )
    ]
    _, done = await run(Prompt("When was official support for m68k dropped?", etch))
    assert done.text.startswith("Debian 4.0 Etch (8 April 2007)"), done.text
    # A sentence that names the asked thing needs no opening.
    _, done = await run(Prompt("Which release made the transition to libc6?", releases))
    assert done.text.startswith("This release made the transition to libc6"), done.text


async def test_a_path_no_passage_has_is_refused() -> None:
    """ "What is /opt/local used for?" is not answered by what /opt is for."""
    fhs = [
        Evidence(
            "seg-opt",
            "doc-fhs",
            13,
            "3.13. /opt : Add-on application software packages\n\n/opt is reserved for the "
            "installation of add-on application software packages. A package to be installed "
            "in /opt must locate its static files in a separate directory tree.",
            0.7,
            "3.13. /opt : Add-on application software packages",
            title="Filesystem Hierarchy Standard",
        )
    ]
    _, done = await run(Prompt("What is /opt used for?", fhs))
    assert done.found and "/opt is reserved for the installation" in done.text
    _, done = await run(Prompt("What is /opt/local used for?", fhs))
    assert done.text == NOT_FOUND and not done.found


LETTER = [
    Evidence(
        "seg-letter",
        "doc-letter",
        1,
        "August 25, 2013\n\nGUILLAUME BARRIÈRES Minidoux Corporation 5000 Pannes Drive Redmond, "
        "Virginia USA\n\nY.P. GUIQUE 022 Umask Road St-Sauveur, Québec CANADA\n\nDear Mr. "
        "Barrières,\n\nIt has come to my attention that you have been lobbying the government "
        "to prohibit the use of open source software.\n\nTherefore, I strongly advise that you "
        "withdraw support for any such legislation.\n\nSincerely,\n\nYannick P. Guique",
        0.3,
        title="letter.pdf",
    )
]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Who wrote the letter to Mr. Barrières?", "Sincerely, Yannick P. Guique [1]"),
        ("Who signed the letter?", "Sincerely, Yannick P. Guique [1]"),
        ("Who is the letter addressed to?", "Dear Mr. Barrières, [1]"),
        ("What date is on the letter?", "August 25, 2013 [1]"),
        ("When was the letter written?", "August 25, 2013 [1]"),
    ],
)
async def test_a_letter_is_read_by_its_parts(question: str, answer: str) -> None:
    """Who wrote a letter is the name under its closing, whom to its salutation, when its date
    line: no word of the question is in them."""
    _, done = await run(Prompt(question, LETTER))
    assert done.text == answer


async def test_a_passage_that_is_no_letter_has_no_writer() -> None:
    _, done = await run(Prompt("Who wrote the letter?", LEADERS))
    assert not done.found


async def test_an_opening_already_quoted_is_not_quoted_again() -> None:
    """The same paragraph in two passages (a translation that kept it in English): its
    opening, quoted from the first, is not quoted again before the second's sentence."""
    opening = (
        "Starting 17:00 UTC on November 19th, 2003, four of the project's main Web servers "
        "were compromised."
    )
    evidence = [
        Evidence("seg-en", "doc-en", 23, opening, 0.5, title="History"),
        Evidence(
            "seg-ru",
            "doc-ru",
            24,
            f"{opening} On November 25th, all services were recovered and back online.",
            0.45,
            title="История",
        ),
    ]
    question = "When were the Web servers compromised, and when were they back online?"
    _, done = await run(Prompt(question, evidence))
    assert "back online" in done.text, done.text
    assert done.text.count("Starting 17:00 UTC") == 1, done.text


async def test_the_word_year_beside_a_year_asks_nothing_more() -> None:
    """ "в 2010 году" (in the year 2010): the passage says "с апреля 2010"; the word for year
    is no term a sentence must have."""
    leaders = [
        Evidence(
            "seg-ru",
            "doc-ru",
            8,
            "Бен Коллинз возглавлял Debian с апреля 2001 до апреля 2002.\n\n"
            "Стефано Заккироли возглавлял Debian с апреля 2010 до апреля 2013.\n\n"
            "Энтони Таунс возглавлял Debian с апреля 2006 до апреля 2007.",
            0.6,
            title="Краткая история Debian",
        ),
        Evidence(
            "seg-ru-2",
            "doc-ru",
            9,
            "Debian 1.1 Buzz был первым выпуском Debian с кодовым именем. Debian 1.2 Rex "
            "состоял из 848 пакетов. Debian 1.3 Bo состоял из 974 пакетов. Debian 2.0 Hamm "
            "был первым мультиархитектурным выпуском Debian.",
            0.55,
            title="Краткая история Debian",
        ),
    ]
    assert question_words("Кто возглавлял Debian в 2010 году?") == ["возглавлял", "debian", "2010"]
    assert "year" in question_words("Which year did the project start?")
    _, done = await run(Prompt("Кто возглавлял Debian в 2010 году?", leaders))
    assert done.text.startswith("Стефано Заккироли"), done.text
    _, done = await run(Prompt("Who led the project in the year 2004?", LEADERS))
    assert done.text.startswith("Martin led the project"), done.text


async def test_a_version_asked_about_is_read_in_the_passages_that_say_it() -> None:
    """The passages that say "3.1" rank below others that share more words with the question;
    quoting by shared words reads the best of those that say it, not the best of all."""
    evidence = [
        Evidence(
            "seg-dates",
            "doc-policy",
            24,
            "3.2.1 Version numbers based on dates\n\nUpstream version numbers based on some date "
            "formats will sort incorrectly. Debian packages whose version numbers include dates "
            "should give the date in a way that sorts correctly when released.",
            0.57,
            title="Debian Policy Manual",
        ),
        Evidence(
            "seg-names",
            "doc-devref",
            32,
            "Every released Debian distribution has a code name: Debian 9 is called stretch.",
            0.54,
            title="Developer's Reference",
        ),
        Evidence(
            "seg-dated",
            "doc-policy",
            31,
            "Every released package's changelog entry has a date, which says when the version "
            "was released into the Debian archive.",
            0.53,
            title="Debian Policy Manual",
        ),
        Evidence(
            "seg-sarge",
            "doc-history",
            15,
            "Debian 3.1 (sarge) was released June 6th, 2005 for the same architectures as woody.",
            0.5,
            title="A Brief History of Debian",
        ),
    ]
    _, done = await run(Prompt("Give me the date Debian 3.1 was released", evidence))
    assert done.text.startswith("Debian 3.1 (sarge) was released June 6th, 2005"), done.text


@pytest.mark.parametrize(
    ("title", "text", "answer"),
    [
        (
            "A New Hashing Package for UNIX",
            "A New Hashing Package for UNIX\n\nMargo Seltzer - University of California, "
            "Berkeley Ozan Yigit - York University\n\nABSTRACT\n\nUNIX support of disk oriented "
            "hashing was originally provided by dbm.",
            "Margo Seltzer - University of California, Berkeley Ozan Yigit - York University [1]",
        ),
        (
            "Berkeley DB",
            "Berkeley DB\n\nMichael A. Olson Keith Bostic Margo Seltzer\n\nSleepycat Software,"
            " Inc.",
            "Michael A. Olson Keith Bostic Margo Seltzer [1]",
        ),
        # A subtitle in capitals is no name, and a date no byline.
        (
            "gnuplot 5.4",
            "gnuplot 5.4\n\nAn Interactive Plotting Program\n\nMay 31, 2022",
            NOT_FOUND,
        ),
    ],
)
async def test_who_wrote_a_document_is_the_names_under_its_title(title, text, answer) -> None:
    page = [Evidence("seg-title", "doc", 1, text, 0.0, title=title)]
    _, done = await run(Prompt("Who wrote it?", page))
    assert done.text == answer


async def test_when_a_document_was_published_is_the_date_on_its_title_page() -> None:
    faq = Evidence(
        "seg-faq",
        "doc-faq",
        1,
        "The Debian GNU/Linux FAQ\n\nMay 31, 2022",
        0.0,
        title="The Debian GNU/Linux FAQ",
    )
    _, done = await run(Prompt("When was the Debian FAQ last updated?", [faq]))
    assert done.text == "May 31, 2022 [1]"
    # Not the date of another document's title page than the one asked about.
    history = Evidence(
        "seg-history",
        "doc-history",
        1,
        "A Brief History of Debian\n\nFebruary 15, 2023",
        0.5,
        title="A Brief History of Debian",
    )
    release = Evidence(
        "seg-etch",
        "doc-history",
        15,
        "Debian 4.0 (etch) was released April 8th, 2007.",
        0.4,
        title="A Brief History of Debian",
    )
    _, done = await run(Prompt("When was Debian 4.0 released?", [history, release]))
    assert done.text.startswith("Debian 4.0 (etch) was released April 8th, 2007"), done.text


def test_a_word_in_cyrillic_is_stemmed_as_russian() -> None:
    assert term_of("пакетов") == term_of("пакеты") == "пакет"
    assert term_of("возглавляли") == term_of("возглавлял")
    assert term_of("packages") == "packag"  # English as before
