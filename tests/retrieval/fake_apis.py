"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI and Cohere v2 JSON
protocols for the official client libraries to work against it:

    POST /v1/embeddings   OpenAI embeddings (float or base64 encoding)
    POST /v2/embed        Cohere embed v2 (embeddings by type, float)
    POST /v2/rerank       Cohere rerank v2

Embeddings are deterministic pseudo-random vectors seeded by the text and deliberately *not*
unit length, so tests can see that the embedders normalise. Every request is recorded
(path, lower-cased headers, JSON body); ``fail(path, 429, 500, ...)`` makes the next requests
to a path answer with those statuses, ``fail_always`` makes every one fail, and ``delay_s``
holds each answer back (for timeouts).
"""

from __future__ import annotations

import base64
import hashlib
import json
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np

from tests.fake_server import API_KEY, Recorded, ScriptedServer

OPENAI_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072}
COHERE_DIMENSIONS = {"embed-english-v3.0": 1024, "embed-multilingual-v3.0": 1024}
# Any other model name gets vectors of this length (for dimension discovery).
OTHER_DIMENSION = 12
COHERE_MAX_TEXTS = 96


def fake_vector(text: str, dimension: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).normal(size=dimension) * 3.0).astype(np.float32).tolist()


class FakeAPIs(ScriptedServer):
    def __init__(self, *, api_key: str = API_KEY) -> None:
        super().__init__(_handler_for(self), api_key=api_key)
        self.delay_s = 0.0

    def calls(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- answering (runs in the server's threads) --------------------------------------------

    def answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict]:
        status = self.record(Recorded(path, headers, body), path)
        if self.delay_s:
            self._stop.wait(self.delay_s)
        openai = path.startswith("/v1/")
        if status is not None:
            return status, _error(openai, status, f"scripted failure {status}")
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, _error(openai, 401, "invalid api token")
        routes = {
            "/v1/embeddings": _openai_embeddings,
            "/v2/embed": _cohere_embed,
            "/v2/rerank": _cohere_rerank,
        }
        if path not in routes:
            return 404, _error(openai, 404, f"no route {path}")
        if not isinstance(body, dict):
            return 400, _error(openai, 400, "the body must be a JSON object")
        return routes[path](body)


def _error(openai: bool, status: int, message: str) -> dict:
    if openai:  # OpenAI's error envelope; the client reads error.message
        kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return {"id": "err", "message": message}  # Cohere's


def _openai_embeddings(body: dict) -> tuple[int, dict]:
    texts = body.get("input")
    model = body.get("model")
    if isinstance(texts, str):
        texts = [texts]
    if not model or not isinstance(texts, list) or not texts:
        return 400, _error(True, 400, "'input' and 'model' are required")
    if any(not isinstance(t, str) or not t for t in texts):
        return 400, _error(True, 400, "'input' cannot contain empty strings")
    dimension = OPENAI_DIMENSIONS.get(model, OTHER_DIMENSION)
    base64_wanted = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(texts):
        vector: Any = fake_vector(text, dimension)
        if base64_wanted:
            vector = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        data.append({"object": "embedding", "index": i, "embedding": vector})
    tokens = sum(len(t.split()) for t in texts)
    return 200, {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _cohere_embed(body: dict) -> tuple[int, dict]:
    texts, model = body.get("texts"), body.get("model")
    if not model or not isinstance(texts, list) or not texts:
        return 400, _error(False, 400, "model and texts are required")
    if len(texts) > COHERE_MAX_TEXTS:
        return 400, _error(False, 400, f"too many texts: at most {COHERE_MAX_TEXTS}")
    if body.get("input_type") not in (
        "search_document",
        "search_query",
        "classification",
        "clustering",
    ):
        return 400, _error(False, 400, "input_type is required for v3 models")
    dimension = COHERE_DIMENSIONS.get(model, OTHER_DIMENSION)
    return 200, {
        "id": "embed-1",
        "response_type": "embeddings_by_type",
        "embeddings": {"float": [fake_vector(t, dimension) for t in texts]},
        "texts": texts,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": len(texts)}},
    }


def _cohere_rerank(body: dict) -> tuple[int, dict]:
    query, documents, model = body.get("query"), body.get("documents"), body.get("model")
    if not model or not isinstance(query, str) or not isinstance(documents, list):
        return 400, _error(False, 400, "model, query and documents are required")
    words = set(query.lower().split())
    scores = [len(words & set(str(d).lower().split())) / max(len(words), 1) for d in documents]
    order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))
    top_n = body.get("top_n") or len(documents)
    results = [{"index": i, "relevance_score": scores[i]} for i in order[:top_n]]
    return 200, {
        "id": "rerank-1",
        "results": results,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    }


def _handler_for(apis: FakeAPIs) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the clients expect
        timeout = 10  # an idle kept-alive connection does not hold a thread forever

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"null")
            except json.JSONDecodeError:
                body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = apis.answer(self.path, headers, body)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read ``apis.requests`` instead."""

    return Handler
