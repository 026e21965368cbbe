"""The language a question is written in, so that it is answered and refused in it.

Chinese, Japanese and Korean are told by their scripts (``core.cjk``). Questions in the
languages of Europe that share English's letters are told by their words: each language's
Zipf frequencies (wordfreq's small lists: every word used at least once in a million) are
summed over the question's words, and the language whose words they are most of wins, if it
beats English clearly. "Comment bloquer un paquet avec synaptic ?" is French; "What is
lilypond?" stays English although "is" is Dutch too. A question written mostly in Cyrillic is
Russian or Ukrainian, told apart the same way; one mostly in another script (Greek, Arabic,
Hebrew …) is none of these, whatever Latin names it holds ("Debian" is a Spanish word too).

Also here: the function words of those languages ("de", "la", "und", "welche"), which are not
what a question is about, and whether a language knows a word, in any of its forms.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import wordfreq

from core import cjk

# The languages told apart by their words besides English, each with a refusal
# (llm.local.NOT_FOUND_IN): those written in English's letters, and those in Cyrillic.
LATIN_LANGUAGES = ("fr", "de", "es", "it", "pt", "nl")
CYRILLIC_LANGUAGES = ("ru", "uk")
WORD_LANGUAGES = LATIN_LANGUAGES + CYRILLIC_LANGUAGES
# How much more a language's words must weigh than English's, in Zipf points summed over the
# question: over ops/eval's 581 English questions the closest other language came within 2.0
# ("What is lilypond?", Dutch); the French and German questions of docs/evaluation.md's eighth
# round lead by 7.6 and more.
MARGIN = 3.0
# A word at least this frequent in one of WORD_LANGUAGES is one of its function words ("de",
# "les", "und", "über", "più"); a little less frequent ones are already words a question may
# be about ("famille", "Deutschland").
FUNCTION_ZIPF = 6.0
# …and the words that ask, which English's QUESTION_WORDS and stopwords hold for English.
QUESTION_WORDS = {
    "fr": "comment combien quel quelle quels quelles pourquoi quand où qui que quoi lequel laquelle"
    " faut peut",
    "de": "wie was welche welcher welches welchen welchem warum wann wo wer wieviel wieviele viele"
    " kann man ich",
    "es": "cómo qué cuál cuáles cuándo dónde quién quiénes cuánto cuánta cuántos cuántas puedo",
    "it": "come cosa che quale quali quando dove chi quanto quanti quante perché posso",
    "pt": "como que qual quais quando onde quem quanto quantos quantas porque posso",
    "nl": "hoe wat welke welk waarom wanneer waar wie hoeveel kan",
    "ru": "как что какой какая какое какие каков почему когда где куда кто сколько чей чем"
    " можно ли",
    "uk": "як що який яка яке які чому коли де куди хто скільки чий чим можна чи",
}
# A word a language's list lacks is one of its forms if a word of the list starts with the
# same six letters ("téléchargées" of "télécharger", "Fehlerbericht" of "Fehler"), as
# llm._text.same_term reads a shared start.
FORM_PREFIX = 6
# The shortest part of a compound: "Paket" of "Paketarchiven" is one; "gnu" of "gnuplot" is
# too short to tell a name made of two words from a compound.
MIN_PART = 4

# Whole words of letters: not the parts of a name like "apt-cacher", "m68k" or "/var".
_WORD = re.compile(r"(?<![\w/.-])[^\W\d_]+(?![\w/-])")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_CYRILLIC_LETTER = re.compile(r"[\u0400-\u04ff]")


@cache
def frequencies(language: str) -> dict[str, float]:
    """wordfreq's small list of ``language``: a few MB in memory, read in about 10 ms."""
    return wordfreq.get_frequency_dict(language, wordlist="small")


def zipf(word: str, language: str) -> float:
    """The word's Zipf frequency in ``language``; 0 for a word used less than once in a
    million (which the small list leaves out)."""
    frequency = frequencies(language).get(word)
    return wordfreq.freq_to_zipf(frequency) if frequency else 0.0


@lru_cache(maxsize=1024)  # an answer asks it of its question several times
def language(text: str) -> str | None:
    """ "zh", "ja", "ko" or one of WORD_LANGUAGES; None for English, or a language not told
    apart."""
    found = cjk.language(text)
    if found is not None or cjk.has_cjk(text):
        return found
    # By its words' scripts, not its letters': "ما هو Debian؟" is not Latin for one name.
    words = _WORD.findall(text)
    latin = sum(bool(_LATIN_LETTER.match(w)) for w in words)
    if latin * 2 >= len(words):
        return _by_words(text, LATIN_LANGUAGES, against_english=True)
    if sum(bool(_CYRILLIC_LETTER.match(w)) for w in words) * 2 > len(words):
        return _by_words(text, CYRILLIC_LANGUAGES, against_english=False) or "ru"
    return None


def _by_words(text: str, candidates: tuple[str, ...], *, against_english: bool) -> str | None:
    """The candidate whose words ``text``'s words are most of (the first on a tie); None when
    none beats English by MARGIN, if it must."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return None
    scores = {lang: sum(zipf(w, lang) for w in words) for lang in candidates}
    best = max(scores, key=scores.__getitem__)
    english = sum(zipf(w, "en") for w in words) if against_english else 0.0
    return best if scores[best] - english >= MARGIN else None


@cache
def function_words(language: str | None) -> frozenset[str]:
    """The function and question words of one of WORD_LANGUAGES; none for another language
    (English's are retrieval.STOPWORDS and llm._text.QUESTION_WORDS)."""
    if language not in WORD_LANGUAGES:
        return frozenset()
    common = (
        word
        for word, frequency in frequencies(language).items()
        if wordfreq.freq_to_zipf(frequency) >= FUNCTION_ZIPF and word.isalpha()  # not "2"
    )
    return frozenset(common) | frozenset(QUESTION_WORDS[language].split())


@cache
def _starts(language: str) -> frozenset[str]:
    return frozenset(w[:FORM_PREFIX] for w in frequencies(language) if len(w) >= FORM_PREFIX)


def knows(word: str, language: str) -> bool:
    """Whether ``language`` uses the lower-case ``word`` at least once in a million words, or
    a word it shares six letters with (an inflected form of a common word: "téléchargées",
    "heruntergeladenen"), or two such words one after the other (a compound:
    "Paketarchiven", "Fehlerbericht")."""
    return _knows_form(word, language) or any(
        word[:cut] in frequencies(language) and _knows_form(word[cut:], language)
        for cut in range(MIN_PART, len(word) - MIN_PART + 1)
    )


def _knows_form(word: str, language: str) -> bool:
    if word in frequencies(language):
        return True
    return len(word) > FORM_PREFIX and word[:FORM_PREFIX] in _starts(language)
