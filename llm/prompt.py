"""The prompt pipeline: system + conversation history + retrieved context + question, fitted
to a model's context window.

``render(prompt, context_window=N, reply_tokens=R)`` builds chat messages whose estimated size
(see ``llm._text.estimate_tokens``) plus ``R`` stays within ``N``. When it does not fit as a
whole, it gives up, in this order:

1. the oldest history turns (a conversation's start matters least to its latest question);
2. the lowest-ranked evidence blocks (the best evidence is what the answer needs);
3. the end of the question (last resort: a question pasted with a whole page of text).

Evidence is numbered in rank order, ``[1]`` the best, and the model is told to cite with those
numbers; ``Rendered.evidence`` maps them back (``evidence[n - 1]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from core import cjk
from core.errors import InvalidInput
from llm._text import (
    ANAPHORA,
    LEADERS,
    MESSAGE_OVERHEAD_TOKENS,
    SENTENCE_ENDS,
    estimate_tokens,
    message_tokens,
    same_term,
    sentences,
    term_of,
    terms,
    truncate_to_tokens,
    word_count,
    words,
)

# What every model says when the documents do not answer: the local model word for word, a
# remote one because the system prompt demands it. ``is_refusal`` recognises it.
REFUSAL = "I could not find this in your documents."
DEFAULT_SYSTEM = (
    "You answer questions about the user's documents. Use only the numbered context blocks "
    "in the user's message; do not use outside knowledge. Cite every statement with the "
    "number of the block it comes from, in square brackets, e.g. [1] or [2][3]. If the "
    "blocks do not state the answer to exactly what was asked (a block on the same topic "
    "that does not give the asked number, name, option or fact is not an answer), reply "
    f"with exactly this sentence and nothing else: {REFUSAL} "
    "Answer in the language of the question, briefly."
)
# For a question about whole documents (``overview_subject``), whose blocks are each document's
# opening and the passages of its main topics: no block "states the answer", they are the
# answer's material.
OVERVIEW_SYSTEM = (
    "You describe the user's documents. The numbered context blocks in the user's message are "
    "each document's opening and passages from its main topics. Say what each document is "
    "about and what it covers, using only the blocks; do not use outside knowledge. Cite every "
    "statement with the number of the block it comes from, in square brackets, e.g. [1] or "
    "[2][3]. Answer in the language of the question, briefly."
)
_REFUSAL = re.compile(
    r"^\W*(i|we)\s+(could not|couldn't|cannot|can't|did not|didn't|was unable to)\s+find\b"
    r"[^.\[]*\b(documents?|context|sources?|blocks?)\b"
    # Told to answer in the question's language, a model may say it in Chinese: "我无法在您的
    # 文档中找到…", "未能在提供的资料中找到相关信息".
    r"|^\W*(我们?)?(无法|未能|没能|不能|没有)(在|从)?[^。\[]{0,12}?(文档|文件|资料|上下文|材料)"
    r"[^。\[]{0,6}?找到"
    r"|^\W*(在|从)?[^。\[]{0,8}?(文档|文件|资料|上下文|材料)[^。\[]{0,6}?(找不到|未找到|没有找到)"
    # …and in Japanese or Korean, as the local model says it (llm.local.NOT_FOUND_IN).
    r"|^\W*[^。\[]{0,20}?(ドキュメント|文書|資料)[^。\[]{0,20}?見つかりませんでした"
    r"|^\W*[^.\[]{0,10}?문서[^.\[]{0,20}?찾을 수 없"
    # …and in French, German, Spanish, Italian, Portuguese and Dutch ("Je n'ai pas trouvé la
    # réponse dans vos documents", "Ich konnte … in Ihren Dokumenten nicht finden").
    r"|^\W*je n['’]ai pas (pu )?trouvé\b[^.\[]*\bdocuments?\b"
    r"|^\W*ich (konnte|kann)\b[^.\[]*\b(dokument\w*|unterlagen)\b[^.\[]*\bnicht finden\b"
    r"|^\W*no (encontré|he encontrado|pude encontrar)\b[^.\[]*\bdocumentos?\b"
    r"|^\W*non (ho trovato|sono riuscit[oa] a trovare)\b[^.\[]*\bdocumenti\b"
    r"|^\W*não (encontrei|consegui encontrar)\b[^.\[]*\bdocumentos?\b"
    r"|^\W*ik (kon|kan)\b[^.\[]*\bniet vinden\b[^.\[]*\bdocumenten\b"
    # …and in Russian and Ukrainian ("Я не нашёл ответа в ваших документах").
    r"|^\W*я не (нашёл|нашел|смог найти|могу найти)\b[^.\[]*\bдокумент"
    r"|^\W*я не (знайшов|знайшла|зміг знайти|можу знайти)\b[^.\[]*\bдокумент",
    re.IGNORECASE,
)
# Reply priming: the chat formats add a few tokens after the last message.
REPLY_PRIMING_TOKENS = 3
# Below this the question is too mangled to be worth asking.
MIN_QUESTION_TOKENS = 8


@dataclass(frozen=True, slots=True)
class Evidence:
    """One retrieved passage, best first in ``Prompt.evidence``."""

    segment_id: str
    document_id: str
    page: int
    text: str
    score: float
    heading: str | None = None
    title: str | None = None  # the document's title or file name, for the block's label
    # The re-ranker's encoder cosine between the question and the passage
    # (workflows.search.meanings); None when not known (no encoder, or not read for it).
    meaning: float | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Prompt:
    question: str
    evidence: list[Evidence] = field(default_factory=list)
    history: list[Turn] = field(default_factory=list)  # oldest first
    system: str = DEFAULT_SYSTEM
    # The question asks about whole documents: the evidence is their openings and main topics
    # (workflows.overview), in order, not passages ranked by the question's words.
    overview: bool = False


@dataclass(frozen=True, slots=True)
class Rendered:
    messages: list[dict[str, str]]  # [{"role": ..., "content": ...}], system first
    prompt_tokens: int  # estimated, including per-message overhead
    evidence: list[Evidence]  # the blocks kept; block n is evidence[n - 1]
    history: list[Turn]  # the turns kept
    question: str  # as sent (possibly truncated)


def block_label(evidence: Evidence) -> str:
    source = evidence.title or evidence.document_id
    heading = f", {evidence.heading}" if evidence.heading else ""
    return f"({source}, page {evidence.page}{heading})"


def context_block(n: int, evidence: Evidence) -> str:
    return f"[{n}] {block_label(evidence)} {evidence.text.strip()}"


def user_message(question: str, evidence: list[Evidence]) -> str:
    if not evidence:
        return f"Context: (no passages were found)\n\nQuestion: {question}"
    blocks = "\n\n".join(context_block(i, e) for i, e in enumerate(evidence, 1))
    return f"Context:\n{blocks}\n\nQuestion: {question}"


def messages_for(system: str, history: list[Turn], user: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": system},
        *({"role": t.role, "content": t.content} for t in history),
        {"role": "user", "content": user},
    ]


def essential_tokens(prompt: Prompt) -> int:
    """Tokens of the prompt without its history: what a model must take to see all evidence."""
    user = _user_tokens(prompt.question, prompt.evidence)
    return message_tokens(prompt.system) + user + REPLY_PRIMING_TOKENS


def history_tokens(prompt: Prompt) -> int:
    return sum(message_tokens(t.content) for t in prompt.history)


def full_tokens(prompt: Prompt) -> int:
    return essential_tokens(prompt) + history_tokens(prompt)


def ranked(evidence: list[Evidence]) -> list[Evidence]:
    """Best first by score; a stable sort keeps retrieval's order among equal scores."""
    return sorted(evidence, key=lambda e: -e.score)


