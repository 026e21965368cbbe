"""web.telemetry on Quart's test client: one server span per request and socket, named by the
route; HTTP metrics labelled by the URL rule; the request id in the span, the handler and the
response. First on a tiny app instrumented the same way, then on the real app over PostgreSQL
alone (no Kafka: its lifespan is not run, the extensions it would set are set here)."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import REGISTRY
from quart import Quart, websocket

import pdfgen
from core import tracing
from core.logging import request_id
from retrieval import LocalEmbedder
from storage import embeddings, segments
from storage.segments import NewSegment
from tests.core.spans import named
from tests.rows import new_document
from tests.waiting import wait_until
from tests.web.files import pdf_file
from web.streams import AnswerStreams
from web.telemetry import UNMATCHED, instrument
from workflows import chat

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def requests(route: str, method: str, status: int) -> float:
    labels = {"route": route, "method": method, "status": str(status)}
    return REGISTRY.get_sample_value("pdfchat_http_requests_total", labels) or 0.0


def timed(route: str, method: str) -> float:
    labels = {"route": route, "method": method}
    return REGISTRY.get_sample_value("pdfchat_http_request_duration_seconds_count", labels) or 0.0


def searches(mode: str) -> float:
    return REGISTRY.get_sample_value("pdfchat_search_duration_seconds_count", {"mode": mode}) or 0


@pytest.fixture
def tiny() -> Quart:
    app = Quart("tiny")

    @app.get("/v1/things/<thing_id>")
    async def thing(thing_id: str):
        return {
            "thing": thing_id,
            "request_id": request_id.get(),
            "trace_id": tracing.current_trace_id(),
        }

    @app.get("/boom")
    async def boom():
        raise RuntimeError("boom")

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.websocket("/ws/<room>")
    async def socket(room: str):
        await websocket.accept()
        await websocket.send_json(
            {"request_id": request_id.get(), "trace_id": tracing.current_trace_id()}
        )

    return instrument(app)


async def test_a_request_is_one_span_and_one_count_by_its_route(tiny, spans) -> None:
    before = requests("/v1/things/<thing_id>", "GET", 200), timed("/v1/things/<thing_id>", "GET")
    response = await tiny.test_client().get("/v1/things/abc-1", headers={"X-Request-ID": "r-1"})
    body = await response.get_json()

    assert response.status_code == 200 and response.headers["X-Request-ID"] == "r-1"
    after = requests("/v1/things/<thing_id>", "GET", 200), timed("/v1/things/<thing_id>", "GET")
    assert after == (before[0] + 1, before[1] + 1)
    assert requests("/v1/things/abc-1", "GET", 200) == 0  # never the raw path
    (span,) = named(spans, "GET /v1/things/<thing_id>")
    assert span.kind is SpanKind.SERVER
    assert span.attributes["http.route"] == "/v1/things/<thing_id>"
    assert span.attributes["pdfchat.request_id"] == "r-1" == body["request_id"]
    assert body["trace_id"] == f"{span.context.trace_id:032x}"  # current inside the handler
    assert len(spans.get_finished_spans()) == 1  # no span per ASGI message


async def test_a_caller_trace_goes_on_and_a_missing_request_id_is_made(tiny, spans) -> None:
    response = await tiny.test_client().get("/v1/things/x", headers={"traceparent": TRACEPARENT})
    (span,) = named(spans, "GET /v1/things/<thing_id>")
    assert f"{span.context.trace_id:032x}" == TRACEPARENT.split("-")[1]
    assert span.parent is not None and f"{span.parent.span_id:016x}" == TRACEPARENT.split("-")[2]
    made = response.headers["X-Request-ID"]
    assert len(made) == 32 and span.attributes["pdfchat.request_id"] == made


async def test_unmatched_failed_and_probe_requests(tiny, spans) -> None:
    client = tiny.test_client()
    before = (
        requests(UNMATCHED, "GET", 404),
        requests("/boom", "GET", 500),
        requests("/healthz", "GET", 200),
        requests(UNMATCHED, "OTHER", 405),
    )
    assert (await client.get("/no/such/path/123")).status_code == 404
    assert (await client.get("/boom")).status_code == 500
    assert (await client.get("/healthz")).status_code == 200
    await client.open("/healthz", method="BREW")
    after = (
        requests(UNMATCHED, "GET", 404),
        requests("/boom", "GET", 500),
        requests("/healthz", "GET", 200),
        requests(UNMATCHED, "OTHER", 405),
    )
    assert after == tuple(n + 1 for n in before)

    names = [s.name for s in spans.get_finished_spans()]
    assert "GET /healthz" not in names  # probes are not traced
    (failed,) = named(spans, "GET /boom")
    assert failed.status.status_code is StatusCode.ERROR
    (unmatched,) = named(spans, "GET")  # never the raw path as a span name either
    assert "http.route" not in unmatched.attributes


async def test_a_socket_is_one_span_with_its_request_id(tiny, spans) -> None:
    async with tiny.test_client().websocket("/ws/lobby", headers={"X-Request-ID": "ws-1"}) as ws:
        message = await ws.receive_json()
    assert message["request_id"] == "ws-1"
    await wait_until(lambda: named(spans, "WS /ws/<room>"), within_s=5)
    (span,) = named(spans, "WS /ws/<room>")
    assert span.kind is SpanKind.SERVER and span.attributes["pdfchat.request_id"] == "ws-1"
    assert message["trace_id"] == f"{span.context.trace_id:032x}"


# ---------------------------------------------------------------------------------------------
# The real app


async def _seed(pg, tenant: str, texts: list[str]) -> None:
    """A document with segments and local vectors, as the parse and embed agents leave it."""
    doc = await new_document(pg, tenant, status="ready")
    embedder = LocalEmbedder()
    async with pg.acquire() as conn, conn.transaction():
        await segments.replace_for_document(
            conn, tenant, doc, [NewSegment(i, i + 1, t) for i, t in enumerate(texts)]
        )
        rows = await segments.texts(conn, tenant, doc)
        vectors = await embedder.embed_documents([content for _, content in rows])
        await embeddings.register_model(conn, embedder.model, embedder.dimension)
        await embeddings.replace_for_document(
            conn,
            tenant,
            doc,
            embedder.model,
            [(segment_id, v) for (segment_id, _), v in zip(rows, vectors, strict=True)],
        )
    await segments.index_postings(pg, tenant, doc)


async def test_a_search_request_traces_each_stage(app, auth, pg, spans) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    await _seed(
        pg,
        tenant,
        [
            "Refunds are paid within 14 days of the return.",
            "The warranty covers parts for two years.",
            "Shipping is free above 50 euros.",
        ],
    )
    before = requests("/v1/search", "POST", 200), searches("hybrid+rerank")
    response = await app.test_client().post(
        "/v1/search",
        json={"query": "how long do refunds take?", "top_k": 2},
        headers=auth(tenant, **{"X-Request-ID": "search-1"}),
    )
    results = (await response.get_json())["results"]

    assert response.status_code == 200 and "14 days" in results[0]["text"]
    assert (requests("/v1/search", "POST", 200), searches("hybrid+rerank")) == (
        before[0] + 1,
        before[1] + 1,
    )
    (server,) = named(spans, "POST /v1/search")
    (search,) = named(spans, "search")
    assert server.attributes["pdfchat.request_id"] == "search-1"
    assert search.parent.span_id == server.context.span_id
    assert (
        search.attributes["pdfchat.search.mode"],
        search.attributes["pdfchat.search.top_k"],
        search.attributes["pdfchat.search.hits"],
    ) == ("hybrid+rerank", 2, 2)
    stages = {
        name: named(spans, name)[0] for name in ("search.vector", "search.text", "search.rerank")
    }
    assert all(s.parent.span_id == search.context.span_id for s in stages.values())
    assert stages["search.rerank"].attributes["pdfchat.rerank.candidates"] == 3
    vector = stages["search.vector"].context.span_id
    (embed,) = [
        s
        for s in spans.get_finished_spans()
        if s.name.startswith("embed ") and s.parent and s.parent.span_id == vector
    ]
    assert embed.attributes["pdfchat.embedding.batch_size"] == 1
    assert embed.attributes["pdfchat.embedding.model"] == LocalEmbedder.model


async def test_an_upload_hands_its_trace_and_request_id_to_the_outbox(app, auth, pg, spans):
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    response = await app.test_client().post(
        "/v1/documents",
        files={"file": pdf_file(pdfgen.sample_pdf(1, seed=3))},
        headers=auth(tenant, **{"X-Request-ID": "upload-1", "traceparent": TRACEPARENT}),
    )
    assert response.status_code == 202, await response.get_data()
    document_id = (await response.get_json())["document_id"]

    rows = await pg.fetch(
        "SELECT topic, headers FROM outbox WHERE value->>'document_id' = $1", document_id
    )
    assert rows
    (server,) = named(spans, "POST /v1/documents")
    for row in rows:
        headers = row["headers"]
        assert headers["x-request-id"] == "upload-1"
        # The caller's trace, through the request's span, on to whoever relays the row.
        assert headers["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1]
        assert tracing.request_id_from(headers) == "upload-1"
    assert server.attributes["pdfchat.request_id"] == "upload-1"
    await pg.execute("DELETE FROM outbox WHERE value->>'document_id' = $1", document_id)


async def test_real_routes_are_labelled_by_rule(app, auth, spans) -> None:
    client = app.test_client()
    rule = "/v1/documents/<uuid:document_id>"
    before = requests(rule, "GET", 404), requests("/healthz", "GET", 200)
    missing = await client.get(f"/v1/documents/{uuid.uuid4()}", headers=auth("t-nobody"))
    assert missing.status_code == 404
    assert (await client.get("/healthz")).status_code == 200
    assert (requests(rule, "GET", 404), requests("/healthz", "GET", 200)) == (
        before[0] + 1,
        before[1] + 1,
    )
    assert [s.name for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER] == [
        f"GET {rule}"
    ]


def open_sockets() -> float:
    return REGISTRY.get_sample_value("pdfchat_websocket_connections") or 0.0


async def test_the_answer_socket_is_counted_while_open(app, auth, pg, spans) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    started = await chat.start(
        pg, chat.Question(tenant_id=tenant, user_id="tester", question="how long do refunds take?")
    )
    # Never caught up (no Kafka here): the socket waits for the answer stream, open.
    app.extensions["streams"] = AnswerStreams("127.0.0.1:1", retention_s=60)
    before = open_sockets()
    path = f"/v1/chat/stream/{started.session_id}"
    async with app.test_client().websocket(path, headers=auth(tenant, **{"X-Request-ID": "ws-2"})):
        await wait_until(lambda: open_sockets() == before + 1, within_s=5)
    assert open_sockets() == before  # the client left: the handler's finally ran
    (span,) = named(spans, "WS /v1/chat/stream/<session_id>")
    assert span.attributes["pdfchat.request_id"] == "ws-2"
    assert span.attributes["http.route"] == "/v1/chat/stream/<session_id>"


@pytest.mark.parametrize("given", ["", "x" * 129, "two words", "bad\u00e9", "a;b{c}"])
async def test_a_request_id_that_is_no_id_is_replaced(tiny, given) -> None:
    """The caller's id travels into logs and Kafka headers: only an id-like one is kept."""
    response = await tiny.test_client().get("/v1/things/x", headers={"X-Request-ID": given})
    made = response.headers["X-Request-ID"]
    assert made != given and len(made) == 32
    body = await response.get_json()
    assert body["request_id"] == made
