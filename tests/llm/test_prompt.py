from __future__ import annotations

import pytest

from core.errors import InvalidInput
from llm._text import MESSAGE_OVERHEAD_TOKENS, estimate_tokens, sentences, truncate_to_tokens
from llm.prompt import (
    DEFAULT_SYSTEM,
    REPLY_PRIMING_TOKENS,
    Evidence,
    Prompt,
    Turn,
    action_subject,
    byline_subject,
    dated_subject,
    defines,
    definition_subject,
    essential_tokens,
    full_tokens,
    names_document,
    names_wholly,
    overview_names,
    overview_subject,
    points_at_a_document,
    ranked,
    render,
    says_the_name,
    says_what_it_does,
    user_message,
    what_is_subject,
)


def ev(n: int, words: int = 60, score: float | None = None) -> Evidence:
    text = " ".join(f"fact{n}word{i}" for i in range(words)) + "."
    return Evidence(f"s{n}", f"d{n}", n, text, 1.0 - n / 100 if score is None else score)


def history(turns: int, words: int = 40) -> list[Turn]:
    roles = ("user", "assistant")
    return [
        Turn(roles[i % 2], f"turn{i} " + " ".join(["blah"] * words))  # type: ignore[arg-type]
        for i in range(turns)
    ]


def total(messages: list[dict[str, str]]) -> int:
    return sum(estimate_tokens(m["content"]) + 4 for m in messages) + 3


def test_estimate_is_close_to_bpe_counts_on_prose() -> None:
    # 44 words of ordinary English; cl100k counts 51 tokens for it.
    prose = (
        "The quarterly report shows that revenue grew by twelve percent, driven mostly by "
        "subscriptions in Europe, while costs stayed flat. Management expects the trend to "
        "continue next year, although currency movements and a slower market in Asia could "
        "reduce growth by two or three points."
    )
    assert 48 <= estimate_tokens(prose) <= 62
    assert estimate_tokens("你好世界") == 4
    assert estimate_tokens("") == 0


def test_truncate_keeps_a_word_prefix_within_budget() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    cut = truncate_to_tokens(text, 10)
    assert text.startswith(cut) and estimate_tokens(cut) <= 10 < estimate_tokens(cut + " w99")