def render(prompt: Prompt, *, context_window: int, reply_tokens: int) -> Rendered:
    """Messages for a model of ``context_window`` tokens, leaving ``reply_tokens`` for the
    answer. Raises InvalidInput when not even the system prompt and a few words of the
    question fit."""
    budget = context_window - reply_tokens - REPLY_PRIMING_TOKENS
    fixed = message_tokens(prompt.system)
    evidence = ranked(prompt.evidence)
    question = prompt.question.strip()
    history = _fit_history(prompt.history, budget - fixed - _user_tokens(question, evidence))
    while evidence and fixed + _user_tokens(question, evidence) > budget:
        evidence = evidence[:-1]  # history is already empty here: drop the weakest block
    if fixed + _user_tokens(question, evidence) > budget:
        question = _fit_question(question, budget - fixed)
    user = user_message(question, evidence)
    used = fixed + message_tokens(user) + sum(message_tokens(t.content) for t in history)
    return Rendered(
        messages=messages_for(prompt.system, history, user),
        prompt_tokens=used + REPLY_PRIMING_TOKENS,
        evidence=evidence,
        history=history,
        question=question,
    )


def _user_tokens(question: str, evidence: list[Evidence]) -> int:
    """``message_tokens(user_message(question, evidence))``, without building the message:
    the estimate of texts joined by whitespace is the sum of theirs (no piece spans a space),
    and a passage's own estimate is remembered (answers come back to the same passages)."""
    if not evidence:
        return message_tokens(user_message(question, evidence))
    blocks = sum(
        estimate_tokens(f"[{n}] {block_label(e)}") + passage_tokens(e.text)
        for n, e in enumerate(evidence, 1)
    )
    return _FRAME_TOKENS + blocks + estimate_tokens(question) + MESSAGE_OVERHEAD_TOKENS


