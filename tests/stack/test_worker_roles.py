"""Chat apart from ingestion: PDFCHAT_CHAT_WORKERS splits the agents between workers."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

import pdfgen
from tests.stack.processes import background, page_readers
from tests.stack.restart import workers_with
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

TIMEOUT_S = 120


def _health(stack, name: str) -> dict:
    return httpx.get(stack.apps[name].spec.health_url, trust_env=False).json()


async def test_chat_workers_answer_and_the_others_ingest_at_lower_priority(
    stack, settings, api, tenant
):
    split = settings.model_copy(update={"workers": 2, "chat_workers": 1, "ingest_nice": 7})
    with workers_with(stack, split):
        chat, ingest = _health(stack, "worker-1"), _health(stack, "worker-2")
        assert chat["role"] == "chat" and ingest["role"] == "ingest"
        assert "agents.orchestrator.orchestrate" in chat["agents"]
        assert not any("parse" in a or "embed" in a for a in chat["agents"])
        assert "agents.parse.parse_documents" in ingest["agents"]
        assert not any("orchestrat" in a for a in ingest["agents"])
        assert os.getpriority(os.PRIO_PROCESS, stack.pid("worker-1")) == 0
        assert os.getpriority(os.PRIO_PROCESS, stack.pid("worker-2")) == 7
        # Only a worker that parses has page readers (one per CPU by default).
        await wait_until(
            lambda: len(page_readers(stack, "worker-2")) == settings.parse_processes,
            within_s=TIMEOUT_S,
        )
        assert page_readers(stack, "worker-1") == []

        client = api(tenant)
        pdf = pdfgen.text_pdf(
            [
                [
                    ("h1", "Ferry Timetable"),
                    (
                        "p",
                        "The first ferry to Inchmore leaves the harbour at a quarter past seven.",
                    ),
                ]
            ]
        )
        document_id = (await client.upload(pdf, "ferry.pdf"))["document_id"]
        async with asyncio.timeout(TIMEOUT_S):
            views = await client.wait_for([document_id])
            assert views[document_id]["status"] == "ready"
            started = await client.chat("When does the first ferry leave?")
            messages = [m async for m in client.answer(started["stream_session_id"])]
        text = "".join(m["content"] for m in messages if m["type"] == "token")
        assert "quarter past seven" in text and messages[-1]["type"] == "end"
        # The ready document's encodings and topic map: in the ingest worker's background
        # process, at the lowest priority; the chat worker has none.
        await wait_until(lambda: len(background(stack, "worker-2")) == 1, within_s=TIMEOUT_S)
        assert background(stack, "worker-1") == []