def test_sentences_are_verbatim_spans() -> None:
    text = "First one. Second one!\nThird without stop\n\n  Fourth?  "
    spans = sentences(text)
    assert [s.text for s in spans] == ["First one.", "Second one!", "Third without stop", "Fourth?"]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_a_sentence_goes_on_past_abbreviations_and_initials() -> None:
    text = (
        "Read a file, e.g. the one in Fig. 3 of the guide. It was written by David M. Smith in "
        "1990. Questions about R. From there on\nit ends. See W. R. Pearson and D. J. Lipman "
        "(1988). The end."
    )
    spans = sentences(text)
    assert [s.text for s in spans] == [
        "Read a file, e.g. the one in Fig. 3 of the guide.",
        "It was written by David M. Smith in 1990.",
        "Questions about R.",  # a one-letter name ends a sentence after a lower-case word
        "From there on",
        "it ends.",
        "See W. R. Pearson and D. J. Lipman (1988).",  # initials in a row
        "The end.",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_a_sentence_goes_on_past_a_stop_that_a_bracket_or_comma_follows() -> None:
    text = (
        "So you sit at your workstation (or terminal, or PC. . . ), and you type gp. Then "
        "type 1/7 (or 1/7.), as before. It says hello."
    )
    assert [s.text for s in sentences(text)] == [
        "So you sit at your workstation (or terminal, or PC. . . ), and you type gp.",
        "Then type 1/7 (or 1/7.), as before.",
        "It says hello.",
    ]


def test_everything_fits_in_a_large_window() -> None:
    prompt = Prompt("What is fact one?", [ev(2), ev(1)], history(4))
    rendered = render(prompt, context_window=100_000, reply_tokens=500)
    roles = [m["role"] for m in rendered.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert rendered.messages[0]["content"] == DEFAULT_SYSTEM
    user = rendered.messages[-1]["content"]
    # Numbered by score, best first, with the source and page.
    assert user.index("[1] (d1, page 1) fact1word0") < user.index("[2] (d2, page 2) fact2word0")
    assert user.endswith("Question: What is fact one?")
    assert rendered.prompt_tokens == total(rendered.messages)
    assert rendered.prompt_tokens == full_tokens(prompt)


def test_label_uses_title_and_heading() -> None:
    item = Evidence("s", "d", 4, "Text.", 0.5, heading="Refunds", title="policy.pdf")
    user = render(Prompt("q?", [item]), context_window=10_000, reply_tokens=10).messages[-1]
    assert "[1] (policy.pdf, page 4, Refunds) Text." in user["content"]


@pytest.mark.parametrize("window", [700, 900, 1100, 1500, 2500])
def test_budget_is_respected(window: int) -> None:
    prompt = Prompt("What is fact one? " * 5, [ev(i) for i in range(1, 9)], history(10))
    rendered = render(prompt, context_window=window, reply_tokens=300)
    assert rendered.prompt_tokens + 300 <= window
    assert rendered.prompt_tokens == total(rendered.messages)


def test_oldest_history_goes_first() -> None:
    prompt = Prompt("What is fact one?", [ev(1), ev(2)], history(6))
    room = essential_tokens(prompt) + 300 + 2 * (estimate_tokens(history(1)[0].content) + 4)
    rendered = render(prompt, context_window=room, reply_tokens=300)
    assert [t.content.split()[0] for t in rendered.history] == ["turn4", "turn5"]
    assert len(rendered.evidence) == 2  # evidence untouched while history can give


def test_history_never_starts_with_the_assistant() -> None:
    turns = history(5)  # user, assistant, user, assistant, user
    prompt = Prompt("q?", [ev(1)], turns)
    per_turn = estimate_tokens(turns[0].content) + 4
    rendered = render(
        prompt, context_window=essential_tokens(prompt) + 300 + 2 * per_turn, reply_tokens=300
    )
    assert [t.content.split()[0] for t in rendered.history] == ["turn4"]


def test_lowest_ranked_evidence_goes_after_all_history() -> None:
    items = [ev(1), ev(2), ev(3)]
    prompt = Prompt("What is fact one?", items, history(4))
    without_last = Prompt(prompt.question, items[:2])
    rendered = render(prompt, context_window=essential_tokens(without_last) + 310, reply_tokens=300)
    assert rendered.history == []
    assert [e.segment_id for e in rendered.evidence] == ["s1", "s2"]
    assert rendered.question == "What is fact one?"


def test_question_is_cut_last() -> None:
    question = "Please summarise " + " ".join(f"topic{i}" for i in range(400))
    prompt = Prompt(question, [ev(1)], history(2))
    rendered = render(prompt, context_window=600, reply_tokens=100)
    assert rendered.evidence == [] and rendered.history == []
    assert question.startswith(rendered.question) and len(rendered.question) < len(question)
    assert rendered.prompt_tokens + 100 <= 600


def test_a_window_too_small_for_the_system_prompt_is_an_error() -> None:
    with pytest.raises(InvalidInput) as info:
        render(Prompt("q?", [ev(1)]), context_window=100, reply_tokens=50)
    assert info.value.code == "context_too_small"


@pytest.mark.parametrize("blocks", [0, 1, 3, 12])
def test_the_user_message_estimate_is_the_sum_of_its_parts(blocks: int) -> None:
    """essential_tokens adds up the passages' own (remembered) estimates instead of estimating
    the whole message; it must come to exactly the same number."""
    evidence = [ev(n, words=20 + n) for n in range(1, blocks + 1)]
    evidence += [Evidence("s-cjk", "d", 2, "東京都の人口は1400万人です。Ünïcödé 12345 x-y.", 0.2)]
    evidence[0] = Evidence("s0", "d0", 1, "  padded passage  ", 0.9, heading="Intro", title="T")
    question = "How many people (roughly) live in 東京, per page 12?"
    prompt = Prompt(question=question, evidence=evidence)
    user = user_message(question, ranked(evidence))
    assert essential_tokens(prompt) == (
        estimate_tokens(DEFAULT_SYSTEM)
        + estimate_tokens(user)
        + 2 * MESSAGE_OVERHEAD_TOKENS
        + REPLY_PRIMING_TOKENS
    )


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("What is this document about?", []),
        ("What are these PDFs about?", []),
        ("Summarize the paper.", ["paper"]),
        ("Could you summarise it, please?", []),
        ("Give me a brief summary", []),
        ("What are the main topics covered in these documents?", []),
        ("What does this report cover?", ["report"]),
        ("tl;dr", []),
        ("Summarize the R FAQ.", ["r", "faq"]),
        ("Give me an overview of the gnuplot manual", ["gnuplot", "manual"]),
        ("What is the employee handbook about?", ["employe", "handbook"]),
        # a subject that may name no document: the caller searches it then
        ("Can you give me an overview of how fitting works?", ["fit", "work"]),
        # not about whole documents
        ("What does summary() return for a data frame?", None),
        ("What is a summary statistic?", None),
        ("Summarise section 3", None),
        ("What are the key points of the results table?", None),
        ("Which key toggles the grid?", None),
        ("What is the difference between R and S?", None),
        ("Outline the installation steps", None),
        # in Chinese: the request's words go, what is left names documents
        ("这份文档讲的是什么？", []),
        ("请概括这篇论文的主要内容", []),
        ("这个文件主要讲什么", []),
        ("总结一下星河运维手册", ["星河", "河运", "运维"]),
        ("第三章是关于什么的？", None),
        ("数据库的最大连接数是多少？", None),
    ],
)
def test_questions_about_whole_documents_are_told_apart(question, subject) -> None:
    assert overview_subject(question) == subject


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("What is Asymptote?", ["asymptot"]),
        ("what's gnuplot", ["gnuplot"]),
        ("What is GNU Octave?", ["gnu", "octav"]),
        ("What is debmake used for?", ["debmak"]),
        ("What's FASTA for?", ["fasta"]),
        ("What is the default port?", None),  # "the": a thing in the document
        ("What is a sparse matrix?", None),
        ("What is this document about?", None),  # overview_subject's
        ("What is the difference between lists and vectors in R?", None),
        ("What are the rules for naming a variable in a long script?", None),
    ],
)
def test_what_is_asks_for_at_most_three_words(question, subject) -> None:
    assert what_is_subject(question) == subject