@lru_cache(maxsize=4096)
def passage_tokens(text: str) -> int:
    return estimate_tokens(text)


_FRAME_TOKENS = estimate_tokens("Context:") + estimate_tokens("Question:")


def _fit_history(history: list[Turn], budget: int) -> list[Turn]:
    """The newest turns whose total fits ``budget`` (a turn is never cut in half)."""
    kept: list[Turn] = []
    for turn in reversed(history):
        cost = message_tokens(turn.content)
        if cost > budget:
            break
        kept.append(turn)
        budget -= cost
    kept.reverse()
    # A history that starts with the assistant's reply reads as if the model had spoken first.
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    return kept


def _fit_question(question: str, budget: int) -> str:
    frame = message_tokens(user_message("", []))
    room = budget - frame
    if room < MIN_QUESTION_TOKENS:
        raise InvalidInput(
            f"the model's context window is too small for this prompt: {max(room, 0)} tokens "
            "would be left for the question after the system prompt and the reply",
            code="context_too_small",
        )
    return truncate_to_tokens(question, room)


__all__ = [
    "DEFAULT_SYSTEM",
    "MESSAGE_OVERHEAD_TOKENS",
    "OVERVIEW_SYSTEM",
    "Evidence",
    "Prompt",
    "Rendered",
    "Turn",
    "essential_tokens",
    "estimate_tokens",
    "full_tokens",
    "history_tokens",
    "passage_tokens",
    "render",
]


# A question of this few content words ("and the second one?") leans on the one before.
FOLLOW_UP_MAX_TERMS = 2


def is_follow_up(question: str) -> bool:
    """Whether a question only makes sense after the previous one: very few content words,
    or a pronoun standing for what was asked about ("what does it cost?")."""
    return len(set(terms(question))) <= FOLLOW_UP_MAX_TERMS or any(
        w in ANAPHORA for w in words(question)
    )


def previous_question(history: list[Turn]) -> str:
    """What the user asked last before this question; "" at a conversation's start."""
    return next((t.content for t in reversed(history) if t.role == "user"), "")


def new_topic(question: str) -> list[str]:
    """The terms of a follow-up that asks the question before it of another thing ("And what
    about unions?", "and dh_make?"): what it names, with no pronoun standing for what was asked
    before; [] for any other question ("And how much does it cost?")."""
    if not is_follow_up(question) or any(w in ANAPHORA for w in words(question)):
        return []
    return terms(question)


def on_new_topic(passage: str, topic: list[str], before: str) -> bool:
    """Whether a passage names a follow-up's new thing (``new_topic``) and shares a term with
    the question before it: unions in CamlIDL's manual, not in another subject's."""
    said = set(terms(passage))
    return bool(said & set(topic)) and bool(said & set(terms(before)))


def is_refusal(answer: str) -> bool:
    """Whether an answer says the documents do not have what was asked (the REFUSAL sentence
    or a model's own words for it, at its start) rather than answering."""
    return _REFUSAL.match(answer.strip()) is not None


