"""CJK runs read as character pairs (core.cjk), as full text in PostgreSQL reads them."""

from __future__ import annotations

import pytest

from core import cjk


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("数据库", ["数据", "据库"]),
        ("天", ["天"]),  # a lone character is a word of its own
        ("保留 30 天", ["保留", "30", "天"]),
        ("pdf文件 版本4", ["pdf", "文件", "版本", "4"]),  # Latin and CJK apart inside a word
        ("かな漢字", ["かな", "な漢", "漢字"]),
        ("한국어", ["한국", "국어"]),
        ("Plain English, as before!", ["plain", "english", "as", "before"]),
        ("", []),
    ],
)
def test_words_read_cjk_runs_as_pairs(text: str, expected: list[str]) -> None:
    assert cjk.words(text) == expected


def test_text_without_cjk_is_read_as_any_script_was() -> None:
    text = "Déjà vu: naïve café, 3.5 mm (x_y)"
    assert cjk.words(text) == ["déjà", "vu", "naïve", "café", "3", "5", "mm", "x", "y"]
    assert not cjk.has_cjk(text) and cjk.has_cjk("a 字")


def test_a_line_wrapped_inside_cjk_text_joins_without_a_space() -> None:
    assert cjk.CJK_WRAPS.sub("", "重启服\n务，\n下一 \n 行") == "重启服务，下一行"
    assert cjk.CJK_WRAPS.sub("", "word\n字 字\nword") == "word\n字 字\nword"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("数据库的最大连接数是多少？", "zh"),
        ("最大接続数はいくつですか？", "ja"),
        ("최대 연결 수는 얼마입니까?", "ko"),
        ("SSL怎么配置？", "zh"),
        ("systemd-analyze blame 的结果按什么顺序排列？", "zh"),  # more letters than characters
        ("equivs 是哪一年加入 Debian 的？", "zh"),
        ("How is 数据库 configured in production?", None),  # mostly English
        ("What is the default port?", None),
    ],
)
def test_the_language_a_question_is_written_in(text: str, language: str | None) -> None:
    assert cjk.language(text) == language