def test_what_a_thing_is_is_asked_with_or_without_an_article() -> None:
    assert definition_subject("What is a login shell?") == ["login", "shell"]
    assert definition_subject("What are the traces?") == ["trace"]
    assert definition_subject("What is canonical labelling?") == ["canon", "label"]
    assert (
        definition_subject("What is the default size of the plot that the terminal prints?") is None
    )
    assert definition_subject("How do I start a login shell?") is None
    assert definition_subject("What is it?") is None  # a pronoun: a follow-up's business
    assert action_subject("What does it do?") is None
    assert defines(["login", "shell"], "A login shell is one whose first character is '-'.")


def test_what_a_thing_does_is_asked_and_said() -> None:
    assert action_subject("What does the lilypond-book program do?") == [
        "lilypond",
        "book",
        "program",
    ]
    assert action_subject("What does convert-ly do?") == ["convert", "ly"]
    assert action_subject("What does starting gnuplot with the -p flag do?") is None  # no thing
    assert action_subject("How does geng work?") is None
    subject = action_subject("What does the geng program do?")
    assert subject is not None
    assert says_what_it_does(subject, "The geng program generates small graphs.")
    assert says_what_it_does(subject, "geng (see Section 15) reads nothing.")
    assert not says_what_it_does(subject, "There is also a program that calls geng.")
    assert not says_what_it_does(subject, "geng process output goes to stdout.")  # no verb


@pytest.mark.parametrize(
    ("subject", "title", "filename", "wholly"),
    [
        (["asymptot"], "Asymptote: the Vector Graphics Language", "asymptote.pdf", True),
        (["octav"], "GNU Octave", "octave.pdf", True),
        (["gnu", "octav"], "GNU Octave", "octave.pdf", True),
        (["debian"], "The Debian GNU/Linux FAQ", "debian-faq.pdf", False),
        (["cell", "array"], "GNU Octave", "octave.pdf", False),
        (["keeper", "guid"], None, "keepers-guide.pdf", True),
        # The kind of document, its version and its language are no part of what it is about.
        (["camlidl"], "Camlidl user’s manual", "camlidl-1.04.doc.pdf", True),
        (["debmak"], "Guide for Debian Maintainers", "debmake-doc.en.pdf", True),
        (["debmak"], None, "debmake-doc.zh-cn.pdf", True),
        (["fasta"], "The FASTA program package", "fasta_guide.pdf", True),
        (["debian"], "The Debian GNU/Linux FAQ", "debian-faq.en.pdf", False),
        (["debian"], "Debian Reference", "debian-reference.en.pdf", False),
        (["manual"], None, "manual.pdf", True),
        (["user"], None, "octave-manual.pdf", False),
        # Each of the names a title joins with "and" is the whole name of the document.
        (["nauti"], "nauty and Traces User’s Guide (Version 2.8.6)", "nug28.pdf", True),
        (["trace"], "nauty and Traces User’s Guide (Version 2.8.6)", "nug28.pdf", True),
        (["graph"], "nauty and Traces User’s Guide (Version 2.8.6)", "nug28.pdf", False),
        (["lilypond"], "LilyPond Essay, Version 2.24", "essay.pdf", False),
        (["xfig"], "Using XFig", "xfig-howto.pdf", True),
    ],
)
def test_a_subject_is_a_document_s_whole_name(subject, title, filename, wholly) -> None:
    assert names_wholly(subject, title, filename) is wholly