# A question about a whole document ("What is this paper about?", "Summarize the R FAQ", "What
# are the main topics?") is answered from its opening and its topic map, not from the passages
# nearest its words: those would be whatever mentions "summary" or "topics".
_OVERVIEW = re.compile(
    r"^\W*(please\s+)?(summari[sz]e|sum up|outline)\b"
    r"|\b(can|could|would|will) you\s+(please\s+)?(summari[sz]e|sum up|outline)\b"
    r"|\b(summary|overview|synopsis|gist|rundown|tl;?dr)\s+of\b"
    r"|\b(a|an|the)\s+((short|brief|quick|general|high-level)\s+)?(summary|overview|synopsis"
    r"|rundown)\W*$"
    r"|^\W*tl;?dr\b"
    r"|\b(main|key|major|central)\s+(topics?|points?|ideas?|takeaways?|themes?|subjects?"
    r"|messages?|findings?)\b"
    r"|^\W*what(?:'s|\s+is|\s+are)\b.*\babout\W*$"
    r"|^\W*what\s+(?:do|does)\s+(?:this|these|that|those|the|my|our)\b[^?]*\b(cover|contain"
    r"|discuss|deal with|talk about)\W*$",
    re.IGNORECASE,
)
# Words of the request itself: what is left of the question names the documents, if anything.
_OVERVIEW_WORDS = frozenset(
    terms(
        "summarize summarise summary summaries sum up outline overview synopsis gist rundown tldr"
        " tl dr main key major central topic topics point points idea ideas takeaway takeaways"
        " theme themes subject subjects message messages finding findings short brief quick"
        " general high level cover covers covered contain contains discuss discusses deal deals"
        " talk talks about document documents pdf pdfs file files text texts whole entire"
    )
)
# Kinds of document: left in the subject, they pick the documents named so ("the slides" of
# slides.pdf) and are dropped when none is.
DOCUMENT_KINDS = frozenset(
    terms(
        "paper papers book books manual manuals report reports article articles slide slides"
        " deck presentation presentations guide guides handbook faq notes news thesis"
    )
)
# "Summarise section 3", "the key points of the results table": a part of a document is a
# passage to find.
_PART = re.compile(
    r"\b(sections?|chapters?|pages?|paragraphs?|tables?|figures?|appendix|appendices|steps?"
    r"|parts?|lines?)\b",
    re.IGNORECASE,
)


# The same in Chinese: "这份文档讲的是什么？", "总结一下这篇论文", "主要内容是什么？"; a part
# ("第三章", "这个表格") is a passage to find; the request's words are cut out of the question
# before what is left names documents ("总结星河运维手册" names 星河运维).
_OVERVIEW_ZH = re.compile(
    "总结|概述|概括|归纳|摘要|梗概|大意|主要内容|主要讲|主要介绍|主题|(讲|说|写|关于)(的|了)?(是)?什么"
)
_PART_ZH = re.compile(r"第\s*\S{1,4}\s*[章节页部篇条]|章节|段落|表格|图表|附录|部分")
_OVERVIEW_WORDS_ZH = re.compile(
    "总结|概述|概括|归纳|摘要|梗概|大意|主要|内容|主题|介绍|讲|说|写|关于|一下|请|帮我|给我"
    "|这份|这篇|这个|这本|该|本|此|文档|文件|文章|论文|资料|手册|报告|书"
)


def overview_subject(question: str) -> list[str] | None:
    """None unless ``question`` asks about whole documents; else the terms left once the
    request's own words are gone: [] for "What is this document about?", the title's words for
    "Summarize the R FAQ" ("r", "faq"), which the caller matches against the documents' titles
    (the words of anything else, "summarize how fitting works", make it a question to search)."""
    if cjk.has_cjk(question) and _OVERVIEW_ZH.search(question):
        if _PART_ZH.search(question):
            return None
        return [t for t in terms(_OVERVIEW_WORDS_ZH.sub(" ", question)) if t not in _OVERVIEW_WORDS]
    if not _OVERVIEW.search(question) or _PART.search(question):
        return None
    return [t for t in terms(question) if t not in _OVERVIEW_WORDS]


