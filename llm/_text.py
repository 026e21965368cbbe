"""Offline text helpers shared by the prompt pipeline, the citations and the local provider:
a token estimate, sentence spans and content terms. No downloads, no models, microseconds."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from core import cjk, languages
from retrieval import STOPWORDS

# Words, numbers, CJK/kana/hangul characters one by one, and any other visible character.
_PIECE = re.compile(rf"[{cjk.CJK_CLASS}]|[^\W\d_]+|\d+|\S")
_WORD = re.compile(r"[^\W_]+")
_SPACED_WORD = re.compile(f"[^\\s{cjk.CJK_CLASS}]+")
# Chat formats wrap each message in a few tokens of their own (role, separators).
MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    """A BPE token count estimate that needs no tokenizer files (tiktoken downloads its).

    Rules, from how GPT/Command-style BPE vocabularies split text: a word of up to 7 letters
    is one token and every further 5 letters one more; digits go three to a token; every
    CJK character and every punctuation mark or symbol is a token. On English prose this is
    about 1.3 tokens per word, 5-15 % above what cl100k/o200k count, which is the side to err
    on: a fitted prompt must stay inside the window.
    """
    total = 0
    for piece in _PIECE.findall(text):
        if len(piece) == 1 or cjk.CJK_CHAR.match(piece):
            total += 1
        elif piece.isdigit():
            total += math.ceil(len(piece) / 3)
        else:
            total += 1 + max(0, math.ceil((len(piece) - 7) / 5))
    return total


def message_tokens(content: str) -> int:
    return estimate_tokens(content) + MESSAGE_OVERHEAD_TOKENS


def truncate_to_tokens(text: str, budget: int) -> str:
    """The longest prefix of ``text``, cut at a word boundary, whose estimate fits ``budget``."""
    if estimate_tokens(text) <= budget:
        return text
    words = re.findall(r"\S+\s*", text)
    lo, hi = 0, len(words)
    while lo < hi:  # binary search on the number of words kept
        mid = (lo + hi + 1) // 2
        if estimate_tokens("".join(words[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return "".join(words[:lo]).rstrip()


# ---------------------------------------------------------------------------------------------
# Sentences

# What closes a sentence, in Latin and CJK scripts.
SENTENCE_ENDS = ".!?。！？"
# A sentence ends at . ! ? (or their CJK forms) followed by space or the end, or at a newline;
# not after an abbreviation ("e.g. the") or a name's initial ("David M. Smith"), where a quote
# would end mid-sentence.
_SENTENCE = re.compile(r"[^\n]*?(?:[.!?](?=\s|$)|[。！？]|\n|$)")
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|vs|cf|viz|approx|incl|resp|ca|al|Fig|Figs|Eq|Sec|Ch|No|Nos|Vol|pp?"
    r"|Dr|Mr|Mrs|Ms|Prof|St)|\b[A-Z][a-z]+ [A-Z])\.$"
)
# Initials in a row ("see W. R. Pearson and D. J. Lipman"): none of them ends a sentence, where
# a lone capital after a lower-case word may ("Questions about R.").
_INITIAL = re.compile(r"(?<![\w.])[A-Z]\.$")
_INITIAL_BEFORE = re.compile(r"(?<![\w.])[A-Z]\. [A-Z]\.$")
_INITIAL_AFTER = re.compile(r"\s+[A-Z]\.\s")
# Nor where what follows goes on with the same sentence: "(or terminal, or PC. . . ), and you
# type gp" is one sentence, not one ending at "PC. . ." and another opening on "), and".
_GOES_ON = re.compile(r"(?:\s*\.)*\s*[),;]")


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str


def sentences(text: str) -> list[Span]:
    """Non-blank sentences of ``text`` with their offsets; ``span.text`` is verbatim."""
    spans: list[Span] = []
    start: int | None = None  # of a sentence that went on past an abbreviation
    for match in _SENTENCE.finditer(text):
        raw = match.group()
        stripped = raw.strip()
        if start is None:
            if not stripped:
                continue
            start = match.start() + (len(raw) - len(raw.lstrip()))
        end = match.start() + len(raw.rstrip())
        if not raw.endswith("\n") and (
            _ABBREVIATION.search(text, start, end)
            or _among_initials(text, start, end)
            or _GOES_ON.match(text, end)
        ):
            continue  # goes on in the next match
        sentence = text[start:end]
        if _WORD.search(sentence):
            spans.append(Span(start, end, sentence))
        start = None
    if start is not None and _WORD.search(text[start:].rstrip()):
        spans.append(Span(start, len(text.rstrip()), text[start:].rstrip()))
    return spans


def _among_initials(text: str, start: int, end: int) -> bool:
    if not _INITIAL.search(text, start, end):
        return False
    return bool(_INITIAL_BEFORE.search(text, start, end) or _INITIAL_AFTER.match(text, end))


# ---------------------------------------------------------------------------------------------
# A table of contents' dots between a title and its page ("1.2 Obtaining this document . . . 1").
LEADERS = re.compile(r"(?:\.\s?){4,}")


# Terms

# Words that carry the shape of a question, not its topic (on top of retrieval's stopwords).
_QUESTION_WORDS = """also and anything does document documents else explain describe get gets give
    happen happens kind know list long many mean means much please say says show take takes
    tell thing things way whats something"""
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())
# A follow-up that leans on the previous question ("and what does it cost?").
_ANAPHORA = "it its they them their this that these those he she him her his there such same"
ANAPHORA = frozenset(_ANAPHORA.split())


# Snowball (Porter 2) for English: "baked" ~ "bake", "keeps" ~ "keep", "degrees" ~ "degree".
_STEMMER = snowballstemmer.stemmer("english")
# …and Snowball's Russian for words in Cyrillic, which no English stemmer reads: "пакетов" ~
# "пакеты" (packages), "году" ~ "год" (year). Ukrainian words are read with it too, roughly.
_CYRILLIC_STEMMER = snowballstemmer.stemmer("russian")
_CYRILLIC = re.compile("[\u0400-\u04ff]")


# British spellings read as American ones, so that "licence" answers a question about a
# "license" and "colour" one about "color" (a question and its passages are read alike, so a
# word that has one spelling only, "otherwise" read "otherwize", changes nothing).
_BRITISH_WORDS = {
    "licence": "license",
    "licences": "licenses",
    "defence": "defense",
    "offence": "offense",
    "pretence": "pretense",
    "grey": "gray",
    "programme": "program",
    "programmes": "programs",
    "cheque": "check",
    "aluminium": "aluminum",
}
_BRITISH_ENDING = re.compile(
    r"(?:(?<=[a-z]{3})(our)(?:s|ed|ing|ite|ites|able|ably|ful|al|er|ers)?"
    r"|(?<=[a-z]{2})(is)(?:e|es|ed|ing|ation|ations|er|ers)"
    r"|(?<=[a-z]{2})(ys)(?:e|es|ed|ing|er|ers)|(?<=[a-z]{2})(tre)s?|(?<=[a-z]{3})(ogue)s?)$"
)
_AMERICAN_ENDING = {"our": "or", "is": "iz", "ys": "yz", "tre": "ter", "ogue": "og"}


@lru_cache(maxsize=32768)
def term_of(word: str) -> str | None:
    """The term a lower-case word counts as, or None for a stopword or question word."""
    if word in STOPWORDS or word in QUESTION_WORDS:
        return None
    if word.isdigit():
        return word
    if _CYRILLIC.search(word):
        stem: str = _CYRILLIC_STEMMER.stemWord(word)
    else:
        stem = _STEMMER.stemWord(american(word))
    return stem


def american(word: str) -> str:
    """The American spelling of a lower-case British one ("colour" → "color", "organised" →
    "organized", "centre" → "center"); any other word as it is."""
    if word in _BRITISH_WORDS:
        return _BRITISH_WORDS[word]
    ending = _BRITISH_ENDING.search(word)
    if ending is None:
        return word
    british = next(group for group in ending.groups() if group)
    start = ending.start()
    return word[:start] + _AMERICAN_ENDING[british] + word[start + len(british) :]


# Chinese question phrases ("多少", "什么") and function characters ("的", "是"), cut out of
# a run before it is read as character pairs (core.cjk): "数据库的最大连接数是多少" gives
# 数据 据库 最大 大连 连接 接数, the words a passage shares with it, and not "库的" or "是多",
# which no passage has and which would weigh most as terms no sentence holds.
_CJK_FUNCTION = re.compile(
    "什么时候|什么|多少|哪些|哪个|哪里|哪儿|怎么样|怎么|怎样|如何|为什么|为何|是否|请问|多久"
    "|多长时间|多长|多大|何时|几|应该|可以|能否|能不能|是不是|有没有|会不会|一下"
    "|[的了是吗呢吧啊呀和与及或在把被都也]"
)


def word_count(text: str) -> int:
    """Words as a reader counts them for length: each CJK character is one, since those
    scripts run words together (a sentence of 30 characters is about as long as one of 20
    English words)."""
    return len(_SPACED_WORD.findall(text)) + len(cjk.CJK_CHAR.findall(text))


# Japanese writes its particles, endings and auxiliaries in hiragana ("最大接続数はいくつですか"),
# the words a passage shares with a question mostly in kanji and katakana: hiragana runs are
# cut out too.
_HIRAGANA = re.compile("[\u3040-\u309f]+")


def words(text: str) -> list[str]:
    """Lower-case words of ``text``; a CJK run as its character pairs, cut at its function
    characters and hiragana."""
    return cjk.words(_cut(text))


def cjk_runs(text: str) -> list[str]:
    """The CJK runs of ``text``, in order, cut at function characters as ``words`` cuts them."""
    return cjk.CJK_RUN.findall(_cut(text))


def pair_runs(text: str) -> list[list[str]]:
    """The character pairs of each CJK run of ``text``, in order, as ``words`` cuts them."""
    return [cjk.bigrams(run) for run in cjk_runs(text)]


def _cut(text: str) -> str:
    if not cjk.has_cjk(text):
        return text
    return _HIRAGANA.sub(" ", _CJK_FUNCTION.sub(" ", text))


def terms(text: str) -> list[str]:
    """Content words of ``text``, lower case, lightly stemmed, in order."""
    return [t for w in words(text) if (t := term_of(w)) is not None]


def question_words(question: str) -> list[str]:
    """The words of a question that may say what it is about: in French, German, Spanish,
    Italian, Portuguese, Dutch, Russian or Ukrainian, without that language's function and
    question words ("de", "la", "combien", "welche"), which English's stopwords do not hold and
    every sentence of a passage in that language has; and without the word "year" beside a
    year."""
    own = languages.function_words(languages.language(question))
    found = [w for w in words(question) if w not in own]
    # "in the year 2010", "в 2010 году": the year says it; passages write "in 2010".
    return [
        w
        for i, w in enumerate(found)
        if not (w in _YEAR_WORDS and any(YEAR.fullmatch(n) for n in found[i - 1 : i + 2]))
    ]


# A year as text says one: "2004", not "2,004", "10:2004" or "2004.1".
YEAR = re.compile(r"(?<![\w.,:/-])(1[5-9]\d\d|20\d\d)(?![\w.,:/-]\d|\w)")
# The word "year" in English, Russian, Ukrainian, French, German, Spanish, Italian,
# Portuguese and Dutch, as a question puts it beside a year.
_YEAR_WORD_LIST = "year году года год році рік année an jahr año anno ano jaar"
_YEAR_WORDS = frozenset(_YEAR_WORD_LIST.split())


def question_terms(question: str) -> list[str]:
    """``terms`` of a question (``question_words``)."""
    return [t for w in question_words(question) if (t := term_of(w)) is not None]


@lru_cache(maxsize=4096)
def term_set(text: str) -> frozenset[str]:
    """The terms of ``text`` as a set, remembered: the local model reads the same passages
    (and their titles and headings) answer after answer."""
    return frozenset(terms(text))


def same_term(a: str, b: str) -> bool:
    """Equal stems, or a shared 6-letter start ("employ-ee" ~ "employ-ment"): the light
    stemmer leaves derivations apart, and six common letters are rarely a coincidence."""
    if a == b:
        return True
    return len(a) >= 6 and len(b) >= 6 and a[:6] == b[:6] and a.isalpha() and b.isalpha()


def has_term(term: str, terms: frozenset[str]) -> bool:
    """``any(same_term(term, t) for t in terms)`` in two set lookups: the local model asks it
    of every query term against every sentence and passage of an answer's evidence."""
    if term in terms:
        return True
    return len(term) >= 6 and term.isalpha() and term[:6] in _starts(terms)


@lru_cache(maxsize=8192)
def _starts(terms: frozenset[str]) -> frozenset[str]:
    """The 6-letter starts ``same_term`` compares, of the terms it compares them for."""
    return frozenset(t[:6] for t in terms if len(t) >= 6 and t.isalpha())
