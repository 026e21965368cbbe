"""Chat through a paid model end to end: the worker runs with an OpenAI model first and the
local one as fallback, the OpenAI client library talking to a local server that speaks its
streaming protocol. The answer streams from that model with citations from its [n] markers and
is priced; a failing model falls back; a tenant whose budget cannot pay for it is routed to
the free model."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr

import pdfgen
from storage import usage
from storage.usage import Entry
from tests.llm.fake_chat_apis import FakeChatAPIs
from tests.retrieval.fake_apis import API_KEY
from tests.stack.restart import apps_with
from tests.stack.test_chat import HANDBOOK
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

PAID = "openai:gpt-4o-mini"


async def _answer(client, question: str) -> list[dict]:
    started = await client.chat(question)
    async with asyncio.timeout(60):
        return [m async for m in client.answer(started["stream_session_id"])]


def _text(messages: list[dict]) -> str:
    return "".join(m["content"] for m in messages if m["type"] == "token")


async def test_a_paid_model_answers_falls_back_and_is_budgeted(stack, settings, api, tenant, db):
    client = api(tenant)
    created = await client.upload(pdfgen.text_pdf(HANDBOOK), "handbook.pdf")
    async with asyncio.timeout(90):
        await client.wait_for([created["document_id"]])
    with FakeChatAPIs() as fake:
        fake.replies["gpt-4o-mini"] = "The lighthouse was built in 1871 [1]."
        paid_first = settings.model_copy(
            update={
                "chat_models": f"{PAID},local:extractive",
                "tenant_budget_usd": 1.0,
                "openai_api_key": SecretStr(API_KEY),
                "openai_base_url": f"{fake.url}/v1",
                "chat_retry_max_s": 0.05,
                "chat_breaker_failures": 100,
            }
        )
        with apps_with(stack, paid_first):
            answer = await _answer(client, "When was the lighthouse at Gull Point built?")
            assert _text(answer) == "The lighthouse was built in 1871 [1]."
            assert len([m for m in answer if m["type"] == "token"]) > 3  # streamed, not whole
            citations, end = answer[-2], answer[-1]
            assert [(c["document_id"], c["page"]) for c in citations["items"]] == [
                (created["document_id"], 1)
            ]
            assert "1871" in citations["items"][0]["quote"]
            assert end["usage"]["model"] == PAID
            assert end["usage"]["tokens_in"] > 1000 and end["usage"]["cost_usd"] > 0
            prompt = " ".join(m["content"] for m in fake.calls("gpt-4o-mini")[-1].body["messages"])
            assert "Gull Point" in prompt and "[1]" in prompt  # the evidence, numbered

            fake.fail_always("gpt-4o-mini", 500)
            fallback = await _answer(client, "Who keeps the light at Gull Point?")
            assert fallback[-1]["usage"]["model"] == "local:extractive"
            assert "Martha Quayle" in _text(fallback)
            fake.heal("gpt-4o-mini")

            # All but a hundredth of a cent spent: the paid model no longer fits the budget.
            await usage.record(
                db,
                Entry(
                    id=uuid.uuid4(),
                    tenant_id=tenant,
                    user_id="tester",
                    conversation_id=None,
                    model=PAID,
                    tokens_in=0,
                    tokens_out=0,
                    cost_usd=Decimal("0.9999"),
                    recorded_at=datetime.now(UTC),
                ),
            )
            calls = len(fake.calls("gpt-4o-mini"))
            routed = await _answer(client, "When does the night train leave?")
            assert routed[-1]["usage"]["model"] == "local:extractive"
            assert "21:40" in _text(routed)
            assert len(fake.calls("gpt-4o-mini")) == calls  # not even tried

            async def requests_by_model() -> dict[str, int]:
                return {m["model"]: m["requests"] for m in (await client.usage())["by_model"]}

            async def all_accounted() -> bool:  # the accounting agent writes the ledger
                return await requests_by_model() == {PAID: 2, "local:extractive": 2}

            await wait_until(all_accounted, within_s=30)
            spent = {m["model"]: m for m in (await client.usage())["by_model"]}
            assert spent[PAID]["cost_usd"] > 0.9999 and spent["local:extractive"]["cost_usd"] == 0