# "What is Asymptote?", "What's gnuplot?": asked of a manual named so, the question is what the
# whole document is about, and its opening answers it better than any passage that mentions
# the name (asymptote.pdf's own answer had been "Many of the features of Asymptote are
# written in the Asymptote language itself").
_WHAT_IS = re.compile(
    r"^\W*what(?:'s|\s+is|\s+are)\s+(?!(?:the|a|an|this|that|these|those|it|its|there)\b)"
    r"([^?]{1,40}?)(?:\s+(?:used\s+)?for)?\W*$",
    re.IGNORECASE,
)
WHAT_IS_MAX_TERMS = 3
# Words that say what kind of document a name is, not what it is about: "What is camlidl?" is
# the whole name of "Camlidl user's manual" and of camlidl-1.04.doc.pdf. Not "faq": the Debian
# FAQ answers "What is Debian?" itself, better than its opening does.
_KIND_OF_NAME = frozenset(
    terms(
        "manual manuals guide guides handbook user users user's doc docs documentation tutorial"
        " howto cookbook primer"
    )
)
_VERSION_WORDS = frozenset(terms("version edition"))
# Names a title puts side by side: "nauty and Traces User's Guide" is nauty's and Traces'.
_CONJUNCTION = re.compile(r"\s+(?:and|&)\s+", re.IGNORECASE)
# The language of a translated manual's file: debmake-doc.en.pdf, debmake-doc.zh-cn.pdf.
_LANGUAGE_SUFFIX = re.compile(r"\.[a-z]{2}(?:[-_][a-z]{2,4})?$", re.IGNORECASE)


def what_is_subject(question: str) -> list[str] | None:
    """The terms of X in "What is X?" or "What is X used for?" (at most three, no article),
    else None. The caller overviews a document only when they are its whole name
    (``names_wholly``)."""
    return _subject(_WHAT_IS, question)


# "What is a login shell?": what a sentence saying what X is answers (``defines``).
_WHAT_IS_A = re.compile(
    r"^\W*what(?:'s|\s+is|\s+are)\s+(?:(?:a|an|the)\s+)?([^?]{1,40}?)\W*$", re.IGNORECASE
)


# "Who wrote the hashing paper?", "Who are the authors of this document?": asked of a
# document, answered by its title page or, of a letter, by its signature.
_BYLINE = re.compile(
    r"^\W*who\s+(?:wrote|authored|signed|sent|created|prepared)\s+(.{1,80}?)\W*$"
    r"|^\W*who\s+(?:is|are|was|were)\s+the\s+(?:authors?|writers?|senders?|signator(?:y|ies)"
    r"|creators?)\s+of\s+(.{1,80}?)\W*$",
    re.IGNORECASE,
)


def byline_subject(question: str) -> list[str] | None:
    """The terms of the document a question asks the writer of ("hash", "paper" of "Who wrote
    the hashing paper?"; [] of "Who wrote this?"), else None."""
    match = _BYLINE.match(question)
    if match is None:
        return None
    return terms(match.group(1) or match.group(2))


# "When was the Debian FAQ last updated?": asked of a document, answered by the date on its
# title page or, of a letter, its date line.
_DATED = re.compile(
    r"^\W*when\s+(?:was|were|is)\s+(.{1,80}?)\s+(?:(?:last|first)\s+)?(?:written|published"
    r"|updated|revised|dated|issued|released|sent|signed)\W*$",
    re.IGNORECASE,
)


def dated_subject(question: str) -> list[str] | None:
    """The terms of the document a question asks the date of ("debian", "faq" of "When was
    the Debian FAQ last updated?"), else None."""
    match = _DATED.match(question)
    return None if match is None else terms(match.group(1))


def definition_subject(question: str) -> list[str] | None:
    """The terms of X in "What is (a, an, the) X?" (at most three), else None."""
    return _subject(_WHAT_IS_A, question)


# "What does the lilypond-book program do?": what a sentence saying what X does answers.
_WHAT_DOES = re.compile(r"^\W*what\s+does\s+(?:the\s+)?([^?]{1,40}?)\s+do\W*$", re.IGNORECASE)


