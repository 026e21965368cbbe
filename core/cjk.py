"""Chinese, Japanese and Korean text, whose words are not separated by spaces.

English-minded tools read a whole run of ideographs ("数据库的最大连接数是多少") as one word,
so no question ever shares a word with a passage. Here a run is read as its overlapping
character pairs ("数据", "据库", "库的", ...), as search engines without a dictionary do
(Lucene's CJK bigrams): a two-character word is one pair, a longer word its pairs in a row,
and no dictionary has to be shipped or loaded. A lone character stays a word of its own.

Full text in PostgreSQL does the same in SQL (``search_vector``, migration 020); the two must
agree, and ``CJK_CLASS`` is spelled once for both.
"""

from __future__ import annotations

import re

# Kana, CJK ideographs (with extension A and the compatibility block) and Hangul syllables,
# as a regular-expression class body that Python and PostgreSQL both read.
CJK_CLASS = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
CJK_CHAR = re.compile(f"[{CJK_CLASS}]")
CJK_RUN = re.compile(f"[{CJK_CLASS}]+")
# CJK text and its punctuation (、。「」 and the full-width forms ，：；！？): where a line
# wraps between two of these, no space was ever meant.
_CJK_TEXT = f"[{CJK_CLASS}\u3000-\u303f\uff00-\uffef]"
CJK_WRAPS = re.compile(f"(?<={_CJK_TEXT})[ \\t]*\\n[ \\t]*(?={_CJK_TEXT})")
# Letters and digits of any script, then CJK runs cut out of them.
_WORD = re.compile(r"[^\W_]+")
# What tells the three languages apart (``language``).
_KANA = re.compile("[\u3040-\u30ff]")
_HANGUL = re.compile("[\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def language(text: str) -> str | None:
    """ "zh", "ja" or "ko" for text written mostly in those scripts (kana makes it Japanese,
    Hangul Korean), else None. For replying in the asker's language, not for translation.

    A CJK word is about two characters, and a Chinese question names its programs in Latin
    letters ("systemd-analyze blame 的结果按什么顺序排列？"): characters are weighed against
    words of Latin letters, two to one."""
    cjk = len(CJK_CHAR.findall(text))
    if not cjk or cjk < 2 * len(_LATIN_WORD.findall(text)):
        return None
    if _HANGUL.search(text):
        return "ko"
    return "ja" if _KANA.search(text) else "zh"


def has_cjk(text: str) -> bool:
    return CJK_CHAR.search(text) is not None


def bigrams(run: str) -> list[str]:
    """A run of CJK characters as its overlapping pairs; a lone character as itself."""
    if len(run) < 2:
        return [run] if run else []
    return [run[i : i + 2] for i in range(len(run) - 1)]


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` in order, each run of CJK characters as its pairs."""
    found = _WORD.findall(text.lower())
    if not has_cjk(text):
        return found
    out: list[str] = []
    for word in found:
        if not has_cjk(word):
            out.append(word)
            continue
        # "版本4" or "pdf文件": the letters and the CJK pairs apart.
        start = 0
        for run in CJK_RUN.finditer(word):
            if run.start() > start:
                out.append(word[start : run.start()])
            out += bigrams(run.group())
            start = run.end()
        if start < len(word):
            out.append(word[start:])
    return out
