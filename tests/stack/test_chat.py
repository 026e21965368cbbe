"""Chat against the real stack: POST /v1/chat, the answer socket, resume, history, usage."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime

import httpx
import pytest
import websockets
from aiokafka import AIOKafkaProducer
from websockets.exceptions import ConnectionClosed

import pdfgen
import topics
from cli.client import PdfchatClient
from cli.processes import free_port
from cli.stack import AppProcess, AppSpec
from llm import NOT_FOUND
from storage import chat
from tests.records import INJECTED
from tests.rows import unrelayed_session
from tests.waiting import wait_until
from workflows.search import MAX_QUERY_CHARS

pytestmark = pytest.mark.stack

HANDBOOK = [
    [
        ("h1", "The Lighthouse at Gull Point"),
        (
            "p",
            "The lighthouse at Gull Point was built in 1871 from granite quarried on the island. "
            "Its lamp is lit every evening at sunset by the keeper, Martha Quayle, who has kept "
            "the light for nineteen years. The beam can be seen thirty kilometres out to sea.",
        ),
    ],
    [
        ("h1", "Baking Rye Bread"),
        (
            "p",
            "Rye bread needs a sourdough starter fed the night before. Mix four hundred grams of "
            "rye flour with the starter and warm water, then let the dough rise for three hours. "
            "Bake it at two hundred and twenty degrees for fifty minutes.",
        ),
    ],
    [
        ("h1", "The Night Train Timetable"),
        (
            "p",
            "The night train to Inverness leaves the central station at 21:40 every weekday. "
            "Sleeping cars must be booked two weeks in advance. The train carries a dining car "
            "that serves porridge at breakfast before the arrival at 07:15.",
        ),
    ],
]


@pytest.fixture
async def handbook(api, tenant) -> tuple[PdfchatClient, str]:
    client = api(tenant)
    created = await client.upload(pdfgen.text_pdf(HANDBOOK), "handbook.pdf")
    async with asyncio.timeout(90):
        views = await client.wait_for([created["document_id"]])
        assert views[created["document_id"]]["status"] == "ready", views
        # Answers are compared with earlier ones: the same ranking for both, the encoder's.
        await client.wait_until_encoded([created["document_id"]])
    return client, created["document_id"]


async def _messages(
    settings,
    token: str,
    session_id: str,
    *,
    last: int | None = None,
    port: int | None = None,
    stop_after: int | None = None,
) -> tuple[list[dict], int | None]:
    """The messages one socket delivers, and its close code."""
    query = f"?last_token_seq={last}" if last is not None else ""
    url = f"ws://127.0.0.1:{port or settings.web_port}/v1/chat/stream/{session_id}{query}"
    received: list[dict] = []
    async with (
        asyncio.timeout(60),
        websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as socket,
    ):
        try:
            async for raw in socket:
                received.append(json.loads(raw))
                if stop_after is not None and len(received) >= stop_after:
                    return received, None  # drops the connection mid-answer
        except ConnectionClosed:
            pass
        return received, socket.close_code


def _text(messages: list[dict]) -> str:
    return "".join(m["content"] for m in messages if m["type"] == "token")


async def test_an_answer_streams_with_citations_and_is_kept(settings, token, tenant, handbook):
    client, document_id = handbook
    started = await client.chat("When was the lighthouse at Gull Point built?")
    assert set(started) >= {"stream_session_id", "conversation_id"}
    messages, code = await _messages(settings, token(tenant), started["stream_session_id"])
    assert code == 1000
    kinds = [m["type"] for m in messages]
    assert kinds[-2:] == ["citations", "end"] and set(kinds[:-2]) == {"token"}
    assert len(kinds) > 5, "the answer arrives in many token messages"
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    answer = _text(messages)
    assert "1871" in answer
    items = messages[-2]["items"]
    assert items and {(i["document_id"], i["page"]) for i in items} == {(document_id, 1)}
    page_text = " ".join(HANDBOOK[0][1][1].split())
    assert all(" ".join(i["quote"].split()) in page_text for i in items), items
    assert all(f"[{i['marker']}]" in answer for i in items)  # each source named in the text
    usage = messages[-1]["usage"]
    assert usage["model"] == "local:extractive" and usage["cost_usd"] == 0
    assert usage["tokens_in"] > 0 and usage["tokens_out"] > 0

    kept = await client.conversation(started["conversation_id"])
    assert [m["role"] for m in kept["messages"]] == ["user", "assistant"]
    assert kept["messages"][1]["content"] == answer
    assert kept["messages"][1]["citations"] == items
    assert [m["found"] for m in kept["messages"]] == [None, True]


async def test_a_follow_up_uses_the_conversation(settings, token, tenant, handbook):
    client, _ = handbook
    first = await client.chat("How long must the rye bread dough rise?")
    await _messages(settings, token(tenant), first["stream_session_id"])
    follow = await client.chat(
        "And at what temperature is it baked?", conversation_id=first["conversation_id"]
    )
    assert follow["conversation_id"] == first["conversation_id"]
    messages, _ = await _messages(settings, token(tenant), follow["stream_session_id"])
    assert "two hundred and twenty degrees" in _text(messages)
    assert {i["page"] for i in messages[-2]["items"]} == {2}
    kept = await client.conversation(first["conversation_id"])
    assert [m["role"] for m in kept["messages"]] == ["user", "assistant"] * 2


# A manual whose pages on structs outnumber the evidence an answer reads, and one on unions.
IDL_MANUAL = [
    [
        ("h1", f"3.{n} Structs, part {n}"),
        (
            "p",
            f"CamlIDL maps a C struct to a Caml record. Each struct field {n} becomes a record "
            f"field of the Caml type, and the struct's name maps to the record's name {n}.",
        ),
    ]
    for n in range(1, 21)
] + [[("h1", "4 Unions"), ("p", "Discriminated unions become sum types, a constructor a case.")]]


async def test_a_follow_up_about_another_thing_finds_that_thing(settings, token, api, tenant):
    """ "And what about unions?" after a question about structs: searched with that question
    only, the struct pages would fill the evidence."""
    client = api(tenant)
    created = await client.upload(pdfgen.text_pdf(IDL_MANUAL), "camlidl.pdf")
    async with asyncio.timeout(90):
        await client.wait_for([created["document_id"]])
        await client.wait_until_encoded([created["document_id"]])
    first = await client.chat("How does CamlIDL map a C struct to Caml?")
    await _messages(settings, token(tenant), first["stream_session_id"])
    follow = await client.chat("And what about unions?", conversation_id=first["conversation_id"])
    messages, _ = await _messages(settings, token(tenant), follow["stream_session_id"])
    assert _text(messages).startswith("Discriminated unions become sum types"), messages
    assert {i["page"] for i in messages[-2]["items"]} == {21}
    # Longer than a search query may be (a question may be twice that): cut, not failed.
    long = "And what about unions" + "?" * (MAX_QUERY_CHARS + 100)
    follow = await client.chat(long, conversation_id=first["conversation_id"])
    messages, _ = await _messages(settings, token(tenant), follow["stream_session_id"])
    assert _text(messages).startswith("Discriminated unions become sum types"), messages


async def test_without_evidence_it_says_it_does_not_know(settings, token, tenant, handbook):
    client, _ = handbook
    started = await client.chat("What is the airspeed velocity of an unladen swallow?")
    messages, _ = await _messages(settings, token(tenant), started["stream_session_id"])
    assert _text(messages).strip() == NOT_FOUND.strip(), messages
    assert messages[-2]["items"] == []
    assert messages[-1]["found"] is False
    kept = await client.conversation(started["conversation_id"])
    assert [m["found"] for m in kept["messages"]] == [None, False]  # the page can mark it


async def test_resume_delivers_exactly_the_missing_tokens(settings, token, tenant, handbook):
    client, _ = handbook
    started = await client.chat("What does the dining car on the night train serve?")
    session_id = started["stream_session_id"]
    head, _ = await _messages(settings, token(tenant), session_id, stop_after=3)
    last = head[-1]["seq"]
    tail, code = await _messages(settings, token(tenant), session_id, last=last)
    assert code == 1000
    assert [m["seq"] for m in head + tail] == list(range(1, len(head) + len(tail) + 1))
    whole, _ = await _messages(settings, token(tenant), session_id, last=0)
    assert head + tail == whole
    assert "porridge" in _text(whole)
    # Everything delivered: a clear error, and the socket closes with 4410.
    done, code = await _messages(settings, token(tenant), session_id, last=whole[-1]["seq"])
    assert code == 4410 and done == [
        {"type": "error", "code": "stream_finished", "message": done[0]["message"]}
    ]


async def test_another_web_process_resumes_the_same_stream(settings, token, tenant, handbook):
    client, _ = handbook
    started = await client.chat("Who keeps the light at Gull Point?")
    session_id = started["stream_session_id"]
    head, _ = await _messages(settings, token(tenant), session_id, stop_after=2)
    other = settings.model_copy(update={"web_port": free_port()})
    url = f"http://127.0.0.1:{other.web_port}/healthz"
    second = AppProcess(
        other, AppSpec("web-second", [sys.executable, "-m", "web"], other.web_port, url)
    )
    await asyncio.to_thread(second.start)
    try:
        tail, code = await _messages(
            settings, token(tenant), session_id, last=head[-1]["seq"], port=other.web_port
        )
    finally:
        await asyncio.to_thread(second.stop)
    assert code == 1000
    assert [m["seq"] for m in head + tail] == list(range(1, len(head) + len(tail) + 1))
    assert "Martha Quayle" in _text(head + tail)


async def test_sockets_refuse_clearly(settings, token, tenant, handbook):
    client, _ = handbook
    started = await client.chat("When does the night train leave?")
    session_id = started["stream_session_id"]
    cases = [
        (token(f"other-{tenant}"), session_id, None, 4404, "unknown_session"),
        (token(tenant, user="someone-else"), session_id, None, 4404, "unknown_session"),
        (token(tenant), str(uuid.uuid4()), None, 4404, "unknown_session"),
        (token(tenant), "not-a-session", None, 4404, "unknown_session"),
        (token(tenant), session_id, "-1", 4400, "bad_last_token_seq"),
        (token(tenant), session_id, "abc", 4400, "bad_last_token_seq"),
        ("forged.token.value", session_id, None, 4401, "unauthenticated"),
    ]
    for bearer, target, last, want_code, want_error in cases:
        query = f"?last_token_seq={last}" if last is not None else ""
        url = f"ws://127.0.0.1:{settings.web_port}/v1/chat/stream/{target}{query}"
        async with (
            asyncio.timeout(30),
            websockets.connect(
                url, additional_headers={"Authorization": f"Bearer {bearer}"}
            ) as socket,
        ):
            message = json.loads(await socket.recv())
            with pytest.raises(ConnectionClosed):
                await socket.recv()
        assert (message["type"], message["code"]) == ("error", want_error), (target, last)
        assert message["message"]
        assert socket.close_code == want_code, (target, last)
    # The token may also come as a query parameter (browsers cannot set headers on sockets).
    url = (
        f"ws://127.0.0.1:{settings.web_port}/v1/chat/stream/{session_id}"
        f"?access_token={token(tenant)}"
    )
    async with asyncio.timeout(30), websockets.connect(url) as socket:
        first = json.loads(await socket.recv())
    assert first["type"] == "token", first


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"question": ""}, 400, "empty_question"),
        ({"question": "   "}, 400, "empty_question"),
        ({"question": "x" * 4001}, 400, "question_too_long"),
        ({"question": "hi", "conversation_id": "nope"}, 400, "bad_conversation_id"),
        ({"question": "hi", "conversation_id": str(uuid.uuid4())}, 404, "unknown_conversation"),
        ({"question": "hi", "document_ids": ["nope"]}, 400, "bad_document_id"),
        ({"question": "hi", "document_ids": [str(uuid.uuid4())]}, 404, "unknown_document"),
        ({"question": "hi", "model": "gpt-9"}, 400, "invalid_input"),
        ({"question": "hi", "sla": "instant"}, 400, "invalid_input"),
        ({"question": 42}, 400, "invalid_input"),
        ([], 400, "invalid_input"),
    ],
)
async def test_bad_questions_get_a_clear_error(settings, token, tenant, body, status, code):
    async with httpx.AsyncClient(base_url=settings.web_url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {token(tenant)}"}
        response = await http.post("/v1/chat", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_conversations_are_private(settings, token, tenant, handbook, api):
    client, document_id = handbook
    started = await client.chat("When was the lighthouse built?")
    await _messages(settings, token(tenant), started["stream_session_id"])
    stranger = api(f"other-{tenant}")
    with pytest.raises(Exception, match="unknown_conversation"):
        await stranger.conversation(started["conversation_id"])
    with pytest.raises(Exception, match="unknown_conversation"):
        await stranger.chat("and then?", conversation_id=started["conversation_id"])
    with pytest.raises(Exception, match="unknown_document"):
        await stranger.chat("what is in it?", document_ids=[document_id])


async def test_usage_is_accounted_per_tenant(settings, token, tenant, handbook, api):
    client, _ = handbook
    for question in ("When was the lighthouse built?", "When does the night train leave?"):
        started = await client.chat(question)
        await _messages(settings, token(tenant), started["stream_session_id"])

    async def accounted() -> bool:
        return (await client.usage())["totals"]["requests"] == 2

    await wait_until(accounted, within_s=30)
    usage = await client.usage()
    assert usage["tenant_id"] == tenant
    assert [m["model"] for m in usage["by_model"]] == ["local:extractive"]
    assert usage["totals"]["tokens_out"] > 0 and usage["spent_usd"] == 0
    assert (await api(f"other-{tenant}").usage())["totals"]["requests"] == 0


async def test_a_question_whose_request_was_lost_is_answered(settings, token, tenant, handbook, db):
    """A session committed without its request (the relay died with it) is handed to an
    orchestrator by the sweep once its lease runs out, and answered whole."""
    session_id = await unrelayed_session(db, tenant, "When is the lamp lit?", idle_s=3600)
    messages, code = await _messages(settings, token(tenant), str(session_id))
    assert code == 1000 and messages[-1]["type"] == "end"
    assert "sunset" in _text(messages)


QUESTION = "Who lights the lamp of the lighthouse, and when?"


async def _reference(settings, token, tenant, client) -> list[dict]:
    started = await client.chat(QUESTION)
    messages, _ = await _messages(settings, token(tenant), started["stream_session_id"])
    assert messages[-1]["type"] == "end" and len(messages) > 6
    return messages


async def _left_by_a_dead_orchestrator(settings, db, tenant, sent: list[dict]) -> uuid.UUID:
    """A session for QUESTION as an orchestrator that died left it: ``sent`` on the answers
    topic, the session answering, its lease run out."""
    session_id = await unrelayed_session(db, tenant, QUESTION, status="answering", attempts=1)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for message in sent:
            event = topics.AnswerEvent(
                tenant_id=tenant,
                session_id=str(session_id),
                seq=message["seq"],
                type=message["type"],
                at=datetime.now(UTC),
                content=message.get("content"),
            )
            await producer.send_and_wait(
                topics.ANSWERS, event.dumps(), key=event.kafka_key().encode(), headers=INJECTED
            )
    finally:
        await producer.stop()
    await db.execute(
        "UPDATE chat_sessions SET updated_at = now() - interval '1 hour' WHERE id = $1", session_id
    )
    return session_id


async def test_another_orchestrator_goes_on_from_the_last_token_sent(
    settings, token, tenant, handbook, db
):
    client, _ = handbook
    whole = await _reference(settings, token, tenant, client)
    sent = whole[:3]
    session_id = await _left_by_a_dead_orchestrator(settings, db, tenant, sent)
    messages, code = await _messages(settings, token(tenant), str(session_id))
    assert code == 1000
    assert [(m["seq"], m["type"], m.get("content")) for m in messages] == [
        (m["seq"], m["type"], m.get("content")) for m in whole
    ]
    found = await chat.get_session(db, tenant, session_id)
    assert found is not None and (found.status, found.attempts) == ("finished", 2)
    kept = await client.conversation(str(found.conversation_id))
    assert kept["messages"][-1]["content"] == _text(whole)


async def test_an_answer_that_cannot_go_on_the_same_way_ends_with_an_error(
    settings, token, tenant, handbook, db
):
    """A model that answers differently the second time (a remote one may) is not spliced onto
    what the client already has."""
    sent = [
        {"seq": 1, "type": "token", "content": "Nobody"},
        {"seq": 2, "type": "token", "content": " knows"},
    ]
    session_id = await _left_by_a_dead_orchestrator(settings, db, tenant, sent)
    messages, code = await _messages(settings, token(tenant), str(session_id))
    assert code == 1000
    assert [m.get("content") for m in messages[:2]] == ["Nobody", " knows"]
    assert messages[2:] == [
        {"type": "error", "seq": 3, "code": "answer_interrupted", "message": messages[2]["message"]}
    ]


async def test_an_answer_taken_over_too_often_ends_with_an_error(settings, token, tenant, db):
    session_id = await unrelayed_session(
        db,
        tenant,
        "lost question",
        status="answering",
        attempts=settings.chat_max_attempts,
        idle_s=3600,
    )
    messages, code = await _messages(settings, token(tenant), str(session_id))
    assert messages == [
        {"type": "error", "seq": 1, "code": "answer_interrupted", "message": messages[0]["message"]}
    ]
    assert code == 1000
    found = await chat.get_session(db, tenant, session_id)
    assert found is not None and found.status == "failed"