def action_subject(question: str) -> list[str] | None:
    """The terms of X in "What does (the) X do?" (at most three), else None."""
    return _subject(_WHAT_DOES, question)


# "What is the difference between a package and a library in R?": what the sentences saying
# what each is answer.
_DIFFERENCE = re.compile(
    r"^\W*what(?:'s|\s+is)\s+the\s+differences?\s+between\s+(.{1,40}?)\s+and\s+(.{1,40}?)"
    r"(?:\s+(?:in|for|on|of|when|with)\s+[^?]{1,40})?\W*$",
    re.IGNORECASE,
)


def difference_subjects(question: str) -> tuple[list[str], list[str]] | None:
    """The terms of X and of Y in "What is the difference between X and Y (in Z)?" (at most
    three each), else None."""
    match = _DIFFERENCE.match(question)
    if match is None:
        return None
    first, second = terms(match.group(1)), terms(match.group(2))
    if not (0 < len(first) <= WHAT_IS_MAX_TERMS and 0 < len(second) <= WHAT_IS_MAX_TERMS):
        return None
    return first, second


def _subject(pattern: re.Pattern[str], question: str) -> list[str] | None:
    match = pattern.match(question)
    if match is None:
        return None
    subject = terms(match.group(1))
    return subject if 0 < len(subject) <= WHAT_IS_MAX_TERMS else None


def names_wholly(subject: list[str], title: str | None, filename: str) -> bool:
    """Whether ``subject`` is a document's whole title or file name, or one of the names its
    title joins with "and", but for the kind of document, its version and its language
    ("Octave" of octave.pdf, "camlidl" of camlidl-1.04.doc.pdf, "nauty" of "nauty and Traces
    User's Guide (Version 2.8.6)"; "Debian" is not the whole of debian-faq.pdf, whose FAQ
    answers "What is Debian?")."""
    stem = _LANGUAGE_SUFFIX.sub("", filename.rsplit(".", 1)[0])
    names = [re.sub(r"[-_.]", " ", stem), title or ""]
    parts = _CONJUNCTION.split(title or "")
    if len(parts) > 1:
        names += parts
    asked = set(subject)
    bare = _bare(asked)
    return any(
        set(said) == asked or (bare and _bare(set(said)) == bare)
        for said in map(terms, names)
        if said
    )


def _bare(name: set[str]) -> set[str]:
    """A name without its kind of document and its version ("camlidl 1 04 doc": camlidl)."""
    return {t for t in name if t not in _KIND_OF_NAME | _VERSION_WORDS and not t.isdigit()}


# "X is a …", "X are the …": the sentence that says what X is.
_DEFINITION = re.compile(
    r"(?:(?:the|a|an)\s+)?(.{1,60}?)\s+(?:is|are)\s+(?:a|an|the|one)\b", re.IGNORECASE
)
# "X provides …", "The X command reads …": the sentence that says what X does.
_ACTION = re.compile(r"(?:(?i:the|a|an)\s+)?(.{1,60}?)\s+(?:is|are|[a-z]+[^s\W]s)\b")
_ASIDE = re.compile(r"\s*\([^)]*\)")
# What kind of thing a subject is, which a sentence may or may not say: "the geng program".
_KIND_OF_THING = frozenset(
    terms("program command tool utility option function routine script builtin")
)


def defines(subject: list[str], text: str) -> bool:
    """Whether a sentence of ``text`` says what ``subject`` (its terms) is: "nauty (no
    automorphisms, yes?) is a set of procedures …", "The Bash shell is a …"."""
    return _opens_on(subject, text, _DEFINITION)


def says_what_it_does(subject: list[str], text: str) -> bool:
    """Whether a sentence of ``text`` opens on ``subject`` and a verb: "lilypond-book provides
    a way to automate this process", "The geng program generates small graphs"."""
    return _opens_on(subject, text, _ACTION)


def _opens_on(subject: list[str], text: str, pattern: re.Pattern[str]) -> bool:
    asked = set(subject) - _KIND_OF_THING
    for sentence in sentences(text):  # a heading is a line, and a sentence, of its own
        found = pattern.match(_ASIDE.sub("", sentence.text))
        if found and set(terms(found.group(1))) - _KIND_OF_THING == asked:
            return True
    return False


