"""A Chinese PDF on the real stack: lines wrapped mid-word are joined, full text finds its
words (character pairs, migration 020), and chat answers a Chinese question from the sentence
that says it, with its page; asked what the document is about, it quotes its opening."""

from __future__ import annotations

import asyncio

import pytest

import pdfgen
from cli.client import PdfchatClient
from tests.stack.answers import ask

pytestmark = pytest.mark.stack

MANUAL = [
    [
        ("h1", "第一章 系统概述"),
        (
            "p",
            "本手册介绍星河数据库的安装、配置与日常运维。星河数据库是一款面向分析场景的分布式列式"
            "数据库，支持标准 SQL 查询。默认情况下，一个集群至少需要三个存储节点。",
        ),
    ],
    [
        ("h1", "第二章 安装与配置"),
        (
            "p",
            "配置文件位于 /etc/xinghe/server.conf。数据库的最大连接数由参数 max_connections "
            "控制，默认值为 500。如果需要修改监听端口，请设置参数 listen_port，默认端口为 7788。"
            "修改配置后必须重启服务才能生效。",
        ),
    ],
    [
        ("h1", "第三章 备份与恢复"),
        (
            "p",
            "全量备份建议每周执行一次，增量备份建议每天执行一次。备份文件默认保留 30 天，过期后由"
            "后台任务自动删除。恢复数据时，目标集群的版本必须与备份时的版本一致。",
        ),
    ],
]


@pytest.fixture
async def manual(api, tenant) -> tuple[PdfchatClient, str]:
    client = api(tenant)
    pdf = pdfgen.cjk_pdf(MANUAL, title="星河数据库运维手册")
    document_id = (await client.upload(pdf, "xinghe.pdf"))["document_id"]
    async with asyncio.timeout(90):
        views = await client.wait_for([document_id])
    assert views[document_id]["status"] == "ready", views
    return client, document_id


async def test_a_chinese_question_is_answered_with_its_page(manual) -> None:
    client, _ = manual
    asked = {
        "数据库的最大连接数是多少？": ("默认值为 500", 2),
        "备份文件保留多久？": ("保留 30 天", 3),
        "集群至少需要几个存储节点？": ("三个存储节点", 1),
    }
    for question, (answer, page) in asked.items():
        text, cited = await ask(client, question)
        assert answer in text and {p for _, p in cited} == {page}, (question, text, cited)


async def test_full_text_finds_chinese_words_in_wrapped_lines(manual) -> None:
    client, _ = manual
    # "修改配置" is split over two lines on page 2 ("修改配\n置后"); joined with a space, the
    # text would read "修改配 置后" and its pair "配置" would be lost.
    found = await client.search("修改配置", top_k=3, mode="text")
    assert found and found[0]["page"] == 2
    assert "修改配置后必须重启服务才能生效" in found[0]["text"]


async def test_a_chinese_question_about_the_document_quotes_its_opening(manual) -> None:
    client, _ = manual
    text, cited = await ask(client, "这份文档讲的是什么？")
    assert text.startswith("本手册介绍星河数据库的安装、配置与日常运维。") and 1 in {
        p for _, p in cited
    }


async def test_a_chinese_question_the_manual_does_not_answer_is_refused(manual) -> None:
    client, _ = manual
    text, cited = await ask(client, "如何配置 SSL 加密？")
    assert text.startswith("在您的文档中找不到这个问题的答案。") and not cited  # in Chinese