def test_an_overview_picks_the_documents_its_subject_names() -> None:
    names = ["PDF navigation slides.pdf", "LaTeX News ltnews36.pdf", "LaTeX for authors guide.pdf"]
    assert overview_names([], names) == [0, 1, 2]  # "What is this document about?"
    assert overview_names(["slide"], names) == [0]  # "the main topics of the slides"
    assert overview_names(["latex", "news"], names) == [1]
    assert overview_names(["paper"], names) == [0, 1, 2]  # a kind none is named by
    assert overview_names(["latex", "paper"], names) == [1, 2]
    assert overview_names(["fit", "work"], names) == []  # a subject: to be searched


@pytest.mark.parametrize(
    ("question", "name", "says"),
    [
        ("What date is on the letter?", "letter.pdf", True),
        ("Who wrote this letter?", "letter.en.pdf", True),
        ("What is updated according to the package lifecycle diagram?", "lifecycle.pdf", False),
        (
            "How often is the mirror updated according to the package lifecycle diagram?",
            "Debian's Packages (package-lifecycle)",
            True,
        ),
        ("What does the Debian Policy Manual say about epochs?", "Debian Policy Manual", True),
        ("What does the project history document say?", "A History (project-history.en)", True),
        # One common word names a document only if it is a kind of document.
        ("How is the data stored?", "data.pdf", False),
        # The whole name, after a word that points at it.
        ("What does the policy manual say?", "Debian Policy Manual", False),
        ("Is a letter of credit needed?", "letter.pdf", False),
    ],
)
def test_a_question_names_a_document_by_its_whole_name(question, name, says) -> None:
    assert says_the_name(question, name) is says
    if says:
        assert points_at_a_document(question)  # the names are looked at


def test_a_question_that_points_at_no_kind_of_document_names_none() -> None:
    assert not points_at_a_document("How do I install the package?")
    assert not points_at_a_document("What is in the History of Debian?")


def test_a_subject_names_a_document_by_its_title_or_file_name() -> None:
    assert names_document(["r", "faq"], "R FAQ R-FAQ.pdf")
    assert names_document(["faq"], "Frequently asked R-FAQ.pdf")
    assert names_document(["gnuplot"], "gnuplot 5.4 manual gnuplot.pdf")
    assert not names_document(["r", "faq"], "R Installation and Administration R-admin.pdf")
    assert not names_document(["fit", "work"], "gnuplot 5.4 manual gnuplot.pdf")


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("Who wrote the hashing paper?", ["hash", "paper"]),
        ("Who are the authors of the hashing package?", ["hash", "packag"]),
        ("Who wrote this?", []),
        ("Who signed the letter?", ["letter"]),
        ("Who maintains the Debian Policy Manual?", None),
        ("What did the authors call the mechanism?", None),
    ],
)
def test_who_wrote_a_document_is_asked_of_its_name(question, subject) -> None:
    assert byline_subject(question) == subject


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("When was the Debian FAQ last updated?", ["debian", "faq"]),
        ("When was the letter sent?", ["letter"]),
        ("When was it published?", []),
        ("When was Debian 4.0 released?", ["debian", "4", "0"]),  # searched: names no document
        ("When is the meeting?", None),
        ("When did Debian drop m68k?", None),
    ],
)
def test_the_date_of_a_document_is_asked_of_its_name(question, subject) -> None:
    assert dated_subject(question) == subject