def overview_names(subject: list[str], names: list[str]) -> list[int]:
    """Which of these document names (title and file name) an overview's ``subject`` picks:
    those with all its terms; else, when only kinds of document ("the slides", "the paper")
    are not in any, those with the rest; else all (nothing named a document)."""
    every = list(range(len(names)))
    named = [i for i in every if names_document(subject, names[i])]
    if named or not subject:
        return named or every
    specific = [t for t in subject if t not in DOCUMENT_KINDS]
    if len(specific) == len(subject):
        return []  # words of a subject, not of a document: the question is to be searched
    return [i for i in every if names_document(specific, names[i])] if specific else every


def names_document(subject: list[str], name: str) -> bool:
    """Whether a document's name (its title and file name) has every term of an overview's
    ``subject``: "Summarize the R FAQ" names "R FAQ" and "R-FAQ.pdf"."""
    said = terms(re.sub(r"[-_.]", " ", name))
    return all(any(same_term(asked, t) for t in said) for asked in subject)


# "What date is on the letter?" of letter.pdf, "… according to the package lifecycle
# diagram" of package-lifecycle.pdf: a document named by its whole title or file name, after a
# word that points at one thing. Common words make such a name only if there are two of them or
# the one says a kind of document: "the data" does not name data.pdf.
_POINTING = frozenset(["the", "this", "that", "these", "those", "your", "my", "our"])
_NAME_MAX_TERMS = 4
_NAMED_KINDS = DOCUMENT_KINDS | frozenset(
    terms("letter memo contract agreement invoice diagram brochure leaflet newsletter poster")
)
# A file's extension and language ("letter.pdf", "project-history.en" in a title's brackets).
_FILE_SUFFIX = re.compile(r"(\.[a-z]{2}(?:[-_][a-z]{2,4})?)?(\.pdf)?$", re.IGNORECASE)
_BRACKETED = re.compile(r"^(.*?)\s*\(([^()]*)\)$")


def points_at_a_document(question: str) -> bool:
    """Whether the question may name a document by its title or file name (``says_the_name``):
    a pointing word and, within the next few words, a kind of document ("the letter", "the
    package lifecycle diagram", "this R FAQ"). Cheap: it tells whether to look at the names."""
    spoken = words(question)
    return any(
        word in _POINTING and any(_says_a_kind(w) for w in spoken[i + 1 : i + 6])
        for i, word in enumerate(spoken)
    )


# …and the words for any document, which are no terms ("the project history document").
_ANY_DOCUMENT = frozenset(["document", "file", "pdf"])


def _says_a_kind(word: str) -> bool:
    return word in _ANY_DOCUMENT or term_of(word) in _NAMED_KINDS


def says_the_name(question: str, name: str) -> bool:
    """Whether the question says a document's whole name (its title, or its file's name that
    storage.search.document_name puts in brackets) after a pointing word."""
    spoken = words(question)
    bracketed = _BRACKETED.match(name)
    for part in bracketed.groups() if bracketed else (name,):
        named = terms(_FILE_SUFFIX.sub("", part).replace("-", " ").replace("_", " "))
        if not 0 < len(named) <= _NAME_MAX_TERMS or (
            len(named) == 1 and named[0] not in _NAMED_KINDS
        ):
            continue
        for start, word in enumerate(spoken[:-1]):
            said = [term_of(w) for w in spoken[start + 1 : start + 1 + len(named)]]
            if word in _POINTING and said == named:
                return True
    return False


PROSE_MIN_WORDS = 8
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")


def is_contents(text: str) -> bool:
    """Whether a passage is (part of) a table of contents: dots between titles and their
    pages, more than once. Its lines hold the words of many questions and answer none."""
    return len(LEADERS.findall(text)) > 1


def reads_as_prose(text: str) -> bool:
    """Whether a passage has a sentence of some length and is no table of contents: what can
    say what a document is about."""
    if is_contents(text):
        return False
    return any(
        word_count(s) >= PROSE_MIN_WORDS and s[-1] in SENTENCE_ENDS and not LEADERS.search(s)
        for s in _SENTENCE_END.split(" ".join(text.split()))
        if s
    )
